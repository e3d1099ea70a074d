package sandbox

import (
	"os"
	"sort"
	"strings"
)

// bwrapArgs is the bubblewrap command line (up to and including "--") for
// a run: the host's root read-only, fresh /dev and /proc, every namespace
// of its own (the network shared only when allowed), no capabilities, a
// new session (no terminal injection), killed when its parent dies; the
// writable paths bound read-write; each hidden directory covered by an
// empty tmpfs and each hidden file by /dev/null. Mounts apply in order,
// deepest last, so the deeper of two nested paths wins.
func bwrapArgs(path string, writable, hidden []string, network bool) []string {
	a := []string{path,
		"--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL",
		"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
	}
	if network {
		a = append(a, "--share-net")
	}
	// Deeper mounts go later, so the deeper of nested writable and hidden
	// paths wins; at one depth, hidden after writable.
	type mount struct {
		path   string
		hidden bool
	}
	var ms []mount
	for _, w := range writable {
		ms = append(ms, mount{w, false})
	}
	for _, h := range hidden {
		ms = append(ms, mount{h, true})
	}
	sort.SliceStable(ms, func(i, j int) bool {
		di, dj := strings.Count(ms[i].path, "/"), strings.Count(ms[j].path, "/")
		if di != dj {
			return di < dj
		}
		return !ms[i].hidden && ms[j].hidden
	})
	// Hidden directories turn read-only last, once the writable paths
	// inside them are mounted (the remount does not reach those).
	var remount []string
	for _, m := range ms {
		if !m.hidden {
			a = append(a, "--bind", m.path, m.path)
			continue
		}
		fi, err := os.Stat(m.path)
		switch {
		case err != nil:
			continue
		case fi.IsDir():
			a = append(a, "--tmpfs", m.path)
			remount = append(remount, "--remount-ro", m.path)
		default:
			a = append(a, "--ro-bind", "/dev/null", m.path)
		}
	}
	a = append(a, remount...)
	return append(a, "--")
}
