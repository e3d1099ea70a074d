package mcpserver_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/mcpserver"
	"github.com/git-covenant/git-covenant/mcpserver/runtoken"
	"github.com/git-covenant/git-covenant/trust"
)

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

// staleRun is the run's real binding with an older lease epoch than the
// daemon gave it: what a token of an earlier claim of the task would say.
type staleRun struct{ *runtoken.Socket }

func (s staleRun) Binding(ctx context.Context) (*mcpserver.RunBinding, error) {
	b, err := s.Socket.Binding(ctx)
	if err != nil {
		return nil, err
	}
	b.Epoch--
	return b, nil
}

// Bound to a daemon run by its token, the server acts as the run's
// identity on the run's task only, under its lease epoch, and the daemon
// signs: a scope the identity lacks, another task, a claim, an op the
// daemon does not serve to runs and a stale epoch are refused before the
// daemon is asked; the handoff lands as the identity's; once the run has
// ended its token is refused.
func TestRunToken(t *testing.T) {
	f := newFixture(t)
	f.agentIdentity("narrow", trust.ScopeTaskClaim, trust.ScopeTaskHandoff)
	dir := t.TempDir()
	agent := &daemon.Agent{Name: "narrow", Identity: "narrow", Labels: []string{"narrow"}, Prompt: "none", Sandbox: "none",
		Env: []string{"PATH", "HOME", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL"},
		Argv: []string{"sh", "-c", `cp "$GIT_COVENANT_RUN_TOKEN_FILE" ` + dir + `/token
echo "$GIT_COVENANT_SOCKET" > ` + dir + `/socket.tmp && mv ` + dir + `/socket.tmp ` + dir + `/socket
while [ ! -e ` + dir + `/go ]; do sleep 0.02; done`}}
	other := f.create("someone else's task", "human")
	log := &syncBuf{}
	d, err := daemon.New(daemon.Options{Service: f.svc, Env: f.env(), Log: log, Poll: 200 * time.Millisecond, CheckpointEvery: -1,
		LoadAgents: func() ([]*daemon.Agent, error) { return []*daemon.Agent{agent}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("daemon did not stop")
		}
	}()
	task := f.create("scoped work", "narrow")
	waitFor(t, "the agent to start", func() bool { _, err := os.Stat(filepath.Join(dir, "socket")); return err == nil })
	sock, _ := os.ReadFile(filepath.Join(dir, "socket"))
	run, err := runtoken.FromFile(strings.TrimSpace(string(sock)), filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	cs := f.connect(mcpserver.Options{Run: run})

	var primer struct {
		Run struct {
			Identity, Task string
			Epoch          uint64
		}
	}
	ok(t, cs, "covenant_read", map[string]any{"action": "prime"}, &primer)
	if primer.Run.Identity != "narrow" || primer.Run.Task != task.ID || primer.Run.Epoch != 1 {
		t.Fatalf("primer's run: %+v", primer.Run)
	}
	before := f.refs()
	for _, c := range []struct {
		args        map[string]any
		kind, scope string
	}{
		{map[string]any{"action": "comment", "task": task.ID, "text": "hi"}, "scope", trust.ScopeTaskComment},
		{map[string]any{"action": "handoff", "task": other.ID, "summary": "not mine"}, "scope", "task:" + other.ID},
		{map[string]any{"action": "claim", "task": other.ID}, "not-in-run", ""},
		{map[string]any{"action": "escalate", "task": task.ID, "kind": "decision", "reason": "r"}, "not-in-run", ""},
		{map[string]any{"action": "memory_add", "tier": "working", "text": "x"}, "not-in-run", ""},
		{map[string]any{"action": "send", "to": "alice", "msg_kind": "review", "body": "x"}, "not-in-run", ""},
	} {
		r := call(t, cs, "covenant_write", c.args)
		if !r.IsError || r.Err.Kind != c.kind || r.Err.Scope != c.scope {
			t.Errorf("%v: want %s %s, got %+v", c.args, c.kind, c.scope, r)
		}
	}
	stale := f.connect(mcpserver.Options{Run: staleRun{run}})
	r := call(t, stale, "covenant_write", map[string]any{"action": "handoff", "task": task.ID, "summary": "stale"})
	if !r.IsError || r.Err.Scope != "lease:"+task.ID+"@0" {
		t.Errorf("a stale epoch: %+v", r)
	}
	if f.refs() != before {
		t.Fatal("a refused call wrote")
	}

	// The run's own handoff goes through the daemon, signed as narrow.
	ok(t, cs, "covenant_write", map[string]any{"action": "handoff", "task": task.ID, "summary": "through the run", "keep_lease": true}, nil)
	if h := f.task(task.ID).Handoff; h == nil || h.Summary != "through the run" || h.By.Name != "narrow" || h.Branch != "covenant/"+task.ID {
		t.Fatalf("handoff: %+v\nlog:\n%s", h, log)
	}

	// The agent reports its model usage (twice); the run record carries
	// the sum, which budgets and receipts count.
	ok(t, cs, "covenant_write", map[string]any{"action": "budget_report", "input_tokens": 1000, "output_tokens": 200, "credits": 1500}, nil)
	ok(t, cs, "covenant_write", map[string]any{"action": "budget_report", "input_tokens": 10, "credits": 5}, nil)
	if r := call(t, cs, "covenant_write", map[string]any{"action": "budget_report", "credits": -1}); !r.IsError || r.Err.Kind != "bad-arguments" {
		t.Errorf("negative usage: %+v", r)
	}

	// The run ends: its token dies with it.
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	waitFor(t, "the run record", func() bool { rs, _ := f.svc.Runs(context.Background(), task.ID); return len(rs) > 0 })
	if rs, _ := f.svc.Runs(context.Background(), task.ID); rs[0].Credits != 1505 || rs[0].Tokens == nil || rs[0].Tokens.Input != 1010 || rs[0].Tokens.Output != 200 {
		t.Errorf("the run record's usage: credits %d tokens %+v", rs[0].Credits, rs[0].Tokens)
	}
	waitFor(t, "the token to die", func() bool { _, err := run.Binding(context.Background()); return err != nil })
	r = call(t, cs, "covenant_write", map[string]any{"action": "heartbeat", "task": task.ID})
	if !r.IsError || r.Err.Kind != "run-token" || !strings.Contains(r.Text, "token") {
		t.Errorf("after the run: %+v", r)
	}
}
