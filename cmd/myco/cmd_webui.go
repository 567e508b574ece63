package main

import (
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/myco-p2p/myco/node"
)

// cmdWebUI prints (and with --open opens) a one-time login link to the
// daemon's web dashboard.
func cmdWebUI() *command {
	var open *bool
	return &command{
		name:    "webui",
		summary: "print a one-time login link to the web dashboard (--open opens it in the browser)",
		flags: func(fs *flag.FlagSet) {
			open = fs.Bool("open", false, "open the link in the default browser")
		},
		run: func(e *env, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			var login node.LoginURL
			if err := c.Do(e.ctx, http.MethodPost, "/api/v0/webui/login", nil, &login); err != nil {
				return fmt.Errorf("webui: %w", err)
			}
			if e.json {
				if err := e.printJSON(login); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(e.stdout, login.URL)
				fmt.Fprintf(e.stderr, "open this link in a browser on this machine; it works once, until %s\n",
					time.Unix(login.Expires, 0).Format(time.Kitchen))
			}
			if *open {
				if err := openBrowser(login.URL); err != nil {
					return fmt.Errorf("webui: open the browser: %w (open the link above by hand)", err)
				}
			}
			return nil
		},
	}
}
