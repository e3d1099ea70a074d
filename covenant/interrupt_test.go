package covenant_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/runner"
	"github.com/git-covenant/git-covenant/tasks"
)

// The SIGINT acceptance tests: a first Ctrl-C stops the command, its
// clean-up runs (temporary worktree, child process group, locks) and it
// exits 130. Real processes throughout; the waits are bounded (10 s), not
// timed.

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startCLI starts the binary in the fixture's repository.
func (f *fixture) startCLI(args ...string) (*exec.Cmd, *lockedBuffer) {
	f.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir, cmd.Env = f.dir, f.env()
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = &lockedBuffer{}, stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, stderr
}

// waitFor polls cond for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// interrupt sends SIGINT to the process alone and returns its exit status,
// failing if it has not exited within 10 s.
func interrupt(t *testing.T, cmd *exec.Cmd, stderr *lockedBuffer) int {
	t.Helper()
	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	defer func() { t.Logf("exited %s after SIGINT", time.Since(sent).Round(time.Millisecond)) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill() // the process this test started, not yet reaped
		<-done
		t.Fatalf("still running 10 s after SIGINT; stderr:\n%s", stderr)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// childPid waits for the command under test to write its pid to path.
func childPid(t *testing.T, path string) runner.Process {
	t.Helper()
	var p runner.Process
	waitFor(t, "the child's pid file", func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return false
		}
		p, err = runner.Lookup(pid)
		return err == nil
	})
	return p
}

// assertClean checks what an interrupted command must not leave: a linked
// worktree, a lock file under .git (the flock file write.lock stays, but
// nobody holds it), or its child.
func (f *fixture) assertClean(child *runner.Process) {
	f.t.Helper()
	if out := f.git("worktree", "list", "--porcelain"); strings.Count(out, "worktree ") != 1 {
		f.t.Fatalf("worktrees left:\n%s", out)
	}
	var locks []string
	filepath.WalkDir(filepath.Join(f.dir, ".git"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".lock") && p != filepath.Join(f.dir, ".git", "covenant", "write.lock") {
			locks = append(locks, p)
		}
		return nil
	})
	if len(locks) > 0 {
		f.t.Fatalf("lock files left: %v", locks)
	}
	if lf, err := os.OpenFile(filepath.Join(f.dir, ".git", "covenant", "write.lock"), os.O_RDWR, 0); err == nil {
		if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.t.Fatalf("write.lock still held: %v", err)
		}
		lf.Close()
	}
	if child != nil {
		waitFor(f.t, "the child to be gone", func() bool { return !child.Alive() })
	}
}

// sleeper is a command that records its pid and sleeps 30 s.
func sleeper(pidFile string) []string {
	return []string{"sh", "-c", `echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 30`, pidFile}
}

// TestInterruptProvenanceRecord: SIGINT during `provenance record -- sleep
// 30` exits 130, removes the temporary worktree and stops the command.
func TestInterruptProvenanceRecord(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd, stderr := f.startCLI(append([]string{"provenance", "record", "--"}, sleeper(pidFile)...)...)
	child := childPid(t, pidFile)
	if code := interrupt(t, cmd, stderr); code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "git-covenant: error: interrupted") {
		t.Fatalf("stderr:\n%s", stderr)
	}
	f.assertClean(&child)
	if out := f.git("notes", "--ref=covenant", "list"); out != "" {
		t.Fatalf("a note was written: %s", out)
	}
}

// TestInterruptTaskCheck: SIGINT during `task check -- sleep 30` exits
// 130, stops the command and records nothing.
func TestInterruptTaskCheck(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	id := strings.TrimSpace(f.mustCLI("task", "create", "interrupt me"))
	before := f.feeds()
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd, stderr := f.startCLI(append([]string{"task", "check", id, "--gate", "tests", "--"}, sleeper(pidFile)...)...)
	child := childPid(t, pidFile)
	if code := interrupt(t, cmd, stderr); code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	f.assertClean(&child)
	if after := f.feeds(); len(after) != len(before) || after[firstKey(before)] != before[firstKey(before)] {
		t.Fatalf("feeds moved: %v -> %v", before, after)
	}
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

// TestInterruptVerifyFull: SIGINT during `verify --full` of 3,000
// ops exits 130 and leaves no lock. The signal is sent once the process
// has done some CPU work (so it is past start-up and into the verify).
func TestInterruptVerifyFull(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	writeOps(t, f, 3000)
	cmd, stderr := f.startCLI("verify", "--full")
	waitFor(t, "verify to get going", func() bool { return cpuTicks(cmd.Process.Pid) >= 5 || cmd.ProcessState != nil })
	code := interrupt(t, cmd, stderr)
	if code == 0 {
		t.Fatalf("verify --full finished before the signal landed (write more ops); stderr:\n%s", stderr)
	}
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	f.assertClean(nil)
	f.verifyClean()
}

// cpuTicks is the user+system CPU time of pid so far, in clock ticks.
func cpuTicks(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	fs := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fs) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(fs[11])
	k, _ := strconv.Atoi(fs[12])
	return u + k
}

// writeOps appends n task.create ops to alice's feed, 1,000 per write (one
// commit per op, one ref update per write).
func writeOps(t *testing.T, f *fixture, n int) {
	t.Helper()
	svc := f.open()
	defer svc.Close()
	for done := 0; done < n; done += 1000 {
		ds := make([]covenant.Draft, min(1000, n-done))
		for i := range ds {
			b := tasks.CreateBody{Title: "op " + strconv.Itoa(done+i)}
			ds[i] = covenant.Draft{Type: tasks.OpCreate, NewTask: true, Body: b, Summary: b.Title}
		}
		if _, err := svc.Append(context.Background(), ds); err != nil {
			t.Fatal(err)
		}
	}
}
