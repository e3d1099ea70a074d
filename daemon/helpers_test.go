package daemon_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// fixture is a real repository with its own keystore and git home, alice
// its trust root, and an agent identity "bot" registered with the scopes
// an agent needs.
type fixture struct {
	t       *testing.T
	dir     string
	home    string // GIT_COVENANT_HOME
	gitHome string
	svc     *covenant.Service
	log     *syncBuf
}

var agentScopes = []string{trust.ScopeTaskClaim, trust.ScopeTaskMove, trust.ScopeTaskHandoff, trust.ScopeTaskComment}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{t: t, dir: testgit.Init(t), home: filepath.Join(base, "kh"), gitHome: filepath.Join(base, "home"), log: &syncBuf{}}
	os.MkdirAll(f.gitHome, 0o755)
	os.WriteFile(filepath.Join(f.gitHome, ".gitconfig"), nil, 0o644)
	ctx := context.Background()
	svc, err := covenant.Open(ctx, covenant.Options{Dir: f.dir, Getenv: f.getenv, Env: f.env(), As: "alice", IdleRelease: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if _, err := svc.Init(ctx, covenant.InitRequest{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.agentIdentity("bot", agentScopes...)
	return f
}

func (f *fixture) agentIdentity(name string, scopes ...string) {
	f.t.Helper()
	id, err := (&identity.Keystore{Dir: f.home}).New(name, identity.Agent, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.svc.RegisterIdentity(context.Background(), name, identity.Agent, identity.FormatPublicKey(id.PublicKey), scopes); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) env(extra ...string) []string {
	return append([]string{
		"PATH=" + binDir + ":" + os.Getenv("PATH"),
		"HOME=" + f.gitHome,
		"TMPDIR=" + os.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + filepath.Join(f.gitHome, ".gitconfig"),
		"GIT_COVENANT_HOME=" + f.home,
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	}, extra...)
}

func (f *fixture) getenv(key string) string {
	for _, kv := range f.env() {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// script writes an executable shell script agent and returns its path.
func (f *fixture) script(name, body string) string {
	f.t.Helper()
	p := filepath.Join(f.t.TempDir(), name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) daemon(agents ...*daemon.Agent) *daemon.Daemon {
	f.t.Helper()
	d, err := daemon.New(daemon.Options{Service: f.svc, Env: f.env(), Log: f.log, Poll: 200 * time.Millisecond,
		LoadAgents: func() ([]*daemon.Agent, error) { return agents, nil }})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// start runs the daemon until the test ends (or stop is called) and
// returns stop, which waits for the drain.
func (f *fixture) start(d *daemon.Daemon) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					f.t.Errorf("daemon: %v", err)
				}
			case <-time.After(60 * time.Second):
				f.t.Errorf("daemon did not stop")
			}
		})
	}
	f.t.Cleanup(stop)
	return stop
}

func (f *fixture) create(title string, labels ...string) *tasks.Task {
	f.t.Helper()
	t, err := f.svc.CreateTask(context.Background(), tasks.CreateBody{Title: title, Labels: labels, Priority: "medium"})
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

// waitRuns waits until task has n run records.
func (f *fixture) waitRuns(task string, n int) []*runs.Record {
	f.t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // a bound for a loaded machine, not a timing assertion
	for {
		rs, err := f.svc.Runs(context.Background(), task)
		if err != nil {
			f.t.Fatal(err)
		}
		if len(rs) >= n {
			return rs
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d run record(s) of %s, want %d; log:\n%s", len(rs), task, n, f.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond (bounded).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // a bound for a loaded machine, not a timing assertion
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) task(id string) *tasks.Task {
	f.t.Helper()
	t, err := f.svc.Task(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

func (f *fixture) verifyClean() {
	f.t.Helper()
	rep, err := f.svc.Verify(context.Background(), covenant.VerifyOptions{Full: true})
	if err != nil {
		f.t.Fatal(err)
	}
	if !rep.OK() {
		f.t.Fatalf("verify: %+v", rep)
	}
}

func (f *fixture) git(args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = f.dir, f.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
