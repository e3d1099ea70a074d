package refwatch_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/refwatch"
)

// A ref written by git in directories that did not exist when the watch
// began, a pack-refs, and a file in a watched directory that appears
// later are each reported.
func TestWatchReportsRefsAndFiles(t *testing.T) {
	dir := testgit.Init(t)
	testgit.Run(t, dir, "commit", "--allow-empty", "-qm", "c")
	head := strings.TrimSpace(testgit.Run(t, dir, "rev-parse", "HEAD"))
	common := filepath.Join(dir, ".git")
	cfg := filepath.Join(dir, ".covenant")
	agents := filepath.Join(cfg, "agents")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	changes := make(chan refwatch.Change, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := refwatch.Watch(ctx, refwatch.Options{Refs: filepath.Join(common, "refs", "covenant"), Common: common,
		Dirs: []string{cfg, agents}, Debounce: time.Millisecond}, func(c refwatch.Change) { changes <- c })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wait := func(what string, ok func(refwatch.Change) bool) {
		t.Helper()
		deadline := time.After(time.Minute) // a bound for a loaded machine, not a timing assertion
		for {
			select {
			case c := <-changes:
				if ok(c) {
					return
				}
			case <-deadline:
				t.Fatalf("no change reported for %s", what)
			}
		}
	}
	refs := func(c refwatch.Change) bool { return c.Refs }
	testgit.Run(t, dir, "update-ref", "refs/covenant/feeds/deep/new/ref", head)
	wait("a ref in new directories", refs)
	// The watch was added with the directories: a second ref there is seen.
	testgit.Run(t, dir, "update-ref", "refs/covenant/feeds/deep/new/other", head)
	wait("a second ref in the new directory", refs)
	testgit.Run(t, dir, "pack-refs", "--all")
	wait("packed-refs", refs)
	if err := os.MkdirAll(agents, 0o755); err != nil {
		t.Fatal(err)
	}
	has := func(suffix string) func(refwatch.Change) bool {
		return func(c refwatch.Change) bool {
			for _, f := range c.Files {
				if strings.HasSuffix(f, suffix) {
					return true
				}
			}
			return false
		}
	}
	wait("the agents directory appearing (its watch is set before it is reported)", has("agents"))
	if err := os.WriteFile(filepath.Join(agents, "bot.toml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("a manifest in a directory created after the watch", has("bot.toml"))
}
