package service

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// New returns the manager of this system: the Windows service manager.
func New(spec Spec) (Manager, error) { return &winService{spec: spec}, nil }

type winService struct{ spec Spec }

// windowsConfig is the service's configuration: started with Windows,
// its command line from WindowsCommandLine.
func windowsConfig(spec Spec) mgr.Config {
	return mgr.Config{
		ServiceType:    windows.SERVICE_WIN32_OWN_PROCESS,
		StartType:      mgr.StartAutomatic,
		ErrorControl:   mgr.ErrorNormal,
		BinaryPathName: WindowsCommandLine(spec),
		DisplayName:    "myco",
		Description:    spec.Description(),
	}
}

func connect() (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return nil, errors.New("the Windows service manager refused: run this from an administrator shell")
		}
		return nil, fmt.Errorf("connect to the Windows service manager: %w", err)
	}
	return m, nil
}

func (w *winService) open() (*mgr.Mgr, *mgr.Service, error) {
	m, err := connect()
	if err != nil {
		return nil, nil, err
	}
	s, err := m.OpenService(Name)
	if err != nil {
		m.Disconnect()
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return nil, nil, ErrNotInstalled
		}
		return nil, nil, err
	}
	return m, s, nil
}

func (w *winService) Install() error {
	m, err := connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	if s, err := m.OpenService(Name); err == nil { // installing again replaces it
		s.Control(svc.Stop)
		err = s.Delete()
		s.Close()
		if err != nil {
			return fmt.Errorf("service install: remove the old service: %w", err)
		}
	}
	cfg := windowsConfig(w.spec)
	s, err := m.CreateService(Name, w.spec.Exe, cfg)
	if err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	defer s.Close()
	// The command line is set whole, as WindowsCommandLine quotes it.
	if err := s.UpdateConfig(cfg); err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	recovery := []mgr.RecoveryAction{{Type: mgr.ServiceRestart, Delay: 5 * time.Second}}
	if err := s.SetRecoveryActions(recovery, 24*60*60); err != nil {
		return fmt.Errorf("service install: restart on failure: %w", err)
	}
	return s.Start()
}

func (w *winService) Uninstall() error {
	m, s, err := w.open()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	s.Control(svc.Stop) // a service that is not running cannot be stopped: fine
	return s.Delete()
}

func (w *winService) Start() error {
	m, s, err := w.open()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	return s.Start()
}

func (w *winService) Stop() error {
	m, s, err := w.open()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	_, err = s.Control(svc.Stop)
	return err
}

func (w *winService) Status() (Status, error) {
	m, s, err := w.open()
	if errors.Is(err, ErrNotInstalled) {
		return Status{}, nil
	} else if err != nil {
		return Status{}, err
	}
	defer m.Disconnect()
	defer s.Close()
	q, err := s.Query()
	if err != nil {
		return Status{Installed: true}, err
	}
	st := Status{Installed: true, Running: q.State == svc.Running}
	switch q.State {
	case svc.Stopped:
		st.Detail = "stopped"
	case svc.StartPending:
		st.Detail = "starting"
	case svc.StopPending:
		st.Detail = "stopping"
	case svc.Running:
		st.Detail = "running"
	}
	return st, nil
}
