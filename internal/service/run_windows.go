package service

import (
	"context"

	"golang.org/x/sys/windows/svc"
)

// RunDaemon runs run as the Windows service when the service manager
// started this process, ending its context when the manager says stop or
// shutdown; elsewhere it just calls run(ctx).
func RunDaemon(ctx context.Context, run func(context.Context) error) error {
	if is, err := svc.IsWindowsService(); err != nil || !is {
		return run(ctx)
	}
	h := &handler{run: run, ctx: ctx}
	if err := svc.Run(Name, h); err != nil {
		return err
	}
	return h.err
}

type handler struct {
	ctx context.Context
	run func(context.Context) error
	err error
}

func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	status <- svc.Status{State: svc.StartPending}
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case h.err = <-done:
			status <- svc.Status{State: svc.Stopped}
			if h.err != nil {
				return false, 1 // a failure: the manager's recovery restarts it
			}
			return false, 0
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				cancel()
			}
		}
	}
}
