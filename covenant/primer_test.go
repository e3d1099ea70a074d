package covenant_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/tasks"
)

// primerFixture is the fixed fixture of the token budgets: alice (root)
// and bob (an agent with task grants); one task bob worked on over three
// sessions, each ending in a handoff with a summary, two next steps, a
// question and a pinned file, with a code commit per session and an
// approval by bob himself that does not count; a second task bob holds;
// three more in the ready queue. It returns bob's service and the task.
func primerFixture(t *testing.T) (*fixture, string) {
	t.Helper()
	f := newFixture(t)
	f.initAlice()
	ctx := context.Background()
	svc := f.open()
	defer svc.Close()
	if _, err := (&identity.Keystore{Dir: f.home}).New("bob", identity.Agent, time.Now()); err != nil {
		t.Fatal(err)
	}
	bobKey := strings.TrimSpace(f.mustCLI("id", "show", "bob"))
	if _, err := svc.RegisterIdentity(ctx, "bob", identity.Agent, bobKey, []string{"task.create", "task.claim", "task.move", "task.handoff", "task.check", "task.comment", "review.code"}); err != nil {
		t.Fatal(err)
	}
	bob := svc.As("bob")
	must := func(_ *tasks.Task, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tk, err := svc.CreateTask(ctx, tasks.CreateBody{Title: "Fix the flaky login test", Labels: []string{"auth", "ci"}, Priority: "high",
		Body: "The login test fails about one run in ten on CI; it passes locally.", FailureModes: []string{"a shared cookie jar between tests"}})
	if err != nil {
		t.Fatal(err)
	}
	sessions := []struct{ summary, file, question string }{
		{"root cause: the cookie jar is shared between tests; isolated it in auth/jar.go", "auth/jar.go", "keep the retry in the login helper?"},
		{"per-test jars in place; two tests still read the global jar", "auth/login_test.go", "may the jar reset be exported?"},
		{"all tests use their own jar; the suite is green 50 runs in a row locally", "auth/helpers.go", "should CI run the suite three times?"},
	}
	for i, s := range sessions {
		must(bob.StartTask(ctx, covenant.StartRequest{Task: tk.ID, TTL: time.Hour}))
		path := filepath.Join(f.dir, s.file)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("package auth // session "+s.file+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f.git("add", s.file)
		f.git("commit", "-q", "-m", "auth: session "+s.file, "-m", "Covenant-Task: "+tk.ID)
		if i == 2 {
			must(bob.MoveTask(ctx, covenant.MoveRequest{Task: tk.ID, To: "self_review", Note: "green locally"}))
			must(bob.MoveTask(ctx, covenant.MoveRequest{Task: tk.ID, To: "cross_review"}))
		}
		must(bob.HandoffTask(ctx, covenant.HandoffRequest{Task: tk.ID, Files: []string{s.file}, Handoff: tasks.Handoff{
			Summary: s.summary, Next: []string{"run the auth suite 20 times", "remove the sleep in login_test.go"},
			Questions: []string{s.question}, Validation: tasks.Validation{Status: "passed", Note: "go test ./auth"}}}))
	}
	held, err := bob.CreateTask(ctx, tasks.CreateBody{Title: "Document the jar helper", Labels: []string{"auth"}})
	if err != nil {
		t.Fatal(err)
	}
	must(bob.StartTask(ctx, covenant.StartRequest{Task: held.ID, TTL: 2 * time.Hour}))
	for _, title := range []string{"Rotate the CI token", "Speed up the auth suite", "Remove the legacy login page"} {
		if _, err := svc.CreateTask(ctx, tasks.CreateBody{Title: title}); err != nil {
			t.Fatal(err)
		}
	}
	// Memories: the task's own, one pinned to a file its handoff pinned,
	// one tagged with its label, another task's scratch notes (not shown),
	// and more long-term project memory than the budget holds.
	mem := func(req covenant.MemoryAddRequest) {
		t.Helper()
		if _, err := svc.AddMemory(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 12; i++ {
		mem(covenant.MemoryAddRequest{Tier: "longterm", Text: fmt.Sprintf("project note %d: run make test before pushing; the integration suite needs docker and about four minutes on this machine", i)})
	}
	mem(covenant.MemoryAddRequest{Tier: "episodic", Text: "CI flaked on the auth suite on 2026-11-30; a shared cookie jar was the cause", Tags: []string{"auth"}})
	mem(covenant.MemoryAddRequest{Tier: "longterm", Text: "auth helpers must stay free of package globals", Pins: []covenant.PinSpec{{Path: "auth/helpers.go"}}})
	mem(covenant.MemoryAddRequest{Tier: "working", Task: held.ID, Text: "scratch for the jar docs"})
	mem(covenant.MemoryAddRequest{Tier: "working", Task: tk.ID, Text: "login_test.go still sleeps 200ms before the second login; remove it next"})
	return f, tk.ID
}

// The primer and the resume pack stay within their token budgets (bytes
// / 4) on the fixed fixture, and carry what they promise, once each.
func TestPrimerAndResumeTokenBudgets(t *testing.T) {
	t.Parallel()
	f, id := primerFixture(t)
	tokens := func(s string) int { return len(s) / 4 }
	budgets := []struct {
		args  []string
		limit int
	}{
		{[]string{"--as", "bob", "prime"}, 1500},
		{[]string{"--as", "bob", "prime", "--json"}, 1500},
		{[]string{"--as", "bob", "task", "resume", id}, 2000},
		{[]string{"--as", "bob", "task", "resume", id, "--json"}, 2000},
	}
	out := map[string]string{}
	for _, b := range budgets {
		got := f.mustCLI(b.args...)
		out[strings.Join(b.args[2:], " ")] = got
		if os.Getenv("SHOW_PRIMER") != "" {
			t.Log(got)
		}
		t.Logf("%-28s %5d bytes  %4d tokens (limit %d)", strings.Join(b.args[2:], " "), len(got), tokens(got), b.limit)
		if tokens(got) >= b.limit {
			t.Errorf("%v: %d tokens, limit %d:\n%s", b.args, tokens(got), b.limit, got)
		}
	}

	// The pack keeps every open question, names each fact once.
	var p covenant.ContextPack
	if err := json.Unmarshal([]byte(out["task resume "+id+" --json"]), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.OpenQuestions) != 3 || p.OpenQuestions[0].Text != "keep the retry in the login helper?" {
		t.Fatalf("open questions %+v", p.OpenQuestions)
	}
	for _, text := range []string{"remove the sleep in login_test.go", "per-test jars in place", "all tests use their own jar",
		"keep the retry in the login helper?", "should CI run the suite three times?", "Covenant-Task: " + id} {
		for name, o := range map[string]string{"text": out["task resume "+id], "json": out["task resume "+id+" --json"]} {
			if n := strings.Count(o, text); n != 1 {
				t.Errorf("resume (%s) says %q %d times, want once", name, text, n)
			}
		}
	}
	// Memories, ranked: the task's, the pinned, the tagged, then project
	// memory as far as the budget goes; never another task's scratch.
	why := []string{}
	for _, m := range p.Memories {
		why = append(why, m.Why)
	}
	if len(why) < 4 || why[0] != "task" || why[1] != "pinned auth/helpers.go" || why[2] != "tag auth" || why[3] != "project" || len(why) > 10 {
		t.Errorf("pack memories: %v", why)
	}
	if strings.Contains(out["task resume "+id], "scratch for the jar docs") || !strings.Contains(out["task resume "+id], "remove it next") {
		t.Errorf("resume memories:\n%s", out["task resume "+id])
	}
	var toValidation *tasks.Move
	for i := range p.Moves {
		if p.Moves[i].To == "validation" {
			toValidation = &p.Moves[i]
		}
	}
	if toValidation == nil || toValidation.Ready || !strings.Contains(toValidation.Gates[0].Needs, "(not bob)") {
		t.Fatalf("moves %+v", p.Moves)
	}
	if !strings.Contains(out["task resume "+id], "validation:\n    review.code needs an approval by an identity holding review.code that never held the task's lease (not bob)") {
		t.Errorf("resume does not say what review.code needs:\n%s", out["task resume "+id])
	}
	// The primer: bob's grants, his leased task, the ready queue, the how-to.
	prime := out["prime"]
	for _, want := range []string{"You are bob (agent", "task.claim", "Document the jar helper", "Rotate the CI token",
		"git covenant task heartbeat <id>", "Covenant-Lease: <epoch>", "releases the lease", "review.code: approval, by someone who never held"} {
		if !strings.Contains(prime, want) {
			t.Errorf("prime lacks %q:\n%s", want, prime)
		}
	}
	var pr covenant.Primer
	if err := json.Unmarshal([]byte(out["prime --json"]), &pr); err != nil {
		t.Fatal(err)
	}
	if pr.Identity == nil || pr.Identity.Name != "bob" || len(pr.Leased) != 1 || len(pr.Ready) != 3 {
		t.Fatalf("primer identity %+v, leased %+v, ready %+v", pr.Identity, pr.Leased, pr.Ready)
	}
	if len(pr.Memories) == 0 || pr.Memories[0].Why != "tag auth" {
		t.Errorf("primer memories %+v", pr.Memories)
	}

	// task list --mine and task ready --for.
	mine := f.mustCLI("--as", "bob", "task", "list", "--mine")
	if !strings.Contains(mine, "Document the jar helper") || strings.Count(mine, "\n") != 1 {
		t.Errorf("task list --mine as bob:\n%s", mine)
	}
	if got := f.mustCLI("task", "list", "--mine"); got != "" {
		t.Errorf("task list --mine as alice, who holds nothing:\n%s", got)
	}
	if res := f.cli("task", "ready", "--for", "nobody"); res.code != 4 {
		t.Errorf("task ready --for an unknown identity: %s", res)
	}
}

// An answered question leaves the pack; an unknown one is not found.
func TestAnswerClosesAQuestion(t *testing.T) {
	t.Parallel()
	f, id := primerFixture(t)
	if res := f.cli("task", "answer", id, "9", "x"); res.code != 4 || !strings.Contains(res.stderr, "task resume") {
		t.Fatalf("answer to question 9: %s", res)
	}
	f.mustCLI("task", "answer", id, "2", "yes, export it")
	var p covenant.ContextPack
	if err := json.Unmarshal([]byte(f.mustCLI("task", "resume", id, "--json")), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.OpenQuestions) != 2 || p.OpenQuestions[0].N != 1 || p.OpenQuestions[1].N != 3 {
		t.Fatalf("open questions after answering 2: %+v", p.OpenQuestions)
	}
	if last := p.History[len(p.History)-1]; last.Type != tasks.OpAnswer || last.By != "alice" {
		t.Fatalf("history ends with %+v", last)
	}
	f.verifyClean()
}
