package covenant_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/safetext"
	"github.com/git-covenant/git-covenant/tasks"
)

// Text with terminal control characters or invalid UTF-8 is refused at
// write, by every op family's write path, and nothing is written.
func TestControlCharactersRefusedAtWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.initAlice()
	r := f.open()
	defer r.Close()
	ctx := context.Background()
	good, err := r.CreateTask(ctx, tasks.CreateBody{Title: "good"})
	if err != nil {
		t.Fatal(err)
	}
	before := f.covenantRefs()
	for name, write := range map[string]func() error{
		"title ESC": func() error { _, err := r.CreateTask(ctx, tasks.CreateBody{Title: "a\x1b[31mb\a"}); return err },
		"body C1":   func() error { _, err := r.CreateTask(ctx, tasks.CreateBody{Title: "t", Body: "x\u009b2J"}); return err },
		"body CR":   func() error { _, err := r.CreateTask(ctx, tasks.CreateBody{Title: "t", Body: "line\r"}); return err },
		"bidi":      func() error { _, err := r.CreateTask(ctx, tasks.CreateBody{Title: "abc\u202eexe.txt"}); return err },
		"comment":   func() error { _, err := r.Comment(ctx, good.ID, "ring\a"); return err },
		"question": func() error {
			_, err := r.HandoffTask(ctx, covenant.HandoffRequest{Task: good.ID, Handoff: tasks.Handoff{Summary: "s",
				Questions: []string{"ok?", "evil\x1b]0;pwned\a?"}, Validation: tasks.Validation{Status: "not-run"}}})
			return err
		},
	} {
		err := write()
		if !errors.Is(err, safetext.ErrControl) || !errors.Is(err, covenant.ErrBadInput) {
			t.Errorf("%s: got %v, want a bad-input control-character error", name, err)
		}
	}
	_, err = r.CreateTask(ctx, tasks.CreateBody{Title: "bad \xff utf-8"})
	if !errors.Is(err, safetext.ErrInvalidUTF8) || !errors.Is(err, covenant.ErrBadInput) {
		t.Errorf("invalid UTF-8: got %v", err)
	}
	if after := f.covenantRefs(); after != before {
		t.Fatalf("a refused write changed refs:\n%s\n%s", before, after)
	}
	// Through the CLI: exit 2, one escaped error line and a hint.
	res := f.cli("task", "create", "a\x1b[31mb\a")
	if res.code != 2 || strings.ContainsAny(res.stderr, "\x1b\a") || !strings.Contains(res.stderr, `U+001B (ESC)`) ||
		!strings.Contains(res.stderr, "hint: text may hold printable characters") {
		t.Fatalf("task create with ESC: %s", res)
	}
	if n := strings.Count(res.stderr, "\n"); n != 2 {
		t.Fatalf("want an error line and a hint, got %d lines: %s", n, res)
	}
	if after := f.covenantRefs(); after != before {
		t.Fatalf("a refused task create changed refs:\n%s\n%s", before, after)
	}
}

// A history written by a modified (or older) client may hold anything: a
// task whose title, body and comment carry escape sequences, and a code
// commit naming it whose subject does. Every read command shows them
// escaped, never raw, and JSON still decodes to the stored text.
func TestPlantedControlCharactersEscapedOnOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.initAlice()
	title := "evil\x1b]0;pwned\a\x1b[31m red"
	body := "clear \u009b2J and \u202eflip \x7f"
	op := mkOp(t, tasks.OpCreate, "", tasks.CreateBody{Title: title, Body: body, Priority: "high"})
	f.forge("alice", f.signer("alice"), op, time.Now().UTC().Truncate(time.Second))
	id := op.Task
	f.forge("alice", f.signer("alice"), mkOp(t, tasks.OpComment, id, tasks.CommentBody{Text: "bell\a\x1b[2J"}), time.Now().UTC().Truncate(time.Second))
	if err := os.WriteFile(filepath.Join(f.dir, "x.txt"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.git("add", "x.txt")
	f.git("commit", "-q", "-m", "subject \x1b[5mblink\n\nCovenant-Task: "+id)

	raw := func(s string) bool { return safetext.Check(s) != nil }
	for _, args := range [][]string{
		{"task", "list"}, {"task", "show", id}, {"task", "resume", id}, {"task", "ready"}, {"log"},
		{"task", "list", "--json"}, {"task", "show", id, "--json"}, {"task", "resume", id, "--json"},
	} {
		res := f.cli(args...)
		if res.code != 0 {
			t.Fatalf("%v: %s", args, res)
		}
		if raw(res.stdout) || raw(res.stderr) {
			t.Errorf("%v prints a raw control byte: %q", args, res.stdout)
		}
		if !strings.Contains(res.stdout, `evil\u001b]0;pwned\u0007\u001b[31m red`) && args[0] != "log" && !(len(args) > 1 && args[1] == "ready") {
			t.Errorf("%v does not show the title escaped: %q", args, res.stdout)
		}
	}
	res := f.cli("task", "show", id)
	for _, want := range []string{`clear \u009b2J and \u202eflip \u007f`, `bell\u0007\u001b[2J`} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("task show lacks %q: %s", want, res.stdout)
		}
	}
	if res := f.cli("task", "resume", id); !strings.Contains(res.stdout, `subject \u001b[5mblink`) {
		t.Errorf("task resume does not show the commit subject escaped: %s", res.stdout)
	}
	// JSON through the escaping keeps its meaning.
	var got tasks.Task
	if err := json.Unmarshal([]byte(f.mustCLI("task", "show", id, "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Title != title || got.Body != body {
		t.Fatalf("JSON title %q body %q, want %q %q", got.Title, got.Body, title, body)
	}
}
