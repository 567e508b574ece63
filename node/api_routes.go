package node

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// This file is the node's whole HTTP surface: every route of the API and
// of the gateway, with its method, path and handler. The handlers live
// beside what they serve (the file is named on each group). s.handle
// routes a JSON handler, which returns a value to encode or an error;
// mux.HandleFunc routes one that writes its own answer (a stream, a page,
// bytes). Every API route sits behind authenticateWeb (api.go): the
// bearer token or a dashboard session.

// routes registers every API route on mux.
func (s *APIServer) routes(mux *http.ServeMux) {
	// Metrics, and Go's profiler as kubo offers it, behind the same token.
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.node.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)

	// The node and its peers (api.go).
	s.handle(mux, "GET /api/v0/id", s.id)
	s.handle(mux, "GET /api/v0/peers", s.peers)
	s.handle(mux, "POST /api/v0/connect", withBody(s.connect))

	// The DHT (api_dht.go).
	mux.HandleFunc("GET /api/v0/dht/findprovs", s.findProvs)
	s.handle(mux, "GET /api/v0/dht/peers", s.dhtPeers)
	s.handle(mux, "GET /api/v0/dht/stat", s.dhtStat)

	// Content (api_content.go) and CAR files (api_car.go).
	s.handle(mux, "POST /api/v0/share", withBody(s.share))
	s.handle(mux, "GET /api/v0/ls", s.ls)
	s.handle(mux, "POST /api/v0/rm", withBody(s.rm))
	mux.HandleFunc("GET /api/v0/cat", s.cat)
	mux.HandleFunc("GET /api/v0/export", s.exportCAR)
	mux.HandleFunc("POST /api/v0/import", s.importCAR)

	// The ledger (ledger.go) and names on it (names.go).
	s.handle(mux, "GET /api/v0/chain/wait", s.chainWait)
	s.handle(mux, "GET /api/v0/chain/status", s.chainStatus)
	s.handle(mux, "GET /api/v0/chain/block", s.block)
	s.handle(mux, "GET /api/v0/wallet/balance", s.balance)
	s.handle(mux, "POST /api/v0/send", withBody(bodyCall(s.node.Send)))
	s.handle(mux, "POST /api/v0/mine/start", withBody(s.startMining))
	s.handle(mux, "POST /api/v0/mine/stop", s.stopMining)
	s.handle(mux, "GET /api/v0/mine/status", s.miningStatus)
	s.handle(mux, "POST /api/v0/publish", withBody(s.publish))
	s.handle(mux, "GET /api/v0/verify", s.verify)
	s.handle(mux, "GET /api/v0/resolve", s.resolve)

	// Payment channels (api_channels.go).
	s.handle(mux, "GET /api/v0/channel/list", s.listChannels)
	s.handle(mux, "POST /api/v0/channel/open", withBody(bodyCall(s.node.OpenChannel)))
	s.handle(mux, "POST /api/v0/channel/close", withBody(bodyCall(s.node.CloseChannel)))
	s.handle(mux, "POST /api/v0/channel/refund", withBody(bodyCall(s.node.RefundChannel)))
	s.handle(mux, "POST /api/v0/channel/topup", withBody(bodyCall(s.node.TopupChannel)))
	s.handle(mux, "POST /api/v0/channel/pay", withBody(bodyCall(s.node.PayChannel)))
	s.handle(mux, "POST /api/v0/channel/accept", withBody(bodyCall(s.node.AcceptVoucher)))

	// Fetches and the swarm (fetch.go).
	mux.HandleFunc("POST /api/v0/fetch", s.fetch)
	s.handle(mux, "GET /api/v0/swarm/stats", s.swarmStats)
	s.handle(mux, "GET /api/v0/stat", s.stat)
	s.handle(mux, "POST /api/v0/swarm/limits", withBody(bodyCall(s.node.SetLimits)))
	s.handle(mux, "POST /api/v0/cancel", withBody(s.cancelFetch))

	// The web dashboard (api_webui.go): its page and assets, its session,
	// and what only it asks for.
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /ui/{file}", s.uiFile)
	s.handle(mux, "POST /api/v0/webui/login", s.newLogin)
	s.handle(mux, "GET /api/v0/webui/session", s.session)
	s.handle(mux, "POST /api/v0/webui/logout", s.logout)
	mux.HandleFunc("GET /api/v0/webui/events", s.events)
	mux.HandleFunc("POST /api/v0/webui/upload", s.upload)
	mux.HandleFunc("GET /api/v0/webui/content", s.content)
	s.handle(mux, "POST /api/v0/webui/fetch", withBody(s.detachedFetch))
	s.handle(mux, "POST /api/v0/peers/ban", withBody(s.ban))

	// The daemon (api_daemon.go).
	s.handle(mux, "POST /api/v0/shutdown", s.requestShutdown)
	s.handle(mux, "POST /api/v0/gc", s.gc)
	s.handle(mux, "GET /api/v0/stats/bw", s.bandwidth)
	s.handle(mux, "GET /api/v0/log", s.logStatus)
	s.handle(mux, "POST /api/v0/log/level", withBody(s.setLogLevel))

	// Anything else is a JSON 404 (api.go).
	mux.HandleFunc("/", notFound)
}

// routes registers the gateway's routes (gateway.go): read-only, on its
// own listener, without a token.
func (g *Gateway) routes(mux *http.ServeMux) {
	mux.HandleFunc("/ipfs/", g.serve)
	mux.HandleFunc("/{$}", about)
}
