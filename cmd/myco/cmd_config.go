package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/myco-p2p/myco/node"
)

// `myco config show|get|set|edit` read and change config.json without a
// daemon. A change is checked with the rules the daemon applies at start
// and written atomically (a temporary file renamed over the old one); a
// running daemon keeps its settings until it restarts, and the command
// says so.

func cmdConfigShow() *command {
	return &command{
		name:    "config show",
		summary: "print config.json (checked as at start)",
		run: func(e *env, _ []string) error {
			repo, err := node.OpenRepo(e.repo)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(repo.Config)
			}
			b, err := os.ReadFile(repo.File(node.ConfigFile))
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		},
	}
}

func cmdConfigGet() *command {
	return &command{
		name:    "config get",
		args:    "KEY",
		summary: "print one setting (keys as in config.json, sections joined with dots: limits.max_upload)",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			repo, err := node.OpenRepo(e.repo)
			if err != nil {
				return err
			}
			v, err := node.ConfigValue(repo.Config, args[0])
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]string{"key": args[0], "value": v})
			}
			fmt.Fprintln(e.stdout, v)
			return nil
		},
	}
}

func cmdConfigSet() *command {
	return &command{
		name:    "config set",
		args:    "KEY VALUE",
		summary: "change one setting, checked as at start; lists as JSON or comma-separated",
		minArgs: 2, maxArgs: 2,
		run: func(e *env, args []string) error {
			repo, err := node.OpenRepo(e.repo)
			if err != nil {
				return err
			}
			cfg, err := node.SetConfigValue(repo.Config, args[0], args[1])
			if err != nil {
				return fmt.Errorf("config not changed: %w", err)
			}
			if err := cfg.Save(repo.File(node.ConfigFile)); err != nil {
				return err
			}
			v, _ := node.ConfigValue(cfg, args[0])
			if e.json {
				return e.printJSON(map[string]any{"key": args[0], "value": v, "restart_needed": daemonRunning(e)})
			}
			fmt.Fprintf(e.stdout, "%s = %s\n%s\n", args[0], v, restartNote(e, args[0]))
			return nil
		},
	}
}

func cmdConfigEdit() *command {
	return &command{
		name:    "config edit",
		summary: "edit config.json in $VISUAL or $EDITOR; saved only if it passes the start-up checks",
		run: func(e *env, _ []string) error {
			repo, err := node.OpenRepo(e.repo)
			if err != nil {
				return err
			}
			path := repo.File(node.ConfigFile)
			old, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			tmp, err := os.CreateTemp(repo.Path, "config-edit-*.json")
			if err != nil {
				return fmt.Errorf("config edit: %w", err)
			}
			_, werr := tmp.Write(old)
			if cerr := tmp.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(tmp.Name())
				return fmt.Errorf("config edit: %w", werr)
			}
			if err := runEditor(e, tmp.Name()); err != nil {
				os.Remove(tmp.Name())
				return err
			}
			edited, err := os.ReadFile(tmp.Name())
			if err != nil {
				return fmt.Errorf("config edit: %w", err)
			}
			if bytes.Equal(edited, old) {
				os.Remove(tmp.Name())
				fmt.Fprintln(e.stdout, "config.json unchanged")
				return nil
			}
			cfg, err := node.LoadConfig(tmp.Name())
			if err != nil {
				// The edit is kept: nothing the user typed is lost.
				return fmt.Errorf("config.json unchanged: the edit does not pass the start-up checks (%w); it is kept in %s", err, tmp.Name())
			}
			if err := cfg.Save(path); err != nil {
				return err
			}
			os.Remove(tmp.Name())
			fmt.Fprintf(e.stdout, "config.json saved\n%s\n", restartNote(e, ""))
			return nil
		},
	}
}

// runEditor opens path in the user's editor and waits for it. $VISUAL or
// $EDITOR may hold arguments ("code --wait"), so on Unix it goes through
// the shell, as git does.
func runEditor(e *env, path string) error {
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	var cmd *exec.Cmd
	switch {
	case runtime.GOOS == "windows":
		if editor == "" {
			editor = "notepad"
		}
		f := strings.Fields(editor)
		cmd = exec.CommandContext(e.ctx, f[0], append(f[1:], path)...)
	default:
		if editor == "" {
			editor = "vi"
		}
		cmd = exec.CommandContext(e.ctx, "sh", "-c", editor+` "$1"`, "sh", path)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, e.stdout, e.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("config edit: the editor %q failed (%w); config.json is unchanged (set $EDITOR to choose another)", editor, err)
	}
	return nil
}

// daemonRunning reports whether a daemon answers on the repo.
func daemonRunning(e *env) bool {
	c, err := e.client()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	_, err = c.ID(ctx)
	return err == nil
}

// restartNote says when a changed setting takes effect.
func restartNote(e *env, key string) string {
	if !daemonRunning(e) {
		return "the daemon uses it at its next start"
	}
	note := "the running daemon uses it after a restart ('myco shutdown', then 'myco daemon')"
	if live := node.LiveConfigCommand(key); live != "" {
		note += "; '" + live + "' changes it now"
	}
	return note
}
