package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/daemon"
)

// The daemon keeps worktrees checked out at the base commit; a run takes
// one (no checkout between the claim and the agent's start) and works in
// it on covenant/<task> as in a fresh checkout. When the base moves on,
// the prepared ones are stale: the next run checks out the new base, and
// the pool is refilled there. A stopped daemon leaves no prepared
// worktree behind.
func TestDispatchTakesAPreparedWorktree(t *testing.T) {
	f := newFixture(t)
	agent := &daemon.Agent{Name: "bot", Identity: "bot", Labels: []string{"bot"}, Prompt: "none",
		Argv: []string{f.script("agent.sh", `set -e
test -z "$(git status --porcelain)"
echo "$GIT_COVENANT_TASK" > work.txt
git add work.txt
git commit -q -m "work on $GIT_COVENANT_TASK"
`)}, Env: []string{"PATH", "HOME"}, OnSuccess: "self_review", Sandbox: "none"}
	stop := f.start(f.daemon(agent))
	poolDir := filepath.Join(filepath.Dir(mustCov(t, f)), "covenant-worktrees", ".pool")
	ready := func(n int) func() bool {
		return func() bool { ents, _ := os.ReadDir(poolDir); return len(ents) == n }
	}
	waitFor(t, "the pool to be filled", ready(daemon.DefaultPool))
	head := f.git("rev-parse", "HEAD")
	one := f.create("first", "bot")
	rec := f.waitRuns(one.ID, 1)[0]
	if !rec.Succeeded() || rec.Base != head || len(rec.Commits) != 1 || !strings.Contains(f.log.String(), "taken from the pool at "+head[:12]) {
		t.Fatalf("run from the pool: %+v\nlog:\n%s", rec, f.log)
	}
	if got := f.git("log", "-1", "--format=%s", "covenant/"+one.ID); got != "work on "+one.ID {
		t.Fatalf("branch head: %q", got)
	}
	waitFor(t, "the pool to be refilled", ready(daemon.DefaultPool))
	// The base moves on: what is prepared is stale.
	f.git("commit", "-q", "--allow-empty", "-m", "main moves on")
	head2 := f.git("rev-parse", "HEAD")
	two := f.create("second", "bot")
	rec2 := f.waitRuns(two.ID, 1)[0]
	if !rec2.Succeeded() || rec2.Base != head2 || len(rec2.Commits) != 1 {
		t.Fatalf("run after the base moved: %+v\nlog:\n%s", rec2, f.log)
	}
	stop()
	if ents, _ := os.ReadDir(poolDir); len(ents) != 0 {
		t.Errorf("prepared worktrees left: %v", ents)
	}
	if out := f.git("worktree", "list", "--porcelain"); strings.Count(out, "worktree ") != 1 {
		t.Errorf("worktrees left:\n%s", out)
	}
	f.verifyClean()
}
