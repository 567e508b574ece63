package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	mycodht "github.com/myco-p2p/myco/dht"
)

// Defaults of `myco dht findprovs`: like kubo's `routing findprovs`, stop
// after 20 providers; and never run longer than a minute.
const (
	defaultFindProvs    = 20
	defaultFindTimeout  = time.Minute
	maxFindProvsTimeout = 10 * time.Minute
)

// ProviderInfo is one provider of a root: its peer id and addresses.
type ProviderInfo struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// DHTPeer is one entry of the routing table.
type DHTPeer struct {
	ID string `json:"id"`
}

func providerInfo(ai peer.AddrInfo) ProviderInfo {
	p := ProviderInfo{ID: ai.ID.String(), Addrs: []string{}}
	for _, a := range ai.Addrs {
		p.Addrs = append(p.Addrs, a.String())
	}
	return p
}

// FindProviders streams the providers of root c to found, each once, until
// num were found (0: no limit), the lookup ends or ctx does.
func (n *Node) FindProviders(ctx context.Context, c string, num int, found func(ProviderInfo) error) error {
	root, err := ParseCID(c)
	if err != nil {
		return err
	}
	ch, err := n.dht.FindProviders(ctx, root, mycodht.FindOptions{Limit: num})
	if err != nil {
		return err
	}
	for ai := range ch {
		if err := found(providerInfo(ai)); err != nil {
			// Drain so the lookup's goroutines end promptly.
			for range ch {
			}
			return err
		}
	}
	return nil
}

func (s *APIServer) dhtPeers(*http.Request) (any, error) {
	out := []DHTPeer{}
	for _, p := range s.node.dht.Peers() {
		out = append(out, DHTPeer{ID: p.String()})
	}
	return out, nil
}

func (s *APIServer) dhtStat(r *http.Request) (any, error) { return s.node.dht.Stats(r.Context()) }

// findProvs answers GET /api/v0/dht/findprovs?cid=C[&num=N][&timeout=D] with
// newline-delimited JSON, one ProviderInfo per line, flushed as each
// provider is found.
func (s *APIServer) findProvs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := q.Get("cid")
	if _, err := ParseCID(c); err != nil {
		s.fail(w, "/api/v0/dht/findprovs", badRequest(err))
		return
	}
	num := defaultFindProvs
	if v := q.Get("num"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, "/api/v0/dht/findprovs", badRequest(fmt.Errorf("num %q: want a whole number >= 0", v)))
			return
		}
		num = n
	}
	timeout := defaultFindTimeout
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxFindProvsTimeout {
			s.fail(w, "/api/v0/dht/findprovs", badRequest(fmt.Errorf("timeout %q: want a duration up to %v", v, maxFindProvsTimeout)))
			return
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	err := s.node.FindProviders(ctx, c, num, func(p ProviderInfo) error {
		if err := enc.Encode(p); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	s.requests.WithLabelValues("/api/v0/dht/findprovs", "200").Inc()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		s.log.Warn("findprovs", "cid", c, "err", err)
	}
}
