package mcpserver_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/mcpserver"
	"github.com/git-covenant/git-covenant/trust"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	sort.Strings(names)
	return names
}

// An agent's day through the Go SDK client: the primer, the ready queue,
// claim, heartbeat, comment, handoff, resume, the log and verify, each a
// signed op (or none, for reads) as the acting identity.
func TestAgentDay(t *testing.T) {
	f := newFixture(t)
	f.agentIdentity("bot", trust.ScopeTaskClaim, trust.ScopeTaskHandoff, trust.ScopeTaskComment, trust.ScopeTaskMove)
	task := f.create("write the parser", "backend")
	cs := f.connect(mcpserver.Options{Identity: "bot"})

	if got := strings.Join(toolNames(t, cs), " "); got != "covenant_read covenant_write" {
		t.Fatalf("tools: %s", got)
	}
	var primer struct {
		Identity struct{ Name string }
		Ready    []struct{ ID string }
	}
	ok(t, cs, "covenant_read", map[string]any{"action": "prime"}, &primer)
	if primer.Identity.Name != "bot" || len(primer.Ready) != 1 || primer.Ready[0].ID != task.ID {
		t.Fatalf("primer: %+v", primer)
	}
	var ready []struct{ ID string }
	ok(t, cs, "covenant_read", map[string]any{"action": "ready", "label": "backend"}, &ready)
	if len(ready) != 1 || ready[0].ID != task.ID {
		t.Fatalf("ready: %+v", ready)
	}

	// Claim the top ready task, with no id.
	var pack struct {
		Task struct {
			ID    string
			State string
			Lease struct {
				Holder string
				Epoch  uint64
			}
		}
		Trailers []string
	}
	ok(t, cs, "covenant_write", map[string]any{"action": "claim", "ttl": "1h"}, &pack)
	if pack.Task.ID != task.ID || pack.Task.Lease.Holder != "bot" || pack.Task.Lease.Epoch != 1 {
		t.Fatalf("claim: %+v", pack)
	}
	if l := f.task(task.ID).Lease; l == nil || l.Holder != "bot" {
		t.Fatalf("the claim did not land: %+v", l)
	}
	ok(t, cs, "covenant_write", map[string]any{"action": "heartbeat", "task": task.ID[:6], "ttl": "2h"}, nil)
	ok(t, cs, "covenant_write", map[string]any{"action": "comment", "task": task.ID, "text": "halfway"}, nil)
	ok(t, cs, "covenant_write", map[string]any{"action": "handoff", "task": task.ID, "summary": "lexer done",
		"next": []string{"write the parser"}, "questions": []string{"keep v1 syntax?"}, "validation": "passed"}, nil)
	got := f.task(task.ID)
	if got.Handoff == nil || got.Handoff.Summary != "lexer done" || got.Handoff.By.Name != "bot" || got.Handoffs != 1 {
		t.Fatalf("handoff: %+v", got.Handoff)
	}
	var resumed struct {
		Handoff       struct{ Summary string }
		OpenQuestions []struct{ Text string } `json:"open_questions"`
	}
	ok(t, cs, "covenant_read", map[string]any{"action": "resume", "task": task.ID}, &resumed)
	if resumed.Handoff.Summary != "lexer done" || len(resumed.OpenQuestions) != 1 {
		t.Fatalf("resume: %+v", resumed)
	}
	var log struct {
		Total int
		Ops   []struct{ Type string }
	}
	ok(t, cs, "covenant_read", map[string]any{"action": "log", "task": task.ID, "limit": 2}, &log)
	if log.Total != 5 || len(log.Ops) != 2 || log.Ops[1].Type != "task.handoff" {
		t.Fatalf("log: %+v", log)
	}
	var v struct {
		OK  bool
		Ops int
	}
	ok(t, cs, "covenant_read", map[string]any{"action": "verify"}, &v)
	if !v.OK || v.Ops == 0 {
		t.Fatalf("verify: %+v", v)
	}
}

// A write outside the caller's capabilities is refused before anything is
// written, as a tool error whose structured content names the scope; the
// server goes on serving. (Remove the check in authorize and the fold's
// own refusal comes back without the scope, after a write was tried.)
func TestScopeRefusal(t *testing.T) {
	f := newFixture(t)
	f.agentIdentity("narrow", trust.ScopeTaskClaim)
	task := f.create("scoped work")
	cs := f.connect(mcpserver.Options{Identity: "narrow"})
	ok(t, cs, "covenant_write", map[string]any{"action": "claim", "task": task.ID}, nil)
	before := f.refs()
	for _, c := range []struct {
		args  map[string]any
		scope string
	}{
		{map[string]any{"action": "comment", "task": task.ID, "text": "hello"}, trust.ScopeTaskComment},
		{map[string]any{"action": "handoff", "task": task.ID, "summary": "s"}, trust.ScopeTaskHandoff},
		{map[string]any{"action": "move", "task": task.ID, "to": "done"}, trust.ScopeTaskMove},
		{map[string]any{"action": "escalate", "task": task.ID, "kind": "decision", "reason": "r"}, trust.ScopeTaskEscalate},
	} {
		r := call(t, cs, "covenant_write", c.args)
		if !r.IsError || r.Err.Kind != "scope" || r.Err.Scope != c.scope || !strings.Contains(r.Text, c.scope) {
			t.Errorf("%v: want a refusal naming %s, got %+v", c.args["action"], c.scope, r)
		}
	}
	if after := f.refs(); after != before {
		t.Errorf("a refused call wrote:\nbefore %s\nafter  %s", before, after)
	}
	// Still serving.
	ok(t, cs, "covenant_read", map[string]any{"action": "show", "task": task.ID}, nil)
}

// The front end's own scopes (the gateway's operator token) are asked
// before the capability check, with the scope the op needs.
func TestAuthorizeHook(t *testing.T) {
	f := newFixture(t)
	task := f.create("work")
	var asked []string
	cs := f.connect(mcpserver.Options{Authorize: func(_ context.Context, scope string) error {
		asked = append(asked, scope)
		if scope == trust.ScopeTaskComment {
			return nil
		}
		return mcpserver.ErrScope
	}})
	before := f.refs()
	r := call(t, cs, "covenant_write", map[string]any{"action": "claim", "task": task.ID})
	if !r.IsError || r.Err.Scope != trust.ScopeTaskClaim {
		t.Fatalf("claim with a token lacking task.claim: %+v", r)
	}
	if f.refs() != before {
		t.Fatal("a refused claim wrote")
	}
	ok(t, cs, "covenant_write", map[string]any{"action": "comment", "task": task.ID, "text": "ok"}, nil)
	if strings.Join(asked, " ") != "task.claim task.comment" {
		t.Errorf("asked %v", asked)
	}
}

// The check tool runs a command only after the scope check: without
// task.check, the command never runs.
func TestCheckScopeBeforeExec(t *testing.T) {
	f := newFixture(t)
	f.agentIdentity("nocheck", trust.ScopeTaskClaim)
	task := f.create("work")
	marker := filepath.Join(t.TempDir(), "ran")
	cs := f.connect(mcpserver.Options{Identity: "nocheck", Exec: true})
	ok(t, cs, "covenant_write", map[string]any{"action": "claim", "task": task.ID}, nil)
	r := call(t, cs, "covenant_check", map[string]any{"task": task.ID, "gate": "tests", "argv": []string{"touch", marker}})
	if !r.IsError || r.Err.Scope != trust.ScopeTaskCheck {
		t.Fatalf("check without task.check: %+v", r)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran although the scope check refused the call")
	}
	// alice (root) may: the command runs and its evidence is recorded.
	cs = f.connect(mcpserver.Options{Exec: true})
	var out struct {
		ExitCode int `json:"exit_code"`
	}
	ok(t, cs, "covenant_check", map[string]any{"task": task.ID, "gate": "tests", "argv": []string{"touch", marker}}, &out)
	if _, err := os.Stat(marker); err != nil || out.ExitCode != 0 {
		t.Fatalf("root's check: exit %d, marker %v", out.ExitCode, err)
	}
}

// --read-only advertises no write tool, and a write tool's name is not
// served.
func TestReadOnly(t *testing.T) {
	f := newFixture(t)
	task := f.create("work")
	cs := f.connect(mcpserver.Options{ReadOnly: true, Exec: true})
	if got := strings.Join(toolNames(t, cs), " "); got != "covenant_read" {
		t.Fatalf("read-only tools: %s", got)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "covenant_write", Arguments: map[string]any{"action": "claim", "task": task.ID}})
	if err == nil && !res.IsError {
		t.Fatal("a read-only server served a write")
	}
	if l := f.task(task.ID).Lease; l != nil {
		t.Fatalf("claimed through a read-only server: %+v", l)
	}
	cs = f.connect(mcpserver.Options{ReadOnly: true, Flat: true})
	for _, n := range toolNames(t, cs) {
		if !map[string]bool{"prime": true, "ready": true, "show": true, "resume": true, "log": true, "verify": true,
			"memories": true, "memory_search": true, "memory": true, "inbox": true, "message": true, "budget": true}[n] {
			t.Errorf("read-only flat server lists %s", n)
		}
	}
}

// The annotations are true: every action of a tool marked read-only
// leaves every ref as it was; every action of the write tool appends (the
// feed only moves forward: nothing destroyed), so it is neither read-only
// nor destructive; the check tool, which runs any command, is marked
// destructive and open-world.
func TestAnnotations(t *testing.T) {
	f := newFixture(t)
	f.agentIdentity("bot", trust.ScopeTaskClaim, trust.ScopeTaskHandoff, trust.ScopeTaskComment, trust.ScopeTaskMove, trust.ScopeTaskEscalate, trust.ScopeTaskCheck)
	task := f.create("work")
	for _, flat := range []bool{false, true} {
		cs := f.connect(mcpserver.Options{Identity: "bot", Exec: true, Flat: flat})
		res, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tl := range res.Tools {
			a := tl.Annotations
			if a == nil || a.DestructiveHint == nil || a.OpenWorldHint == nil {
				t.Fatalf("%s: annotations missing: %+v", tl.Name, a)
			}
			switch {
			case tl.Name == "covenant_read" || a.ReadOnlyHint:
				if !a.ReadOnlyHint || !a.IdempotentHint || *a.DestructiveHint || *a.OpenWorldHint {
					t.Errorf("%s: want read-only, idempotent, closed: %+v", tl.Name, a)
				}
			case tl.Name == "covenant_check" || tl.Name == "check":
				if a.ReadOnlyHint || !*a.DestructiveHint || !*a.OpenWorldHint || a.IdempotentHint {
					t.Errorf("%s: want destructive, open-world: %+v", tl.Name, a)
				}
			default:
				if a.ReadOnlyHint || *a.DestructiveHint || a.IdempotentHint || *a.OpenWorldHint {
					t.Errorf("%s: want additive, not idempotent, closed: %+v", tl.Name, a)
				}
			}
		}
	}

	// Behaviour matches: every read action leaves the refs alone.
	cs := f.connect(mcpserver.Options{Identity: "bot", Exec: true})
	before := f.refs()
	for _, a := range []map[string]any{{"action": "prime"}, {"action": "ready"}, {"action": "show", "task": task.ID},
		{"action": "resume", "task": task.ID}, {"action": "log"}, {"action": "verify", "full": true}} {
		ok(t, cs, "covenant_read", a, nil)
	}
	if after := f.refs(); after != before {
		t.Fatalf("a read wrote:\n%s\n%s", before, after)
	}
	// Every write action appends to bot's feed; the old head stays its
	// ancestor.
	feed := func() string {
		a, err := f.svc.As("bot").Actor("")
		if err != nil {
			t.Fatal(err)
		}
		return "refs/covenant/feeds/" + a.KeyID
	}
	for _, a := range []map[string]any{{"action": "claim", "task": task.ID}, {"action": "heartbeat", "task": task.ID},
		{"action": "comment", "task": task.ID, "text": "x"}, {"action": "handoff", "task": task.ID, "summary": "s", "keep_lease": true},
		{"action": "escalate", "task": task.ID, "kind": "decision", "reason": "which way?"}} {
		old, _ := tryRev(f, feed())
		ok(t, cs, "covenant_write", a, nil)
		now, _ := tryRev(f, feed())
		if now == old {
			t.Errorf("%v wrote nothing", a["action"])
		}
		if old != "" {
			if _, err := tryGit(f, "merge-base", "--is-ancestor", old, now); err != nil {
				t.Errorf("%v rewrote the feed", a["action"])
			}
		}
	}
}

func tryRev(f *fixture, ref string) (string, error) {
	return tryGit(f, "rev-parse", "-q", "--verify", ref)
}

func tryGit(f *fixture, args ...string) (string, error) {
	out, err := testgit.Try(f.t, f.dir, args...)
	return strings.TrimSpace(out), err
}

// Bad arguments are refused as tool errors before anything happens:
// unknown action or argument (names are exact), wrong type, missing
// required argument.
func TestBadArguments(t *testing.T) {
	f := newFixture(t)
	task := f.create("work")
	cs := f.connect(mcpserver.Options{})
	before := f.refs()
	for _, a := range []map[string]any{
		{},
		{"action": "nope"},
		{"action": "claim", "task": task.ID, "TASK": task.ID},
		{"action": "claim", "task": 7},
		{"action": "claim", "task": task.ID, "ttl": "forever"},
		{"action": "comment", "task": task.ID},
		{"action": "comment", "task": task.ID, "text": "x", "summary": "not mine"},
		{"action": "handoff", "task": task.ID, "summary": "s", "validation": "maybe"},
	} {
		r := call(t, cs, "covenant_write", a)
		if !r.IsError || r.Err.Kind != "bad-arguments" {
			t.Errorf("%v: want bad-arguments, got %+v", a, r)
		}
	}
	if f.refs() != before {
		t.Fatal("a refused call wrote")
	}
	ok(t, cs, "covenant_read", map[string]any{"action": "show", "task": task.ID}, nil)
}
