package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as the child for the cases a shell cannot write
// exactly: it runs TestHelperProcess with RUNNER_HELPER naming the mode.
func helper(mode string, env ...string) Command {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return Command{Argv: []string{exe, "-test.run=^TestHelperProcess$"}, Env: append([]string{"RUNNER_HELPER=" + mode}, env...)}
}

func TestHelperProcess(t *testing.T) {
	switch os.Getenv("RUNNER_HELPER") {
	case "":
		return
	case "env":
		env := os.Environ()
		slices.Sort(env)
		fmt.Print(strings.Join(env, "\n"))
	case "output":
		// Alternate stdout and stderr, unbuffered, so the combined order is
		// the order of the writes.
		for i := range 4096 {
			f := os.Stdout
			if i%2 == 1 {
				f = os.Stderr
			}
			f.Write(chunk(i))
		}
	}
	os.Exit(0)
}

// chunk is the i-th write of the output helper: 257 bytes that differ per i.
func chunk(i int) []byte {
	return []byte(fmt.Sprintf("%06d:%s\n", i, strings.Repeat(string(rune('a'+i%26)), 249)))
}

var sysPath = "PATH=/usr/local/bin:/usr/bin:/bin"

func sh(script string) Command {
	return Command{Argv: []string{"sh", "-c", script}, Env: []string{sysPath}}
}

// gone reports whether pid no longer runs (absent, or a zombie awaiting a
// reaper that is not us: an orphan's reaper is pid 1), waiting a bounded
// while for a kill already sent to land.
func gone(pid int) bool {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := Lookup(pid); errors.Is(err, ErrNoProcess) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// reaped reports whether pid has no /proc entry at all.
func reaped(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return errors.Is(err, os.ErrNotExist)
}

// lineWatcher is an Echo that reports when a line appears.
type lineWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func watchFor(line string) *lineWatcher {
	return &lineWatcher{want: line, seen: make(chan struct{})}
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want+"\n") {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWatcher) wait(t *testing.T) {
	t.Helper()
	select {
	case <-w.seen:
	case <-time.After(30 * time.Second):
		t.Fatalf("the child never printed %q", w.want)
	}
}

// TestCancelKillsTheGroup: a child that ignores SIGTERM and has forked a
// grandchild (which inherits the ignored SIGTERM) is killed with its whole
// group after the grace period and reaped, while an unrelated process of
// the same name, started by the test outside the group, survives.
func TestCancelKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	bystander := exec.Command("sleep", "300")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { bystander.Process.Kill(); bystander.Wait() }()

	c := sh(`trap '' TERM; sleep 300 & echo $! > grandchild.pid; echo ready; wait; echo unreachable`)
	c.Dir = dir
	c.Grace = 300 * time.Millisecond
	w := watchFor("ready")
	c.Echo = w
	ctx, cancel := context.WithCancel(context.Background())
	var pid int
	c.Started = func(p int) { pid = p }
	done := make(chan struct{})
	var res *Result
	var err error
	go func() { res, err = Run(ctx, c); close(done) }()
	w.wait(t)
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrCancelled wrapping context.Canceled", err)
	}
	if !res.Cancelled || res.TimedOut || res.Signal != "SIGKILL" || res.ExitCode != 137 {
		t.Fatalf("result = %+v, want cancelled and ended by SIGKILL (137)", res)
	}
	if res.Pid != pid || !reaped(pid) {
		t.Fatalf("child %d not reaped", pid)
	}
	b, rerr := os.ReadFile(filepath.Join(dir, "grandchild.pid"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	gc, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if gc == 0 || !gone(gc) {
		t.Fatalf("grandchild %d still runs", gc)
	}
	if _, err := Lookup(bystander.Process.Pid); err != nil {
		t.Fatalf("the unrelated sleep was killed: %v", err)
	}
	if strings.Contains(string(res.Tail), "unreachable") {
		t.Fatal("the child ran on after the kill")
	}
}

// TestStopSendsTERMFirst: a child that handles SIGTERM ends on it, within
// the grace period, with its own status.
func TestStopSendsTERMFirst(t *testing.T) {
	c := sh(`trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done`)
	c.Grace = 30 * time.Second
	w := watchFor("ready")
	c.Echo = w
	ctx, cancel := context.WithCancel(context.Background())
	go func() { w.wait(t); cancel() }()
	res, err := Run(ctx, c)
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("err = %v", err)
	}
	if res.ExitCode != 3 || res.Signal != "" || !strings.Contains(string(res.Tail), "got TERM") {
		t.Fatalf("result = %+v tail %q, want exit 3 after TERM", res, res.Tail)
	}
}

// TestTimeout: a command that outlives its timeout is stopped and reported
// as timed out; that is evidence, not an error.
func TestTimeout(t *testing.T) {
	c := sh(`echo started; exec sleep 300`)
	c.Timeout = 200 * time.Millisecond
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.Cancelled || res.Signal != "SIGTERM" || res.ExitCode != 143 {
		t.Fatalf("result = %+v, want timed out, ended by SIGTERM (143)", res)
	}
	if !reaped(res.Pid) {
		t.Fatalf("child %d not reaped", res.Pid)
	}
	if string(res.Tail) != "started\n" {
		t.Fatalf("tail = %q", res.Tail)
	}
}

// TestOutputCap: the tail is the last TailBytes of the combined output and
// the digest and count cover all of it, stdout and stderr in write order.
func TestOutputCap(t *testing.T) {
	var want []byte
	for i := range 4096 {
		want = append(want, chunk(i)...)
	}
	c := helper("output")
	c.TailBytes = 1000
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(want)
	if res.ExitCode != 0 || res.OutputBytes != int64(len(want)) || res.OutputSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("exit %d, %d bytes, digest %s; want 0, %d bytes, %x", res.ExitCode, res.OutputBytes, res.OutputSHA256, len(want), sum)
	}
	if !bytes.Equal(res.Tail, want[len(want)-1000:]) {
		t.Fatalf("tail is not the last 1000 bytes:\n%q", res.Tail)
	}
	if cap(res.Tail) > 4*1000 {
		t.Fatalf("tail buffer grew to %d bytes for a 1000-byte cap", cap(res.Tail))
	}
}

// TestEnvIsExactlyWhatWasPassed: nothing of this process's environment
// reaches the child, and a program is looked up in the given PATH only.
func TestEnvIsExactlyWhatWasPassed(t *testing.T) {
	t.Setenv("RUNNER_LEAK", "from the parent")
	c := helper("env", "A=1", "B=two words")
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Tail), "A=1\nB=two words\nRUNNER_HELPER=env"; got != want {
		t.Fatalf("child environment:\n%s\nwant:\n%s", got, want)
	}
	if _, err := Run(context.Background(), Command{Argv: []string{"sh", "-c", "true"}, Env: []string{"X=1"}}); !errors.Is(err, ErrStart) {
		t.Fatalf("sh found without a PATH in the environment: %v", err)
	}
	res, err = Run(context.Background(), Command{Argv: []string{"sh", "-c", `echo "$X"; exit 7`}, Env: []string{sysPath, "X=1"}})
	if err != nil || res.ExitCode != 7 || string(res.Tail) != "1\n" {
		t.Fatalf("res %+v err %v", res, err)
	}
}

// TestStdinDirAndUsage: stdin and the directory are the given ones, and
// the resource usage of the child is reported.
func TestStdinDirAndUsage(t *testing.T) {
	dir := t.TempDir()
	c := sh(`pwd; cat; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done`)
	c.Dir, c.Stdin = dir, strings.NewReader("from stdin\n")
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if string(res.Tail) != real+"\nfrom stdin\n" && string(res.Tail) != dir+"\nfrom stdin\n" {
		t.Fatalf("tail = %q", res.Tail)
	}
	if res.MaxRSS <= 0 || res.CPU() <= 0 || res.Duration <= 0 {
		t.Fatalf("usage not reported: %+v", res)
	}
}

// TestCancelledBeforeStart: nothing is started for a context already done.
func TestCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	started := false
	c := sh("true")
	c.Started = func(int) { started = true }
	if _, err := Run(ctx, c); !errors.Is(err, ErrCancelled) || started {
		t.Fatalf("err %v, started %v", err, started)
	}
}

// TestProcessIdentity: a process is alive while it runs with the recorded
// start time, and gone once it has exited or when the start time differs
// (the pid was reused).
func TestProcessIdentity(t *testing.T) {
	me, err := Self()
	if err != nil || !me.Alive() {
		t.Fatalf("self %v alive=%v err %v", me, me.Alive(), err)
	}
	if p, err := ParseProcess(me.String()); err != nil || p != me {
		t.Fatalf("round trip %v -> %v, %v", me, p, err)
	}
	if (Process{Pid: me.Pid, Start: me.Start + 1}).Alive() {
		t.Fatal("a different start time counts as the same process")
	}
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := Lookup(cmd.Process.Pid)
	if err != nil || !p.Alive() {
		t.Fatalf("running child %v: %v", p, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if p.Alive() {
		t.Fatal("an exited child counts as alive")
	}
	for _, bad := range []string{"", "12", "x 1", "0 5", "1 2 3"} {
		if _, err := ParseProcess(bad); err == nil {
			t.Fatalf("ParseProcess(%q) accepted", bad)
		}
	}
}
