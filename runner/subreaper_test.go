//go:build linux

package runner

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemonReport is what TestDaemonProcess prints.
type daemonReport struct {
	Agent, Grandchild, Escaped int
	TimedOut                   bool
	Signal                     string
	GrandchildReaped           bool
	EscapedOrphan              bool // the setsid'd one outlived the group kill, re-parented to us
	EscapedReaped              bool
	Reaped                     int
	Err                        string
}

// TestDaemonProcess is the "daemon" of TestSubreaperReapsWhatTheGroupLeft,
// run as a process of its own so that being a subreaper stays there.
func TestDaemonProcess(t *testing.T) {
	dir := os.Getenv("RUNNER_DAEMON_DIR")
	if dir == "" {
		return
	}
	rep := daemonReport{}
	defer func() {
		json.NewEncoder(os.Stdout).Encode(rep)
		os.Exit(0)
	}()
	r, err := StartReaper()
	if err != nil {
		rep.Err = err.Error()
		return
	}
	defer r.Stop()
	// The agent ignores SIGTERM and forks a grandchild that ignores it too
	// (in the group) and one that leaves the group (setsid).
	script := `trap "" TERM
sh -c 'trap "" TERM; echo $$ > gc; while :; do sleep 1; done' &
setsid sh -c 'trap "" TERM; echo $$ > escaped; exec sleep 1000' &
while :; do sleep 1; done`
	c := sh(script)
	c.Dir = dir
	c.Timeout, c.Grace = 300*time.Millisecond, 300*time.Millisecond
	// Started runs before the timeout's clock starts: wait there for the
	// agent to have forked both.
	read := func(name string) int {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	c.Started = func(pid int) {
		rep.Agent = pid
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if read("gc") > 0 && read("escaped") > 0 {
				return
			}
		}
	}
	res, err := Run(context.Background(), c)
	if err != nil {
		rep.Err = err.Error()
		return
	}
	rep.TimedOut, rep.Signal = res.TimedOut, res.Signal
	rep.Grandchild, rep.Escaped = read("gc"), read("escaped")
	if rep.Grandchild == 0 || rep.Escaped == 0 {
		rep.Err = "the agent did not write its children's pids before the timeout"
		return
	}
	rep.GrandchildReaped = waitReaped(rep.Grandchild)
	for _, p := range r.Orphans() {
		rep.EscapedOrphan = rep.EscapedOrphan || p == rep.Escaped
	}
	r.KillOrphans()
	rep.EscapedReaped = waitReaped(rep.Escaped)
	rep.Reaped = r.Reaped()
}

func waitReaped(pid int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if reaped(pid) {
			return true
		}
	}
	return false
}

// An agent that ignores SIGTERM and forks is gone after timeout + grace,
// group and orphans: the group member is killed with the group and reaped
// by the subreaper, the one that left the group is killed as an orphan;
// no zombie is left, and a process of the same name outside the group
// survives.
func TestSubreaperReapsWhatTheGroupLeft(t *testing.T) {
	bystander := exec.Command("sleep", "1000")
	bystander.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		bystander.Process.Kill()
		bystander.Wait()
	}()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := Run(context.Background(), Command{
		Argv: []string{exe, "-test.run=^TestDaemonProcess$"},
		Env:  []string{sysPath, "RUNNER_DAEMON_DIR=" + dir},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := res.Tail
	var rep daemonReport
	if err := json.Unmarshal(out[strings.LastIndex(strings.TrimSpace(string(out)), "\n")+1:], &rep); err != nil {
		t.Fatalf("daemon output %q: %v", out, err)
	}
	if rep.Err != "" {
		t.Fatal(rep.Err)
	}
	if !rep.TimedOut || rep.Signal != "SIGKILL" {
		t.Fatalf("the agent ignoring SIGTERM was not killed after the grace period: %+v", rep)
	}
	if !rep.GrandchildReaped {
		t.Fatalf("the grandchild in the group is still there (a zombie, or alive): %+v", rep)
	}
	if !rep.EscapedOrphan || !rep.EscapedReaped {
		t.Fatalf("the grandchild that left the group: %+v", rep)
	}
	if rep.Reaped < 2 {
		t.Fatalf("the subreaper reaped %d orphans, want both grandchildren: %+v", rep.Reaped, rep)
	}
	for _, pid := range []int{rep.Agent, rep.Grandchild, rep.Escaped} {
		if !reaped(pid) {
			t.Fatalf("process %d is still there", pid)
		}
	}
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the bystander sleep outside the group was killed: %v", err)
	}
	if _, err := Lookup(bystander.Process.Pid); err != nil {
		t.Fatalf("bystander: %v", err)
	}
}
