package node

import (
	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/swarm"
)

// Failed and cancelled downloads are remembered by the swarm service
// (until fetched again or forgotten) through Finished, FinishedList and
// Forget, which arrive with the swarm's lifecycle rework. Until they are
// on this branch, the node reaches them through these interfaces, so it
// builds against either version of swarm and uses them once they exist.
//
// TODO(merge): call n.swarm.Finished/FinishedList/Forget directly and
// delete this file once swarm has them.

type finishedOne interface {
	Finished(root cid.Cid) (swarm.SessionStats, bool)
}

type finishedLister interface {
	FinishedList() []swarm.SessionStats
}

// finished returns the failed or cancelled download of root, if the
// service remembers one.
func finished(sw *swarm.Service, root cid.Cid) (swarm.SessionStats, bool) {
	if f, ok := any(sw).(finishedOne); ok {
		return f.Finished(root)
	}
	return swarm.SessionStats{}, false
}

// finishedList returns every failed or cancelled download remembered.
func finishedList(sw *swarm.Service) []swarm.SessionStats {
	if f, ok := any(sw).(finishedLister); ok {
		return f.FinishedList()
	}
	return nil
}

// forget clears root's failed or cancelled download; it reports whether
// there was one.
func forget(sw *swarm.Service, root cid.Cid) bool {
	if _, ok := finished(sw, root); !ok {
		return false
	}
	switch f := any(sw).(type) {
	case interface{ Forget(cid.Cid) }:
		f.Forget(root)
	case interface{ Forget(cid.Cid) error }:
		return f.Forget(root) == nil
	case interface{ Forget(cid.Cid) bool }:
		return f.Forget(root)
	default:
		return false
	}
	return true
}
