package sandbox

import (
	"sync"
)

// Status says whether one backend can be used on this host.
type Status struct {
	Backend   Backend `json:"backend"`
	Available bool    `json:"available"`
	// Detail describes what was found ("landlock ABI 7", "bwrap 0.8.0 at
	// /usr/bin/bwrap"); Reason says why a backend is not available.
	Detail string `json:"detail,omitempty"`
	Reason string `json:"reason,omitempty"`
	// ABI is the Landlock ABI version (0 for the other backends).
	ABI int `json:"abi,omitempty"`
}

// Report is what the host offers: the backends, weakest first, the one
// Auto picks, and the cgroup hierarchy runs get limits from.
type Report struct {
	Backends []Status     `json:"backends"`
	Default  Backend      `json:"default"`
	Cgroup   CgroupStatus `json:"cgroup"`
}

var (
	availOnce sync.Once
	avail     []Status
)

// Available reports each backend, weakest first. The host is probed once
// per process (bwrap by running it on /bin/true, Landlock by asking the
// kernel for its ABI).
func Available() []Status {
	availOnce.Do(func() { avail = probe() })
	return append([]Status(nil), avail...)
}

// Host reports what this host offers, for `daemon status` and `doctor`.
func Host() Report {
	r := Report{Backends: Available(), Cgroup: Cgroups()}
	if b, err := Resolve(Auto, true); err == nil {
		r.Default = b
	} else {
		r.Default = None
	}
	return r
}
