package sandbox

import (
	"os"
)

// bwrapArgs is the bubblewrap command line (up to and including "--") for
// a run: the host's root read-only, fresh /dev and /proc, every namespace
// of its own (the network shared only when allowed), no capabilities, a
// new session (no terminal injection), killed when its parent dies; the
// writable paths bound read-write; each hidden directory covered by an
// empty tmpfs and each hidden file by /dev/null. Mounts apply in order,
// so a hidden path inside a writable one stays hidden.
func bwrapArgs(path string, writable, hidden []string, network bool) []string {
	a := []string{path,
		"--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL",
		"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
	}
	if network {
		a = append(a, "--share-net")
	}
	for _, w := range writable {
		a = append(a, "--bind", w, w)
	}
	for _, h := range hidden {
		fi, err := os.Stat(h)
		switch {
		case err != nil:
			continue
		case fi.IsDir():
			a = append(a, "--tmpfs", h, "--remount-ro", h)
		default:
			a = append(a, "--ro-bind", "/dev/null", h)
		}
	}
	return append(a, "--")
}
