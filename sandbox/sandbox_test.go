package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/runner"
	"github.com/git-covenant/git-covenant/sandbox"
	"golang.org/x/sys/unix"
)

// The test binary is also the sandbox helper (as git-covenant is) and the
// agent that probes what it may do.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.HelperArg {
		err := sandbox.Helper(os.Args[2:])
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(126)
	}
	if os.Getenv("SANDBOX_PROBE") != "" {
		probe()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type probeConfig struct {
	Write   []string
	Read    []string
	List    []string
	Connect string
	Unix    string // a unix socket to connect to
}

type probeReport struct {
	Wrote   map[string]string // path: "" when it worked, else the error
	Read    map[string]string
	Listed  map[string]string
	Connect string
	Unix    string
	Env     []string
	Limits  map[string]uint64
	Cgroup  string
}

func probe() {
	var c probeConfig
	json.Unmarshal([]byte(os.Getenv("SANDBOX_PROBE")), &c)
	r := probeReport{Wrote: map[string]string{}, Read: map[string]string{}, Listed: map[string]string{}, Limits: map[string]uint64{}}
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	for _, p := range c.Write {
		r.Wrote[p] = errText(os.WriteFile(p, []byte("agent was here"), 0o644))
	}
	for _, p := range c.Read {
		_, err := os.ReadFile(p)
		r.Read[p] = errText(err)
	}
	for _, p := range c.List {
		es, err := os.ReadDir(p)
		if err == nil && len(es) > 0 {
			r.Listed[p] = ""
		} else if err == nil {
			r.Listed[p] = "empty"
		} else {
			r.Listed[p] = err.Error()
		}
	}
	if c.Connect != "" {
		conn, err := net.DialTimeout("tcp", c.Connect, 2*time.Second)
		if err == nil {
			conn.Close()
		}
		r.Connect = errText(err)
	}
	if c.Unix != "" {
		conn, err := net.DialTimeout("unix", c.Unix, 2*time.Second)
		if err == nil {
			conn.Close()
		}
		r.Unix = errText(err)
	}
	r.Env = os.Environ()
	for name, res := range map[string]int{"cpu": unix.RLIMIT_CPU, "as": unix.RLIMIT_AS, "nproc": unix.RLIMIT_NPROC, "fsize": unix.RLIMIT_FSIZE, "nofile": unix.RLIMIT_NOFILE} {
		var l unix.Rlimit
		unix.Getrlimit(res, &l)
		r.Limits[name] = l.Cur
	}
	b, _ := os.ReadFile("/proc/self/cgroup")
	r.Cgroup = string(b)
	json.NewEncoder(os.Stdout).Encode(r)
}

// world is a worktree, a run temp dir, a directory outside both, a
// keystore with a key in it, and a daemon state directory, as a run sees
// them.
type world struct {
	worktree, tmp, outside, keystore, key, state, stateFile string
	// viaLink is the key through a symbolic link, beside the hidden
	// paths' ancestors, to the directory that holds the keystore.
	viaLink string
	// runs holds every run's private directory: this run's (tmp) and
	// another's, with that run's token.
	runs, otherToken string
	// gateway is the daemon's socket, inside its hidden state directory.
	gateway string
}

func newWorld(t *testing.T) world {
	base := t.TempDir()
	w := world{
		worktree: filepath.Join(base, "repo-wt"),
		tmp:      filepath.Join(base, "runs", "this-run"),
		runs:     filepath.Join(base, "runs"),
		outside:  filepath.Join(base, "outside"),
		keystore: filepath.Join(base, "home", ".config", "git-covenant"),
		state:    filepath.Join(base, "repo", ".git", "covenant"),
	}
	w.otherToken = filepath.Join(w.runs, "other-run", "token")
	for _, d := range []string{w.worktree, w.tmp, w.outside, filepath.Join(w.keystore, "identities", "agent"), w.state, filepath.Dir(w.otherToken)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	w.key = filepath.Join(w.keystore, "identities", "agent", "key")
	w.stateFile = filepath.Join(w.state, "daemon.token")
	os.WriteFile(w.key, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n"), 0o600)
	os.WriteFile(w.stateFile, []byte("run token hashes"), 0o600)
	os.WriteFile(w.otherToken, []byte("another run's token"), 0o600)
	w.gateway = filepath.Join(w.state, "gw.sock")
	ln, err := net.Listen("unix", w.gateway)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if err := os.Symlink(filepath.Join(base, "home"), filepath.Join(base, "homelink")); err != nil {
		t.Fatal(err)
	}
	w.viaLink = filepath.Join(base, "homelink", ".config", "git-covenant", "identities", "agent", "key")
	return w
}

func (w world) spec(b sandbox.Backend) sandbox.Spec {
	return sandbox.Spec{Backend: b, Writable: []string{w.worktree, w.tmp}, Hidden: []string{w.keystore, w.state, w.runs}, Sockets: []string{w.gateway}}
}

// run starts the probe confined by spec through the runner, as the daemon
// does, and returns its report.
func run(t *testing.T, spec sandbox.Spec, cfg probeConfig, extraEnv ...string) (*probeReport, *sandbox.Plan) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sandbox.Prepare(spec, []string{exe}, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plan.Close() })
	cj, _ := json.Marshal(cfg)
	env := append([]string{"PATH=/usr/bin:/bin", "SANDBOX_PROBE=" + string(cj)}, extraEnv...)
	res, err := runner.Run(context.Background(), runner.Command{Argv: plan.Argv, Env: env, Dir: spec.Writable[0], Timeout: time.Minute, Kill: plan.Kill})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("probe under %s exited %d: %s", plan.Backend, res.ExitCode, res.Tail)
	}
	var rep probeReport
	if err := json.Unmarshal(res.Tail, &rep); err != nil {
		t.Fatalf("probe output %q: %v", res.Tail, err)
	}
	return &rep, plan
}

func require(t *testing.T, b sandbox.Backend) {
	t.Helper()
	for _, s := range sandbox.Available() {
		if s.Backend == b && !s.Available {
			t.Skipf("%s is not available on this host: %s", b, s.Reason)
		}
	}
}

// Under landlock and bwrap the agent writes its worktree and temp dir (its
// own among the hidden directory of all runs) and nothing else, cannot
// read the keystore (not even through /proc/self/root or a symbolic link),
// the daemon's state or another run's token, cannot reach a server on the
// host, and sees
// only the environment it was given. Under an explicit none it can do all
// of that, which shows the probe would notice a confinement that failed.
func TestConfinement(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, b := range []sandbox.Backend{sandbox.None, sandbox.Landlock, sandbox.Bwrap} {
		t.Run(string(b), func(t *testing.T) {
			require(t, b)
			w := newWorld(t)
			cfg := probeConfig{
				Write:   []string{filepath.Join(w.worktree, "ok"), filepath.Join(w.tmp, "ok"), filepath.Join(w.outside, "no"), filepath.Join(w.state, "no"), filepath.Join(w.runs, "no")},
				Read:    []string{w.key, "/proc/self/root" + w.key, w.viaLink, w.stateFile, w.otherToken, "/etc/hostname"},
				List:    []string{filepath.Join(w.keystore, "identities"), w.state},
				Connect: ln.Addr().String(),
				Unix:    w.gateway,
			}
			rep, plan := run(t, w.spec(b), cfg, "LANG=C.UTF-8")
			if plan.Backend != b {
				t.Fatalf("backend %s, want %s", plan.Backend, b)
			}
			for _, p := range []string{filepath.Join(w.worktree, "ok"), filepath.Join(w.tmp, "ok")} {
				if rep.Wrote[p] != "" {
					t.Errorf("writing %s: %s", p, rep.Wrote[p])
				}
			}
			if rep.Read["/etc/hostname"] != "" && !strings.Contains(rep.Read["/etc/hostname"], "no such file") {
				t.Errorf("reading the read-only root: %s", rep.Read["/etc/hostname"])
			}
			confined := b != sandbox.None
			denied := func(what, result string) {
				t.Helper()
				if confined && result == "" {
					t.Errorf("%s: allowed under %s", what, b)
				}
				if !confined && result != "" {
					t.Errorf("%s: refused under none (%s), so the probe proves nothing", what, result)
				}
			}
			denied("write outside the worktree", rep.Wrote[filepath.Join(w.outside, "no")])
			denied("write the daemon's state", rep.Wrote[filepath.Join(w.state, "no")])
			denied("write beside this run's directory", rep.Wrote[filepath.Join(w.runs, "no")])
			denied("read the keystore", rep.Read[w.key])
			denied("read the keystore through /proc/self/root", rep.Read["/proc/self/root"+w.key])
			denied("read the keystore through a symbolic link", rep.Read[w.viaLink])
			denied("read the daemon's state", rep.Read[w.stateFile])
			denied("read another run's token", rep.Read[w.otherToken])
			denied("list the keystore", rep.Listed[filepath.Join(w.keystore, "identities")])
			denied("connect to 127.0.0.1", rep.Connect)
			if rep.Unix != "" {
				t.Errorf("the daemon's socket, inside the hidden state, is unreachable: %s", rep.Unix)
			}
			env := slices.Clone(rep.Env)
			slices.Sort(env)
			if len(env) != 3 || env[0] != "LANG=C.UTF-8" || env[1] != "PATH=/usr/bin:/bin" || !strings.HasPrefix(env[2], "SANDBOX_PROBE=") {
				t.Errorf("environment: %q", env)
			}
		})
	}
}

// With network allowed, bwrap shares the host's network.
func TestBwrapNetworkAllowed(t *testing.T) {
	require(t, sandbox.Bwrap)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	w := newWorld(t)
	spec := w.spec(sandbox.Bwrap)
	spec.Network = true
	rep, _ := run(t, spec, probeConfig{Connect: ln.Addr().String()})
	if rep.Connect != "" {
		t.Fatalf("connect with network allowed: %s", rep.Connect)
	}
}

// The limits are in force in the agent before its first instruction,
// under every backend.
func TestLimitsApplyBeforeExec(t *testing.T) {
	for _, b := range []sandbox.Backend{sandbox.None, sandbox.Landlock, sandbox.Bwrap} {
		t.Run(string(b), func(t *testing.T) {
			require(t, b)
			w := newWorld(t)
			spec := w.spec(b)
			spec.Limits = sandbox.Limits{CPU: 90 * time.Second, FileSize: 4 << 20, OpenFiles: 128, Processes: 4096, Memory: 3 << 30}
			rep, plan := run(t, spec, probeConfig{})
			want := map[string]uint64{"cpu": 90, "fsize": 4 << 20, "nofile": 128, "nproc": 4096}
			if !plan.Cgroup.MemoryLimited() {
				// Without a cgroup memory controller, memory is address space.
				want["as"] = 3 << 30
			}
			for k, v := range want {
				if rep.Limits[k] != v {
					t.Errorf("rlimit %s = %d, want %d", k, rep.Limits[k], v)
				}
			}
		})
	}
}

// A run in a cgroup is killed as a whole: a process that left the group
// with setsid is still in the cgroup, and Close kills it.
func TestCgroupHoldsWhatLeftTheGroup(t *testing.T) {
	st := sandbox.Cgroups()
	if st.Version == "" {
		t.Skipf("no writable cgroup hierarchy: %s", st.Reason)
	}
	w := newWorld(t)
	plan, err := sandbox.Prepare(w.spec(sandbox.None), []string{"sh", "-c", "setsid sh -c 'echo $$ > pid; exec sleep 1000' & while [ ! -s pid ]; do sleep 0.01; done"}, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	if plan.Cgroup == nil {
		t.Fatalf("cgroups %+v but no cgroup made", st)
	}
	res, err := runner.Run(context.Background(), runner.Command{Argv: plan.Argv, Env: []string{"PATH=/usr/bin:/bin"}, Dir: w.worktree})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("run: %v %+v %s", err, res, res.Tail)
	}
	b, _ := os.ReadFile(filepath.Join(w.worktree, "pid"))
	var pid int
	fmt.Sscan(string(b), &pid)
	if pid == 0 || !slices.Contains(plan.Cgroup.Procs(), pid) {
		t.Fatalf("the escaped sleep %d is not in the run's cgroup %v", pid, plan.Cgroup.Procs())
	}
	if err := plan.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := runner.Lookup(pid); errors.Is(err, runner.ErrNoProcess) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the escaped sleep %d survived the cgroup kill", pid)
		}
	}
}

// A manifest that names a backend the host lacks fails closed: no plan,
// nothing to run.
func TestMissingBackendFailsClosed(t *testing.T) {
	restore := sandbox.WithoutBwrap(t.TempDir())
	defer restore()
	w := newWorld(t)
	if _, err := sandbox.Prepare(w.spec(sandbox.Bwrap), []string{"true"}, sandbox.Options{CgroupRoot: "-"}); !errors.Is(err, sandbox.ErrUnavailable) {
		t.Fatalf("bwrap missing: %v", err)
	}
	for _, s := range sandbox.Available() {
		if s.Backend == sandbox.Bwrap && (s.Available || s.Reason == "") {
			t.Fatalf("bwrap status %+v", s)
		}
	}
	if _, err := sandbox.Resolve("docker", true); !errors.Is(err, sandbox.ErrUnknownBackend) {
		t.Fatalf("unknown backend: %v", err)
	}
}

// Auto is the strongest backend the host has.
func TestAutoIsTheStrongest(t *testing.T) {
	b, err := sandbox.Resolve(sandbox.Auto, true)
	var want sandbox.Backend
	for _, s := range sandbox.Available() {
		if s.Available && s.Backend != sandbox.None && (s.Backend != sandbox.Landlock || s.ABI >= 4) {
			want = s.Backend
		}
	}
	if want == "" {
		if !errors.Is(err, sandbox.ErrUnavailable) {
			t.Fatalf("no backend, but Resolve gave %s %v", b, err)
		}
		return
	}
	if err != nil || b != want {
		t.Fatalf("auto = %s %v, want %s", b, err, want)
	}
	if h := sandbox.Host(); h.Default != want || len(h.Backends) != 3 {
		t.Fatalf("host report %+v", h)
	}
}

// Bad specs are refused before anything runs.
func TestPrepareRefusesBadSpecs(t *testing.T) {
	w := newWorld(t)
	for name, spec := range map[string]sandbox.Spec{
		"relative":            {Backend: sandbox.None, Writable: []string{"wt"}},
		"missing writable":    {Backend: sandbox.None, Writable: []string{filepath.Join(w.outside, "nope")}},
		"writable and hidden": {Backend: sandbox.None, Writable: []string{w.state}, Hidden: []string{w.state}},
	} {
		if _, err := sandbox.Prepare(spec, []string{"true"}, sandbox.Options{CgroupRoot: "-"}); !errors.Is(err, sandbox.ErrSpec) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Given the plan's Kill, the runner's clean-up at the end of a run kills
// what left the group too.
func TestRunnerKillsTheCgroup(t *testing.T) {
	if st := sandbox.Cgroups(); st.Version == "" {
		t.Skipf("no writable cgroup hierarchy: %s", st.Reason)
	}
	w := newWorld(t)
	plan, err := sandbox.Prepare(w.spec(sandbox.None), []string{"sh", "-c", "setsid sh -c 'echo $$ > pid; exec sleep 1000' & while [ ! -s pid ]; do sleep 0.01; done"}, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	res, err := runner.Run(context.Background(), runner.Command{Argv: plan.Argv, Env: []string{"PATH=/usr/bin:/bin"}, Dir: w.worktree, Kill: plan.Kill})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("run: %v %+v %s", err, res, res.Tail)
	}
	b, _ := os.ReadFile(filepath.Join(w.worktree, "pid"))
	var pid int
	fmt.Sscan(string(b), &pid)
	if pid == 0 {
		t.Fatal("no pid written")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := runner.Lookup(pid); errors.Is(err, runner.ErrNoProcess) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the escaped sleep %d outlived the run", pid)
		}
	}
}
