package sandbox

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Helper is the sandbox helper's body: args are what follows HelperArg
// (the spec, "--", the agent's argv). It joins the cgroups, sets the
// rlimits, applies the backend and executes the agent with this process's
// environment (which the runner made the agent's). It returns only when
// something failed; then the agent never ran.
func Helper(args []string) error {
	if len(args) < 3 || args[1] != "--" {
		return fmt.Errorf("%w: usage: %s <spec> -- <argv…>", ErrSpec, HelperArg)
	}
	var hs helperSpec
	if err := json.Unmarshal([]byte(args[0]), &hs); err != nil {
		return fmt.Errorf("%w: %v", ErrSpec, err)
	}
	argv := args[2:]
	pid := []byte(strconv.Itoa(os.Getpid()))
	for _, f := range hs.Cgroups {
		if err := os.WriteFile(f, pid, 0); err != nil {
			return fmt.Errorf("sandbox: join cgroup: %w", err)
		}
	}
	env := os.Environ()
	if hs.Backend == Bwrap {
		// Limits and the environment are set by the helper's second run,
		// inside the sandbox.
		_, hadPWD := os.LookupEnv("PWD")
		inner, err := json.Marshal(helperSpec{Backend: None, Limits: hs.Limits, RlimitAS: hs.RlimitAS, Inner: true, DropPWD: !hadPWD})
		if err != nil {
			return err
		}
		argv = append([]string{hs.Self, HelperArg, string(inner), "--"}, argv...)
	} else if err := setRlimits(hs.Limits, hs.RlimitAS); err != nil {
		return err
	}
	if hs.DropPWD {
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PWD=") })
	}
	switch hs.Backend {
	case Landlock:
		if err := applyLandlock(hs); err != nil {
			return err
		}
	case Bwrap:
		if len(hs.Bwrap) == 0 || hs.Self == "" {
			return fmt.Errorf("%w: bwrap backend without a bwrap command", ErrSpec)
		}
		argv = append(append([]string(nil), hs.Bwrap...), argv...)
	case None:
	default:
		return fmt.Errorf("%w %q", ErrUnknownBackend, hs.Backend)
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return fmt.Errorf("sandbox: %s: %w", path, err)
		}
		path = p
	}
	err := syscall.Exec(path, argv, env)
	return fmt.Errorf("sandbox: exec %s: %w", path, err)
}

// setRlimits lowers this process's limits (never raises one above its
// hard limit). Memory becomes RLIMIT_AS only when as is set: with a cgroup
// memory controller the run's memory is capped there, which counts
// resident memory rather than address space (runtimes such as V8 reserve
// far more address space than they use).
func setRlimits(l Limits, as bool) error {
	set := func(name string, res int, soft, hard uint64) error {
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err != nil {
			return fmt.Errorf("sandbox: getrlimit %s: %w", name, err)
		}
		hard = min(hard, cur.Max)
		soft = min(soft, hard)
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: soft, Max: hard}); err != nil {
			return fmt.Errorf("sandbox: setrlimit %s: %w", name, err)
		}
		return nil
	}
	if l.CPU > 0 {
		secs := uint64(math.Ceil(l.CPU.Seconds()))
		// SIGXCPU at the soft limit, SIGKILL a few seconds later.
		if err := set("cpu", unix.RLIMIT_CPU, secs, secs+5); err != nil {
			return err
		}
	}
	if l.Memory > 0 && as {
		if err := set("as", unix.RLIMIT_AS, uint64(l.Memory), uint64(l.Memory)); err != nil {
			return err
		}
	}
	if l.Processes > 0 {
		if err := set("nproc", unix.RLIMIT_NPROC, uint64(l.Processes), uint64(l.Processes)); err != nil {
			return err
		}
	}
	if l.FileSize > 0 {
		if err := set("fsize", unix.RLIMIT_FSIZE, uint64(l.FileSize), uint64(l.FileSize)); err != nil {
			return err
		}
	}
	if l.OpenFiles > 0 {
		if err := set("nofile", unix.RLIMIT_NOFILE, uint64(l.OpenFiles), uint64(l.OpenFiles)); err != nil {
			return err
		}
	}
	return nil
}
