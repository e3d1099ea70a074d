package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// HelperArg is the hidden first argument with which git-covenant runs as
// the sandbox helper: `git-covenant __sandbox-exec <spec> -- <argv…>`. The
// helper joins the run's cgroup, sets the rlimits, applies Landlock (or
// hands over to bwrap) and then executes the agent, so that every limit is
// in force before the agent's first instruction (Go has no pre-exec hook
// in os/exec). See docs/adr for why a re-exec rather than prlimit(2) on a
// started pid.
const HelperArg = "__sandbox-exec"

// Spec says how to confine one run. Paths are absolute.
type Spec struct {
	// Backend is the backend asked for; Auto picks the strongest the host
	// has. A named backend the host lacks fails Prepare (fail closed).
	Backend Backend `json:"backend"`
	// Writable are the directories the agent may write: its worktree, its
	// temporary directory, and what git needs to commit from a worktree
	// (see GitWritable). Everything else is read-only.
	Writable []string `json:"writable"`
	// Hidden are the paths the agent must not read at all: the identity
	// keystore, the daemon's state (.git/covenant), the directory holding
	// every run's private directory. Where writable and hidden paths nest,
	// the deeper one wins: a hidden path inside a writable one stays
	// hidden, and a writable path inside a hidden one (this run's own
	// directory among the others') is writable and nothing else of the
	// hidden one shows. A path both writable and hidden is refused.
	Hidden []string `json:"hidden"`
	// Sockets are unix sockets the agent may connect to even inside a
	// hidden directory: the daemon's gateway, through which the agent acts
	// with its run token.
	Sockets []string `json:"sockets,omitempty"`
	// Network allows network access; without it bwrap gives the agent a
	// network namespace of its own (loopback only) and Landlock (ABI 4+)
	// refuses TCP connect and bind.
	Network bool `json:"network"`
	// Limits are the resource limits (rlimits, and cgroup limits where a
	// cgroup hierarchy is writable).
	Limits Limits `json:"limits"`
}

// Options are the host facts Prepare uses; the zero value finds them.
type Options struct {
	// Self is the git-covenant executable that serves as the helper
	// (os.Executable() when empty).
	Self string
	// CgroupRoot, when set, is the directory under which run cgroups are
	// made ("" finds one, "-" disables cgroups).
	CgroupRoot string
}

// Plan is a prepared confinement: the argv to start instead of the
// agent's, and what to clean up after the run.
type Plan struct {
	Backend Backend
	// Argv runs the helper, which confines itself and executes the agent.
	Argv []string
	// Cgroup is the run's cgroup, nil when none could be made.
	Cgroup *Cgroup
}

// helperSpec is what the helper reads from its argv.
type helperSpec struct {
	Backend  Backend  `json:"backend"`
	Writable []string `json:"writable,omitempty"`
	Hidden   []string `json:"hidden,omitempty"`
	Sockets  []string `json:"sockets,omitempty"`
	Network  bool     `json:"network,omitempty"`
	Limits   Limits   `json:"limits"`
	// Cgroups are the cgroup.procs files the helper writes itself into.
	Cgroups []string `json:"cgroups,omitempty"`
	// Bwrap is the bubblewrap argv (up to "--") when Backend is Bwrap.
	Bwrap []string `json:"bwrap,omitempty"`
	// RlimitAS says whether Memory is applied as RLIMIT_AS (no cgroup
	// memory controller).
	RlimitAS bool `json:"rlimit_as,omitempty"`
	// Self is the helper's executable: under bwrap the helper runs again
	// inside the sandbox, so that the rlimits bind the agent and not
	// bwrap's own set-up, and to take out the PWD bwrap adds.
	Self string `json:"self,omitempty"`
	// Inner marks that second run; DropPWD says the agent's environment
	// had no PWD.
	Inner   bool `json:"inner,omitempty"`
	DropPWD bool `json:"drop_pwd,omitempty"`
}

// Prepare resolves spec on this host and returns the Plan that runs argv
// confined. It fails with ErrUnavailable when the backend asked for (or,
// for Auto, every backend but None) is missing, and with ErrSpec when the
// paths do not make sense. Close the Plan after the run.
func Prepare(spec Spec, argv []string, o Options) (*Plan, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: no command", ErrSpec)
	}
	b, err := Resolve(spec.Backend, !spec.Network)
	if err != nil {
		return nil, err
	}
	clean := func(ps []string, what string) ([]string, error) {
		out := make([]string, 0, len(ps))
		for _, p := range ps {
			if !filepath.IsAbs(p) {
				return nil, fmt.Errorf("%w: %s path %q is not absolute", ErrSpec, what, p)
			}
			if r, err := filepath.EvalSymlinks(p); err == nil {
				p = r
			} else if !os.IsNotExist(err) {
				return nil, fmt.Errorf("%w: %s path %q: %v", ErrSpec, what, p, err)
			} else if what != "hidden" {
				return nil, fmt.Errorf("%w: %s path %q does not exist", ErrSpec, what, p)
			} else {
				continue // nothing there to hide
			}
			out = append(out, filepath.Clean(p))
		}
		return out, nil
	}
	writable, err := clean(spec.Writable, "writable")
	if err != nil {
		return nil, err
	}
	hidden, err := clean(spec.Hidden, "hidden")
	if err != nil {
		return nil, err
	}
	sockets, err := clean(spec.Sockets, "socket")
	if err != nil {
		return nil, err
	}
	for _, s := range sockets {
		if fi, err := os.Stat(s); err != nil || fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%w: %s is not a unix socket", ErrSpec, s)
		}
	}
	for _, w := range writable {
		for _, h := range hidden {
			if w == h {
				return nil, fmt.Errorf("%w: %s is both writable and hidden", ErrSpec, w)
			}
		}
	}
	self := o.Self
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("%w: cannot find the helper executable: %v", ErrSpec, err)
		}
	}
	for _, h := range hidden {
		if within(self, h) {
			return nil, fmt.Errorf("%w: the helper %s is inside hidden %s", ErrSpec, self, h)
		}
	}
	hs := helperSpec{Backend: b, Writable: writable, Hidden: hidden, Sockets: sockets, Network: spec.Network, Limits: spec.Limits}
	plan := &Plan{Backend: b}
	if o.CgroupRoot != "-" {
		cg, err := newCgroup(o.CgroupRoot, spec.Limits)
		if err != nil {
			return nil, err
		}
		if cg != nil {
			plan.Cgroup = cg
			hs.Cgroups = cg.procsFiles()
		}
	}
	hs.RlimitAS = spec.Limits.Memory > 0 && (plan.Cgroup == nil || !plan.Cgroup.memory)
	if b == Bwrap {
		path, err := bwrapPath()
		if err != nil {
			plan.Close()
			return nil, err
		}
		hs.Bwrap = bwrapArgs(path, append(append([]string(nil), writable...), sockets...), hidden, spec.Network)
		hs.Self = self
	}
	js, err := json.Marshal(hs)
	if err != nil {
		plan.Close()
		return nil, err
	}
	plan.Argv = append([]string{self, HelperArg, string(js), "--"}, argv...)
	return plan, nil
}

// Kill kills every process of the run that is still in its cgroup (none
// without a cgroup): give it to the runner as Command.Kill, so what left
// the process group dies with it.
func (p *Plan) Kill() {
	if p != nil && p.Cgroup != nil {
		p.Cgroup.Kill()
	}
}

// Close removes what Prepare made (the run's cgroup, once it is empty).
func (p *Plan) Close() error {
	if p == nil || p.Cgroup == nil {
		return nil
	}
	return p.Cgroup.Remove()
}

// Resolve picks the backend for b on this host: Auto is the strongest
// available; an explicit backend must be available. noNetwork says the
// run must not reach the network, which Landlock can only enforce from
// ABI 4 on.
func Resolve(b Backend, noNetwork bool) (Backend, error) {
	if b != Auto && b.rank() < 0 {
		return "", fmt.Errorf("%w %q", ErrUnknownBackend, b)
	}
	if b == None {
		return None, nil
	}
	st := Available()
	usable := func(s Status) (bool, string) {
		if !s.Available {
			return false, s.Reason
		}
		if s.Backend == Landlock && noNetwork && s.ABI < 4 {
			return false, fmt.Sprintf("landlock ABI %d cannot refuse network connections (ABI 4 can); allow the network or use bwrap", s.ABI)
		}
		return true, ""
	}
	if b != Auto {
		for _, s := range st {
			if s.Backend == b {
				if ok, why := usable(s); !ok {
					return "", fmt.Errorf("%w: %s: %s", ErrUnavailable, b, why)
				}
				return b, nil
			}
		}
		return "", fmt.Errorf("%w: %s", ErrUnavailable, b)
	}
	var reasons []string
	for i := len(st) - 1; i >= 0; i-- {
		s := st[i]
		if s.Backend == None {
			continue
		}
		if ok, why := usable(s); ok {
			return s.Backend, nil
		} else {
			reasons = append(reasons, string(s.Backend)+": "+why)
		}
	}
	return "", fmt.Errorf("%w: no confining backend (%s); name sandbox.backend = \"none\" in the manifest to run unconfined", ErrUnavailable, strings.Join(reasons, "; "))
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	if dir == "/" {
		return true
	}
	return strings.HasPrefix(p, dir+"/")
}

// GitWritable makes sure the directories git writes to when committing on
// branch (refs/heads/<branch>) from a linked worktree exist, and returns
// them: the object store, the worktree's administrative directory, and
// the branch's ref and reflog directories. commonDir is the repository's
// .git; adminDir is .git/worktrees/<name>. With these and the worktree
// writable, an agent commits on its branch and writes nothing else of
// .git (no other ref, no config, no hooks).
func GitWritable(commonDir, adminDir, branch string) ([]string, error) {
	dir := filepath.Dir(filepath.FromSlash(branch))
	ds := []string{
		filepath.Join(commonDir, "objects"),
		adminDir,
		filepath.Join(commonDir, "refs", "heads", dir),
		filepath.Join(commonDir, "logs", "refs", "heads", dir),
	}
	for _, d := range ds {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return ds, nil
}
