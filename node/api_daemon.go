package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// The daemon's own controls, beside the node's API: stop it (`myco
// shutdown`), and read or change its logging (`myco log`). They change
// nothing on disk: a level set here lasts until the daemon stops.

// daemonControl is what the API can ask of the daemon that runs it.
type daemonControl struct {
	level    *slog.LevelVar
	logFile  string // "" when the daemon logs to stderr
	stopOnce sync.Once
	stop     chan struct{} // closed by a shutdown request
}

func newDaemonControl() *daemonControl {
	return &daemonControl{level: new(slog.LevelVar), stop: make(chan struct{})}
}

// LogInfo is GET /api/v0/log: the daemon's log level and file.
type LogInfo struct {
	Level string `json:"level"`
	// File is where the daemon logs; "" means its stderr.
	File string `json:"file"`
}

// LogLevelRequest is the body of POST /api/v0/log/level.
type LogLevelRequest struct {
	Level string `json:"level"`
}

// ShutdownResponse is the answer to POST /api/v0/shutdown.
type ShutdownResponse struct {
	Stopping bool `json:"stopping"`
}

// requestShutdown tells the daemon to stop; it answers before it has.
func (s *APIServer) requestShutdown(*http.Request) (any, error) {
	s.daemon.stopOnce.Do(func() { close(s.daemon.stop) })
	return ShutdownResponse{Stopping: true}, nil
}

func (s *APIServer) gc(r *http.Request) (any, error) { return s.node.GC(r.Context()) }

func (s *APIServer) bandwidth(*http.Request) (any, error) { return s.node.Bandwidth(), nil }

func (s *APIServer) logStatus(*http.Request) (any, error) { return s.logInfo(), nil }

func (s *APIServer) setLogLevel(_ *http.Request, req LogLevelRequest) (any, error) {
	lvl, err := ParseLogLevel(req.Level)
	if err != nil {
		return nil, badRequest(err)
	}
	s.daemon.level.Set(lvl)
	s.log.Info("log level changed", "level", levelName(lvl))
	return s.logInfo(), nil
}

func (s *APIServer) logInfo() LogInfo {
	return LogInfo{Level: levelName(s.daemon.level.Level()), File: s.daemon.logFile}
}

// ShutdownRequested is closed when a client asks the daemon to stop.
func (s *APIServer) ShutdownRequested() <-chan struct{} { return s.daemon.stop }

// levelName is a level as config.json writes it.
func levelName(l slog.Level) string { return strings.ToLower(l.String()) }

// Shutdown asks the daemon to stop; it returns once the daemon has
// accepted, before it has stopped.
func (c *Client) Shutdown(ctx context.Context) error {
	var out ShutdownResponse
	if err := c.Do(ctx, http.MethodPost, "/api/v0/shutdown", struct{}{}, &out); err != nil {
		return err
	}
	if !out.Stopping {
		return fmt.Errorf("the daemon did not accept to stop")
	}
	return nil
}

// LogInfo asks the daemon for its log level and file.
func (c *Client) LogInfo(ctx context.Context) (LogInfo, error) {
	var out LogInfo
	return out, c.Do(ctx, http.MethodGet, "/api/v0/log", nil, &out)
}

// SetLogLevel changes the running daemon's log level (not config.json).
func (c *Client) SetLogLevel(ctx context.Context, level string) (LogInfo, error) {
	var out LogInfo
	return out, c.Do(ctx, http.MethodPost, "/api/v0/log/level", LogLevelRequest{Level: level}, &out)
}
