package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func probe() []Status {
	return []Status{
		{Backend: None, Available: true, Detail: "process group, environment allow-list, rlimits"},
		probeLandlock(),
		probeBwrap(),
	}
}

// landlockABI asks the kernel for its Landlock ABI version; 0 when it has
// none (not built in, or not enabled at boot).
func landlockABI() int {
	const versionFlag = 1 // LANDLOCK_CREATE_RULESET_VERSION
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, versionFlag)
	if errno != 0 {
		return 0
	}
	return int(v)
}

func probeLandlock() Status {
	abi := landlockABI()
	if abi <= 0 {
		return Status{Backend: Landlock, Reason: "the kernel has no Landlock (not built in, or not in the lsm= boot list)"}
	}
	return Status{Backend: Landlock, Available: true, ABI: abi, Detail: fmt.Sprintf("landlock ABI %d", abi)}
}

// bwrapDirs is where bwrap is looked for: the system's directories, never
// a PATH an agent or a user could have changed.
var bwrapDirs = []string{"/usr/bin", "/bin", "/usr/local/bin"}

func bwrapPath() (string, error) {
	for _, d := range bwrapDirs {
		p := d + "/bwrap"
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: bwrap: bubblewrap is not installed (looked in %s)", ErrUnavailable, strings.Join(bwrapDirs, ", "))
}

func probeBwrap() Status {
	path, err := bwrapPath()
	if err != nil {
		return Status{Backend: Bwrap, Reason: "bubblewrap is not installed (scripts/deps.sh installs it)"}
	}
	truePath := "/bin/true"
	if _, err := os.Stat(truePath); err != nil {
		truePath = "/usr/bin/true"
	}
	// The probe runs the same confinement a run gets, network off.
	args := bwrapArgs(path, nil, nil, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], append(args[1:], truePath)...)
	cmd.Env = []string{}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = err.Error()
		}
		return Status{Backend: Bwrap, Reason: "bwrap is installed but cannot make a sandbox here: " + msg}
	}
	version := ""
	if b, err := exec.CommandContext(ctx, path, "--version").Output(); err == nil {
		version = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), "bubblewrap"))
	}
	return Status{Backend: Bwrap, Available: true, Detail: strings.TrimSpace("bwrap " + version + " at " + path)}
}
