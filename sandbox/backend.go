package sandbox

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrUnknownBackend means a backend name is not one of Backends.
	ErrUnknownBackend = errors.New("unknown sandbox backend")
	// ErrUnavailable means the host lacks the backend a run requires; the
	// run does not start (fail closed).
	ErrUnavailable = errors.New("sandbox backend not available on this host")
	// ErrSpec means a Spec is incomplete or contradictory.
	ErrSpec = errors.New("invalid sandbox spec")
)

// Backend names a way of confining an agent.
type Backend string

const (
	// Auto picks the strongest backend the host has (the default).
	Auto Backend = ""
	// None confines nothing beyond the process group, environment and
	// rlimits; only an explicit "none" in a manifest selects it.
	None Backend = "none"
	// Landlock restricts the filesystem with the Landlock LSM: the agent
	// writes only to its worktree and temporary directory and reads
	// nothing of the hidden paths; with Landlock ABI 4 or later, TCP
	// connections and binds are refused unless the network is allowed.
	Landlock Backend = "landlock"
	// Bwrap runs the agent under bubblewrap: a read-only root, a writable
	// worktree and temporary directory, hidden paths replaced by empty
	// directories, no network unless allowed, its own pid namespace.
	Bwrap Backend = "bwrap"
)

// Backends lists the explicit backends, weakest first.
var Backends = []Backend{None, Landlock, Bwrap}

// ParseBackend reads a backend name; "" and "auto" mean Auto.
func ParseBackend(s string) (Backend, error) {
	switch s {
	case "", "auto":
		return Auto, nil
	}
	for _, b := range Backends {
		if string(b) == s {
			return b, nil
		}
	}
	names := make([]string, len(Backends))
	for i, b := range Backends {
		names[i] = string(b)
	}
	return "", fmt.Errorf("%w %q (want auto, %s)", ErrUnknownBackend, s, strings.Join(names, ", "))
}

// String is the name, "auto" for Auto.
func (b Backend) String() string {
	if b == Auto {
		return "auto"
	}
	return string(b)
}

// rank orders backends by strength.
func (b Backend) rank() int {
	for i, x := range Backends {
		if x == b {
			return i
		}
	}
	return -1
}
