package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/myco-p2p/myco/chunker"
	"github.com/myco-p2p/myco/internal/logdedup"
)

// shutdownGrace bounds a daemon's shutdown: the issue allows 5 s in all, so
// the API gets most of it and the rest is for stores and the host.
const shutdownGrace = 3 * time.Second

// DaemonOptions are the command-line overrides of a daemon.
type DaemonOptions struct {
	Listen    []string
	Bootstrap []string
	API       string // overrides the config's API address when set
	LogLevel  string // overrides the config's log level when set
	LogFile   string // overrides the config's log file when set
	Mine      int    // mining threads to start with; 0 does not mine
	// MaxUpload and MaxDownload override the config's rate limits when set.
	MaxUpload, MaxDownload string
	// Price overrides the config's channels.price when set.
	Price  string
	Stdout io.Writer
	Stderr io.Writer
}

// RunDaemon runs a node on the repo at path until ctx ends, then shuts it
// down: it takes the repo lock, starts the node and its API, writes the api
// and api.token files, prints "daemon ready", and on the way out removes the
// api file and releases the lock.
func RunDaemon(ctx context.Context, path string, opts DaemonOptions) error {
	repo, err := OpenRepo(path)
	if err != nil {
		return err
	}
	level := repo.Config.LogLevel
	if opts.LogLevel != "" {
		level = opts.LogLevel
	}
	lvl, err := ParseLogLevel(level)
	if err != nil {
		return err
	}
	ctl := newDaemonControl()
	ctl.level.Set(lvl)
	logOut := opts.Stderr
	if ctl.logFile = repo.LogFilePath(opts.LogFile); ctl.logFile != "" {
		lf, err := openLogFile(ctl.logFile, LogFileMaxMB)
		if err != nil {
			return err
		}
		defer lf.Close()
		logOut = lf
	}
	// A warning repeated for one cause is logged once, then counted at most
	// once a minute, across the whole daemon.
	dedup := logdedup.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: ctl.level}), logdedup.Options{})
	defer dedup.Flush(context.Background())
	log := slog.New(dedup)
	apiAddr := repo.Config.API
	if opts.API != "" {
		apiAddr = opts.API
	}
	if apiAddr == "" {
		apiAddr = DefaultAPIAddr
	}
	if _, err := ParseAPIAddr(apiAddr); err != nil {
		return err
	}

	if opts.MaxUpload != "" {
		repo.Config.Limits.MaxUpload = opts.MaxUpload
	}
	if opts.MaxDownload != "" {
		repo.Config.Limits.MaxDownload = opts.MaxDownload
	}
	if opts.Price != "" {
		repo.Config.Channels.Price = opts.Price
		if err := repo.Config.Channels.validate(); err != nil {
			return fmt.Errorf("--price: %w", err)
		}
	}
	lock, err := repo.Lock()
	if err != nil {
		return err
	}
	defer lock.Close()

	listen := repo.Config.Listen
	if len(opts.Listen) > 0 {
		listen = opts.Listen
	}
	if err := checkListenFree(listen); err != nil {
		return err
	}
	if err := checkAPIFree(apiAddr); err != nil {
		return err
	}
	tuneGC(log)
	n, err := New(repo, Options{Logger: log, Listen: opts.Listen, Bootstrap: opts.Bootstrap})
	if err != nil {
		return err
	}
	if opts.Mine > 0 {
		if err := n.StartMining(opts.Mine); err != nil {
			n.Close()
			return err
		}
	}
	token, err := NewToken()
	if err != nil {
		n.Close()
		return err
	}
	api, err := listenAPI(n, apiAddr, token, ctl)
	if err != nil {
		n.Close()
		return err
	}
	// The token is written before the address: a client that finds the
	// api file always finds the matching token.
	if err := writeFileAtomic(repo.File(TokenFile), []byte(token+"\n"), 0o600); err != nil {
		return errors.Join(err, shutdown(api, nil, n))
	}
	if err := writeFileAtomic(repo.File(APIFile), []byte(api.Addr()+"\n"), 0o600); err != nil {
		return errors.Join(err, shutdown(api, nil, n))
	}
	defer os.Remove(repo.File(APIFile))
	var gw *Gateway
	if addr := repo.Config.GatewayAddr(); addr != "" {
		if gw, err = ListenGateway(n, addr, repo.Config.GatewayFetch); err != nil {
			return errors.Join(err, shutdown(api, nil, n))
		}
		if err := writeFileAtomic(repo.File(GatewayFile), []byte(gw.Addr()+"\n"), 0o600); err != nil {
			return errors.Join(err, shutdown(api, gw, n))
		}
		defer os.Remove(repo.File(GatewayFile))
		log.Info("gateway listening", "addr", gw.Addr(), "fetch", repo.Config.GatewayFetch)
	}

	id := n.ID()
	fmt.Fprintf(opts.Stdout, "daemon ready: peer %s, network %s, api %s, addrs %s\n",
		id.ID, id.Network, api.Addr(), strings.Join(id.Addrs, " "))
	log.Info("daemon ready", "peer", id.ID, "api", api.Addr())
	log.Info("downloads: " + chunker.DirectIO)

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case <-api.ShutdownRequested():
		log.Info("shutting down: asked through the API")
	case err := <-api.done:
		// The API server died under us; say why and stop.
		api.done <- err
		log.Error("api server stopped", "err", err)
	}
	return shutdown(api, gw, n)
}

// shutdown stops the API, the gateway (if any) and the node.
func shutdown(api *APIServer, gw *Gateway, n *Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var gwErr error
	if gw != nil {
		gwErr = gw.Shutdown(ctx)
	}
	return errors.Join(api.Shutdown(ctx), gwErr, n.Close())
}
