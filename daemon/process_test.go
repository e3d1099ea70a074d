package daemon_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/runner"
	"github.com/git-covenant/git-covenant/runs"
)

// readPid reads a pid a script wrote, waiting for it (bounded).
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, path, func() bool {
		b, err := os.ReadFile(path)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

// gone reports whether pid has no /proc entry at all (not even a zombie),
// waiting a bounded while for a kill already sent to land.
func gone(pid int) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, os.ErrNotExist) {
			return true
		}
	}
	return false
}

// An agent that ignores SIGTERM and forks a grandchild (in its group) and
// an orphan (setsid, out of its group, whose parent exits) is gone, group
// and orphan, after timeout and grace; nothing is left as a zombie; an
// unrelated process with the same name, outside the group, survives. The
// run is recorded as timed out and the task moves per on.failure.
func TestTimeoutKillsGroupAndOrphans(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	bystander := exec.Command("sleep", "300")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { bystander.Process.Kill(); bystander.Wait() }()
	agent := &daemon.Agent{Name: "stubborn", Identity: "bot", Labels: []string{"stubborn"}, Prompt: "none", Sandbox: "none",
		Env: []string{"PATH"}, Timeout: 700 * time.Millisecond, Grace: 300 * time.Millisecond, OnFailure: "blocked",
		Argv: []string{"sh", "-c", `trap '' TERM
sleep 300 & echo $! > ` + dir + `/grandchild
sh -c 'setsid sleep 300 & echo $! > ` + dir + `/orphan' 
echo $$ > ` + dir + `/agent
while :; do sleep 1; done`}}
	stop := f.start(f.daemon(agent))
	task := f.create("never ends", "stubborn")
	gc, orphan, leader := readPid(t, dir+"/grandchild"), readPid(t, dir+"/orphan"), readPid(t, dir+"/agent")
	rec := f.waitRuns(task.ID, 1)[0]
	if rec.Outcome != runs.TimedOut || rec.Signal != "SIGKILL" || *rec.ExitCode != 137 {
		t.Fatalf("record: outcome %s signal %s exit %d, want timed-out by SIGKILL (137)", rec.Outcome, rec.Signal, *rec.ExitCode)
	}
	for what, pid := range map[string]int{"agent": leader, "grandchild": gc, "orphan": orphan} {
		if !gone(pid) {
			st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			t.Errorf("%s %d still there: %s", what, pid, st)
		}
	}
	if _, err := runner.Lookup(bystander.Process.Pid); err != nil {
		t.Fatalf("the unrelated sleep was killed: %v", err)
	}
	waitFor(t, "the lease to be given back", func() bool { return f.task(task.ID).Lease == nil })
	if s := f.task(task.ID).State; s != "blocked" {
		t.Errorf("state %s after a timed-out run, want blocked (on.failure)", s)
	}
	stop()
	f.verifyClean()
}

// daemon stop drains: a running agent gets SIGTERM (and ends on it, within
// its grace), the run is recorded as stopped, and the task gets a
// checkpoint handoff that gives the lease back.
func TestDrainOnStop(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	agent := &daemon.Agent{Name: "slow", Identity: "bot", Labels: []string{"slow"}, Prompt: "none", Sandbox: "none", Env: []string{"PATH"},
		Grace: 30 * time.Second, OnFailure: "blocked",
		Argv: []string{"sh", "-c", `trap 'echo got TERM; exit 3' TERM; touch ` + dir + `/started; while :; do sleep 0.05; done`}}
	stop := f.start(f.daemon(agent))
	task := f.create("slow work", "slow")
	waitFor(t, "the agent to start", func() bool { _, err := os.Stat(filepath.Join(dir, "started")); return err == nil })
	stop()
	rs := f.waitRuns(task.ID, 1)
	if rec := rs[0]; rec.Outcome != runs.Stopped || *rec.ExitCode != 3 {
		t.Fatalf("record: outcome %s exit %d, want stopped with the agent's own exit 3", rec.Outcome, *rec.ExitCode)
	}
	got := f.task(task.ID)
	if got.Lease != nil || got.Handoff == nil || !strings.Contains(got.Handoff.Summary, "checkpoint") || !strings.Contains(got.Handoff.Summary, "got TERM") {
		t.Fatalf("after the drain: lease %+v handoff %+v", got.Lease, got.Handoff)
	}
	if got.State != "in_progress" {
		t.Errorf("a stopped run moved the task to %s", got.State)
	}
	f.verifyClean()
}
