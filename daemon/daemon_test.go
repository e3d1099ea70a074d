package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/runs"
)

// A task created with the agent's label is claimed by the agent's
// identity, run in a worktree on covenant/<task>, and ends in a run record
// signed by the daemon with the commit the agent made, a move per the
// manifest and a handoff from the final message; the lease is given back
// and verification is clean.
func TestDispatchEndToEnd(t *testing.T) {
	f := newFixture(t)
	agent := &daemon.Agent{Name: "bot", Identity: "bot", Labels: []string{"bot"}, Prompt: "stdin",
		Argv: []string{f.script("agent.sh", `set -e
cat > prompt.txt
echo "task $GIT_COVENANT_TASK epoch $GIT_COVENANT_EPOCH"
git add prompt.txt
git commit -q -m "work on $GIT_COVENANT_TASK"
echo "all done here"
`)}, Env: []string{"PATH", "HOME"}, OnSuccess: "self_review", OnFailure: "blocked", Sandbox: "none"}
	d := f.daemon(agent)
	stop := f.start(d)
	other := f.create("not for the bot", "human")
	task := f.create("Write the prompt down", "bot")
	rs := f.waitRuns(task.ID, 1)
	rec := rs[0]
	if rec.Outcome != runs.Exited || rec.ExitCode == nil || *rec.ExitCode != 0 || rec.Agent != "bot" || !strings.HasPrefix(rec.By.Name, "daemon-") {
		t.Fatalf("record: %+v\nlog:\n%s", rec, f.log)
	}
	if rec.Epoch != 1 || len(rec.Commits) != 1 || rec.Branch != "covenant/"+task.ID || rec.OutputBytes == 0 || rec.DurationMS < 0 {
		t.Fatalf("record: %+v", rec)
	}
	waitFor(t, "the lease to be given back", func() bool { return f.task(task.ID).Lease == nil })
	got := f.task(task.ID)
	if got.State != "self_review" || got.Handoff == nil || !strings.Contains(got.Handoff.Summary, "all done here") {
		t.Fatalf("task after the run: state %s handoff %+v", got.State, got.Handoff)
	}
	if got.Handoff.By.Name != "bot" || len(got.Handoff.Commits) != 1 || got.Handoff.Commits[0] != rec.Commits[0] {
		t.Fatalf("handoff: %+v", got.Handoff)
	}
	// The prompt came from the resume pack; the commit is on the branch.
	msg := f.git("log", "-1", "--format=%s%n%an", "covenant/"+task.ID)
	if msg != "work on "+task.ID+"\nbot" {
		t.Fatalf("branch head: %q", msg)
	}
	prompt := f.git("show", "covenant/"+task.ID+":prompt.txt")
	if !strings.Contains(prompt, "Write the prompt down") || !strings.Contains(prompt, task.ID) {
		t.Fatalf("prompt: %q", prompt)
	}
	if o := f.task(other.ID); o.Lease != nil || len(o.Leases) != 0 {
		t.Fatalf("a task without the label was claimed: %+v", o.Lease)
	}
	stop()
	// The worktree and the run's state are gone.
	cov, _ := f.svc.CovenantDir()
	if _, err := os.Stat(filepath.Join(filepath.Dir(cov), "covenant-worktrees", task.ID)); !os.IsNotExist(err) {
		t.Errorf("worktree left: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(cov, "daemon", "runs")); len(ents) != 0 {
		t.Errorf("run state left: %v", ents)
	}
	f.verifyClean()
	_ = context.Background
}

// A run that ended by itself is not repeated while only the agent and the
// daemon have acted on the task since (the failed task stays ready: no
// on.failure), whatever the number of scans; once someone else acts (a
// comment), the agent takes the task again.
func TestARunIsNotRepeatedUntilSomeoneElseActs(t *testing.T) {
	f := newFixture(t)
	agent := &daemon.Agent{Name: "bot", Identity: "bot", Labels: []string{"bot"}, Prompt: "none",
		Argv: []string{f.script("agent.sh", "echo cannot do it; exit 1\n")}, Env: []string{"PATH"}, Sandbox: "none"}
	d := f.daemon(agent)
	f.start(d)
	task := f.create("fails once", "bot")
	f.waitRuns(task.ID, 1)
	waitFor(t, "the lease to be given back", func() bool { return f.task(task.ID).Lease == nil })
	scans := d.Status().Scans
	waitFor(t, "three more scans", func() bool { return d.Status().Scans >= scans+3 })
	if rs, _ := f.svc.Runs(context.Background(), task.ID); len(rs) != 1 || rs[0].Succeeded() {
		t.Fatalf("runs after scans with nothing new: %+v", rs)
	}
	if _, err := f.svc.Comment(context.Background(), task.ID, "try again, the input is fixed"); err != nil {
		t.Fatal(err)
	}
	rs := f.waitRuns(task.ID, 2)
	if rs[1].Epoch == rs[0].Epoch {
		t.Fatalf("the second run reused epoch %d", rs[0].Epoch)
	}
}
