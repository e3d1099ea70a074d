package sandbox

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/landlock-lsm/go-landlock/landlock"
)

// landlockConfig is the library's configuration for the kernel's ABI (the
// newest the library knows when the kernel is newer).
func landlockConfig(abi int) (landlock.Config, error) {
	cfgs := []landlock.Config{landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5, landlock.V6, landlock.V7,
		landlock.V8, landlock.V9, landlock.V10, landlock.V11}
	if abi < 1 {
		return landlock.Config{}, fmt.Errorf("%w: landlock", ErrUnavailable)
	}
	return cfgs[min(abi, len(cfgs))-1], nil
}

// devices agents write to whatever the rules say.
var landlockDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"}

// applyLandlock restricts this process (all its threads) and what it
// executes: read and execute everything but the hidden paths, write only
// the writable ones; with the network not allowed, no TCP connect or bind
// (ABI 4+); from ABI 6, no signals to and no abstract unix sockets of
// processes outside the sandbox (the daemon).
//
// Landlock only grants, it cannot subtract: "everything but a hidden
// path" is granted as every sibling of each directory on the way down to
// it. An ancestor of a hidden path is therefore not listable itself, and
// entries made there after the start are not reachable: the safe side.
func applyLandlock(hs helperSpec) error {
	abi := landlockABI()
	cfg, err := landlockConfig(abi)
	if err != nil {
		return err
	}
	roDirs, roFiles := around("/", hs.Hidden)
	var rwDirs, rwFiles []string
	for _, w := range hs.Writable {
		// Only what is hidden below a writable path is cut out of it: a
		// writable path inside a hidden one is granted (the deeper wins).
		var below []string
		for _, h := range hs.Hidden {
			if h != w && within(h, w) {
				below = append(below, h)
			}
		}
		d, f := around(w, below)
		rwDirs, rwFiles = append(rwDirs, d...), append(rwFiles, f...)
	}
	var rules []landlock.Rule
	if len(roDirs) > 0 {
		rules = append(rules, landlock.RODirs(roDirs...))
	}
	if len(roFiles) > 0 {
		rules = append(rules, landlock.ROFiles(roFiles...))
	}
	if len(rwDirs) > 0 {
		r := landlock.RWDirs(rwDirs...)
		if abi >= 2 {
			r = r.WithRefer() // rename and link across the worktree's directories
		}
		if abi >= 9 {
			r = r.WithResolveUnix() // its own sockets (a test server in the worktree)
		}
		rules = append(rules, r)
	}
	if len(rwFiles) > 0 {
		rules = append(rules, landlock.RWFiles(rwFiles...))
	}
	for _, d := range landlockDevices {
		if !hiddenPath(d, hs.Hidden) {
			rules = append(rules, landlock.RWFiles(d).IgnoreIfMissing())
		}
	}
	if abi >= 9 {
		// From ABI 9 connecting to a named unix socket is a right of its
		// own; below, Landlock does not restrict it.
		for _, sock := range hs.Sockets {
			rules = append(rules, landlock.PathAccess(0, sock).WithResolveUnix())
		}
	}
	if !hiddenPath("/dev/pts", hs.Hidden) {
		rules = append(rules, landlock.RWDirs("/dev/pts").IgnoreIfMissing())
	}
	if err := cfg.RestrictPaths(rules...); err != nil {
		return fmt.Errorf("sandbox: landlock paths: %w", err)
	}
	if !hs.Network {
		if abi < 4 {
			return fmt.Errorf("%w: landlock ABI %d cannot refuse network connections", ErrUnavailable, abi)
		}
		if err := cfg.RestrictNet(); err != nil {
			return fmt.Errorf("sandbox: landlock network: %w", err)
		}
	}
	if abi >= 6 {
		if err := cfg.RestrictScoped(); err != nil {
			return fmt.Errorf("sandbox: landlock scope: %w", err)
		}
	}
	return nil
}

func hiddenPath(p string, hidden []string) bool {
	for _, h := range hidden {
		if within(p, h) {
			return true
		}
	}
	return false
}

// around returns the directories and files that together cover root
// without covering any hidden path: root itself when nothing hidden is
// below it, else, recursively, its entries other than the hidden ones. A
// symbolic link is followed (Landlock grants on what a path resolves to)
// and left out when its target is hidden or holds a hidden path.
func around(root string, hidden []string) (dirs, files []string) {
	var below []string
	for _, h := range hidden {
		if within(root, h) {
			return nil, nil
		}
		if within(h, root) {
			below = append(below, h)
		}
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, nil
	}
	if len(below) == 0 {
		if fi.IsDir() {
			return []string{root}, nil
		}
		return nil, []string{root}
	}
	if !fi.IsDir() {
		return nil, nil
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, nil // unreadable: grant nothing below
	}
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			t, err := filepath.EvalSymlinks(p)
			if err != nil {
				continue
			}
			bad := false
			for _, h := range hidden {
				bad = bad || within(t, h) || within(h, t)
			}
			if bad {
				continue
			}
		}
		d, f := around(p, below)
		dirs, files = append(dirs, d...), append(files, f...)
	}
	return dirs, files
}
