package covenant_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/covenant"
)

// TestFreshCloneResume: a second clone, with its own empty keystore, that
// fetched refs/covenant/* resumes a task with the same context pack as the
// clone that recorded the handoff.
func TestFreshCloneResume(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	id := strings.TrimSpace(f.mustCLI("task", "create", "port the parser", "--label", "parser"))
	f.mustCLI("task", "start", id, "--ttl", "1h")
	// A code commit under the task, named by its trailer.
	if err := os.WriteFile(filepath.Join(f.dir, "parse.go"), []byte("package parse\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.git("add", "parse.go")
	f.git("commit", "-q", "-m", "parse: first cut", "-m", "Covenant-Task: "+id)
	f.mustCLI("task", "handoff", id, "--summary", "lexer done, parser half way",
		"--next", "finish expression parsing", "--next", "add fuzz test",
		"--question", "keep the v1 syntax?", "--file", "parse.go", "--validation", "failed", "--validation-note", "2 of 40 fail")
	orig := f.mustCLI("task", "resume", id, "--json")
	var want covenant.ContextPack
	if err := json.Unmarshal([]byte(orig), &want); err != nil {
		t.Fatal(err)
	}
	if want.Handoff == nil || want.Handoff.Summary != "lexer done, parser half way" ||
		!reflect.DeepEqual(want.Handoff.Next, []string{"finish expression parsing", "add fuzz test"}) ||
		len(want.OpenQuestions) != 1 || want.OpenQuestions[0].Text != "keep the v1 syntax?" || len(want.Commits) != 1 {
		t.Fatalf("the original clone's context pack lacks the handoff:\n%s", orig)
	}

	// A bare remote in between, as a team would have.
	bare := filepath.Join(t.TempDir(), "remote.git")
	f.gitRaw(f.dir, nil, "clone", "-q", "--bare", f.dir, bare)
	f.git("push", "-q", bare, "refs/covenant/*:refs/covenant/*")

	for name, src := range map[string]string{"direct": f.dir, "bare": bare} {
		t.Run(name, func(t *testing.T) {
			g := &fixture{t: t, gitHome: f.gitHome, home: filepath.Join(t.TempDir(), "other-covenant-home")}
			g.dir = filepath.Join(t.TempDir(), "clone")
			g.gitRaw(t.TempDir(), nil, "clone", "-q", src, g.dir)
			// Without the feeds the task is unknown there.
			if res := g.cli("task", "resume", id, "--json"); res.code != 4 {
				t.Fatalf("resume before fetching the feeds: want exit 4, got %s", res)
			}
			g.git("fetch", "-q", "origin", "refs/covenant/*:refs/covenant/*")
			if got, want := g.covenantRefs(), f.covenantRefs(); got != want {
				t.Fatalf("clone refs:\n%s\nwant:\n%s", got, want)
			}
			got := g.mustCLI("task", "resume", id, "--json")
			var pack covenant.ContextPack
			if err := json.Unmarshal([]byte(got), &pack); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pack.Handoff, want.Handoff) || !reflect.DeepEqual(pack.OpenQuestions, want.OpenQuestions) {
				t.Fatalf("handoff in the clone:\n%s\nwant:\n%s", got, orig)
			}
			// Everything else agrees too: task, history, commits, files.
			if got != orig {
				t.Fatalf("context pack in the clone differs:\n%s\nwant:\n%s", got, orig)
			}
			g.verifyClean()
			if _, err := os.Stat(filepath.Join(g.home, "identities")); err == nil {
				t.Fatal("reading created identities in the clone's keystore")
			}
		})
	}
}
