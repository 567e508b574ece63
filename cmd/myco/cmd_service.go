package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/myco-p2p/myco/node"
)

// `myco service ...` installs the daemon of the repo as a service of the
// current user (internal/service says how on each system) and controls it.

// serviceManager returns the system's service manager for the env's repo.
func serviceManager(e *env) (node.ServiceManager, node.ServiceSpec, error) {
	repo, err := node.OpenRepo(e.repo)
	if err != nil {
		return nil, node.ServiceSpec{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, node.ServiceSpec{}, fmt.Errorf("find the myco binary: %w", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	spec := node.ServiceSpec{Exe: exe, Repo: repo.Path, LogFile: repo.File(node.DefaultLogFile)}
	m, err := node.NewServiceManager(spec)
	return m, spec, err
}

func serviceCommand(name, summary string, act func(e *env, m node.ServiceManager, spec node.ServiceSpec) error) *command {
	return &command{
		name:    "service " + name,
		summary: summary,
		run: func(e *env, _ []string) error {
			m, spec, err := serviceManager(e)
			if err != nil {
				return err
			}
			return act(e, m, spec)
		},
	}
}

func cmdServiceInstall() *command {
	return serviceCommand("install", "install the daemon of this repo as a service of the current user, start it, and start it at every login (Windows: a system service, from an administrator shell)",
		func(e *env, m node.ServiceManager, spec node.ServiceSpec) error {
			if daemonRunning(e) {
				return fmt.Errorf("a daemon is already running on %s: stop it first ('myco shutdown'), then install the service", spec.Repo)
			}
			if err := m.Install(); err != nil {
				return err
			}
			st, _ := m.Status()
			fmt.Fprintf(e.stdout, "installed the myco service for %s", spec.Repo)
			if st.File != "" {
				fmt.Fprintf(e.stdout, " (%s)", st.File)
			}
			fmt.Fprintf(e.stdout, "\nit is started now and at every login; it logs to %s ('myco log tail')\n", spec.LogFile)
			if runtime.GOOS == "linux" {
				fmt.Fprintln(e.stdout, "to keep it running while you are logged out: loginctl enable-linger $USER")
			}
			return nil
		})
}

func cmdServiceUninstall() *command {
	return serviceCommand("uninstall", "stop the service and remove it (the repo is kept)",
		func(e *env, m node.ServiceManager, _ node.ServiceSpec) error {
			if err := m.Uninstall(); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "the myco service is stopped and removed")
			return nil
		})
}

func cmdServiceStart() *command {
	return serviceCommand("start", "start the installed service",
		func(e *env, m node.ServiceManager, _ node.ServiceSpec) error {
			if err := m.Start(); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "the myco service is starting ('myco service status', 'myco log tail')")
			return nil
		})
}

func cmdServiceStop() *command {
	return serviceCommand("stop", "stop the installed service (it starts again at the next login)",
		func(e *env, m node.ServiceManager, _ node.ServiceSpec) error {
			if err := m.Stop(); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "the myco service is stopping")
			return nil
		})
}

func cmdServiceStatus() *command {
	return serviceCommand("status", "say whether the service is installed and running",
		func(e *env, m node.ServiceManager, _ node.ServiceSpec) error {
			st, err := m.Status()
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(st)
			}
			fmt.Fprintln(e.stdout, st)
			if st.File != "" {
				fmt.Fprintf(e.stdout, "file: %s\n", st.File)
			}
			if st.Detail != "" && st.Detail != "running" {
				fmt.Fprintf(e.stdout, "state: %s\n", st.Detail)
			}
			return nil
		})
}
