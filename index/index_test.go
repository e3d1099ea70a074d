package index_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/tasks"
)

func open(t *testing.T, dir, home string) *covenant.Service {
	t.Helper()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + filepath.Join(home, ".gitconfig"),
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com", "GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com"}
	r, err := covenant.Open(context.Background(), covenant.Options{Dir: dir, Env: env, Now: func() time.Time { return clock },
		Getenv: func(k string) string {
			if k == "GIT_COVENANT_HOME" {
				return home
			}
			return ""
		}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func listJSON(t *testing.T, r *covenant.Service) string {
	t.Helper()
	var b bytes.Buffer
	err := r.EachTask(context.Background(), false, func(raw []byte, _ *tasks.Summary) error { b.Write(raw); b.WriteByte('\n'); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The index follows feed refs moved by plain git commands, backwards and
// forwards, and an incremental fold equals a rebuild from scratch.
func TestIndexFollowsPlainGit(t *testing.T) {
	dir := testgit.Init(t)
	home := filepath.Join(t.TempDir(), "home")
	r := open(t, dir, home)
	if _, err := r.Init(context.Background(), covenant.InitRequest{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	first, err := r.CreateTask(context.Background(), tasks.CreateBody{Title: "first"})
	if err != nil {
		t.Fatal(err)
	}
	feed := strings.TrimSpace(testgit.Run(t, dir, "for-each-ref", "--format=%(refname)", "refs/covenant/feeds/"))
	before := testgit.Run(t, dir, "rev-parse", feed)
	if _, err := r.CreateTask(context.Background(), tasks.CreateBody{Title: "second"}); err != nil {
		t.Fatal(err)
	}
	after := testgit.Run(t, dir, "rev-parse", feed)
	full := listJSON(t, r)
	if strings.Count(full, `"id"`) != 2 {
		t.Fatalf("want 2 tasks:\n%s", full)
	}

	// git moves the feed back: the second task disappears.
	testgit.Run(t, dir, "update-ref", feed, before)
	got := listJSON(t, open(t, dir, home))
	if strings.Contains(got, "second") || !strings.Contains(got, first.ID) {
		t.Fatalf("after rewinding the feed:\n%s", got)
	}
	// and forward again: it is back, identical to the first fold.
	testgit.Run(t, dir, "update-ref", feed, after)
	if got := listJSON(t, open(t, dir, home)); got != full {
		t.Fatalf("after moving forward:\n%s\nwant\n%s", got, full)
	}
	if _, err := open(t, dir, home).Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := listJSON(t, open(t, dir, home)); got != full {
		t.Fatalf("rebuild differs from incremental:\n%s\nwant\n%s", got, full)
	}

	// Packing refs changes nothing.
	testgit.Run(t, dir, "pack-refs", "--all", "--prune")
	if got := listJSON(t, open(t, dir, home)); got != full {
		t.Fatalf("after pack-refs:\n%s", got)
	}
	// A damaged index file is rebuilt.
	ixPath := filepath.Join(dir, ".git", "covenant", "index.db")
	if err := writeGarbage(ixPath); err != nil {
		t.Fatal(err)
	}
	testgit.Run(t, dir, "update-ref", feed, before) // force a catch-up
	if got := listJSON(t, open(t, dir, home)); strings.Contains(got, "second") {
		t.Fatalf("after damage:\n%s", got)
	}
}
func writeGarbage(p string) error {
	return os.WriteFile(p, []byte("this is not a bbolt file, not at all"), 0o644)
}

// A write with nothing to write is a no-op, also when the feed exists.
func TestEmptyWrite(t *testing.T) {
	dir := testgit.Init(t)
	r := open(t, dir, filepath.Join(t.TempDir(), "home"))
	if _, err := r.Init(context.Background(), covenant.InitRequest{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	before := testgit.Run(t, dir, "for-each-ref", "refs/covenant/")
	w, err := r.Append(context.Background(), nil)
	if err != nil || len(w.Entries) != 0 {
		t.Fatalf("empty write: %v %+v", err, w)
	}
	if after := testgit.Run(t, dir, "for-each-ref", "refs/covenant/"); after != before {
		t.Fatalf("refs moved:\n%s\n%s", before, after)
	}
}
