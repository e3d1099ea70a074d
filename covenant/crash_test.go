package covenant_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/oplog"
)

// TestCrashSafety kills a writer with SIGKILL at random moments and checks
// after each kill that the repository verifies, git fsck --strict is clean,
// the index agrees with the feeds, and the next write goes through without
// a stale lock blocking it.
func TestCrashSafety(t *testing.T) {
	const iterations = 15
	f := newFixture(t)
	f.initAlice()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	recovered, lastOps := 0, 0
	for i := 0; i < iterations; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = f.env(writeLoopEnv + "=" + f.dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(40+rng.IntN(260)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("iteration %d: the writer was not killed but ended on its own: %v\n%s", i, err, stderr.String())
		}

		res := f.cli("verify", "--json")
		if res.code != 0 {
			t.Fatalf("iteration %d: verify after SIGKILL: %s", i, res)
		}
		var rep covenant.VerifyReport
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Ops != rep.Applied || rep.Ops < lastOps {
			t.Fatalf("iteration %d: verify report %+v (had %d ops before)", i, rep, lastOps)
		}
		f.fsck()
		// The index holds exactly the tasks the feed creates: every
		// create that is in the feed is whole and folded.
		creates := 0
		st := f.store()
		for _, c := range f.feedCommits(gitstore.FeedRef(f.aliceKey())) {
			fc, err := st.ReadFeedCommit(mustHash(t, c))
			if err != nil {
				t.Fatal(err)
			}
			if op, err := oplog.Decode(fc.Op); err != nil {
				t.Fatalf("iteration %d: commit %s: %v", i, c, err)
			} else if op.Type == "task.create" {
				creates++
			}
		}
		if n := len(f.taskList()); n != creates {
			t.Fatalf("iteration %d: task list has %d tasks, the feed creates %d", i, n, creates)
		}

		// The next write succeeds, recovering a ref lock the killed
		// writer may have left.
		res = f.cli("task", "create", "after kill")
		if res.code != 0 {
			t.Fatalf("iteration %d: first write after SIGKILL: %s", i, res)
		}
		if strings.Contains(res.stderr, "left by a killed writer") {
			recovered++
		}
		if locks := f.lockFiles(); len(locks) != 0 {
			t.Fatalf("iteration %d: lock files left after a write: %v", i, locks)
		}
		lastOps = rep.Ops + 1
	}
	f.verifyClean()
	f.fsck()
	loops := 0
	for _, tk := range f.taskList() {
		if strings.HasPrefix(tk.Title, "loop ") {
			loops++
		}
	}
	if loops == 0 {
		t.Fatal("the killed writers never wrote anything: the test did not exercise writes")
	}
	t.Logf("%d iterations, %d ops written by killed writers, %d stale ref locks recovered", iterations, loops, recovered)
}

func (f *fixture) aliceKey() string {
	f.t.Helper()
	id, err := f.open().Actor("")
	if err != nil {
		f.t.Fatal(err)
	}
	return id.KeyID
}

// plantIntent records, as a writer holding lockPath does, the intent of a
// writer killed before it could finish: the lock file at lockPath is a hard
// link to the writer's own file, which the intent names.
func (f *fixture) plantIntent(lockPath, value string) {
	f.t.Helper()
	d, err := f.store().CovenantDir()
	if err != nil {
		f.t.Fatal(err)
	}
	own := filepath.Join(d, "ref-lock-planted.tmp")
	os.Remove(own)
	if err := os.Link(lockPath, own); err != nil {
		f.t.Fatal(err)
	}
	rec := fmt.Sprintf("%s\n%s\n%s\n", lockPath, value, own)
	if err := os.WriteFile(filepath.Join(d, "ref-intent"), []byte(rec), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// TestStaleRefLockRecovered plants what a writer killed between taking a
// feed's ref lock and renaming it leaves behind: the intent record and the
// lock file, empty or holding the value it meant to write. The next write
// removes the lock and succeeds.
func TestStaleRefLockRecovered(t *testing.T) {
	for _, name := range []string{"empty", "written"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.initAlice()
			st := f.store()
			ref := gitstore.FeedRef(f.aliceKey())
			lockPath := filepath.Join(st.CommonDir, filepath.FromSlash(ref)) + ".lock"
			value := strings.Repeat("ab", 20)
			content := ""
			if name == "written" {
				content = value + "\n"
			}
			if err := os.WriteFile(lockPath, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			f.plantIntent(lockPath, value)
			before := f.covenantRefs()
			res := f.cli("task", "create", "after crash")
			if res.code != 0 {
				t.Fatalf("write after a killed writer: %s", res)
			}
			if !strings.Contains(res.stderr, "left by a killed writer") {
				t.Fatalf("no note of the recovered lock on stderr: %q", res.stderr)
			}
			if _, err := os.Stat(lockPath); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("lock still there: %v", err)
			}
			if f.covenantRefs() == before {
				t.Fatal("the write did not move the feed")
			}
			f.verifyClean()
		})
	}
}

// TestForeignRefLockRespected: a ref lock with no intent record is held by
// some other git process, not a dead git-covenant writer. It must not be
// removed; the write fails with exit 5 and writes nothing.
func TestForeignRefLockRespected(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	st := f.store()
	lockPath := filepath.Join(st.CommonDir, filepath.FromSlash(gitstore.FeedRef(f.aliceKey()))) + ".lock"
	if err := os.WriteFile(lockPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before := f.covenantRefs()
	res := f.cli("task", "create", "blocked")
	if res.code != 5 {
		t.Fatalf("write against a live lock: want exit 5, got %s", res)
	}
	if _, err := os.Stat(lockPath); err != nil {
		t.Fatalf("a live process's lock was removed: %v", err)
	}
	if after := f.covenantRefs(); after != before {
		t.Fatalf("refs changed:\n%s\n%s", before, after)
	}
	os.Remove(lockPath)
	f.mustCLI("task", "create", "unblocked")
	if f.covenantRefs() == before {
		t.Fatal("the write after the lock went away did not move the feed")
	}
}

// TestLiveGitLockNeverRemoved holds alice's <ref>.lock from a real
// `git update-ref --stdin` transaction (start, update, prepare, stdin kept
// open) while intent records of a dead writer name the same lock: one
// taken before it held anything, one holding a lock file since replaced,
// one with the value git is writing. A covenant write waits, fails busy
// (exit 5) and never removes git's lock; once git commits, the next write
// goes through on top of git's value.
func TestLiveGitLockNeverRemoved(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	f.mustCLI("task", "create", "before")
	st := f.store()
	ref := gitstore.FeedRef(f.aliceKey())
	lockPath := filepath.Join(st.CommonDir, filepath.FromSlash(ref)) + ".lock"
	head := f.git("rev-parse", ref)
	// git moves alice's feed back to its parent; that value is what its
	// lock holds, and what the dead writer's intents name.
	parent := f.git("rev-parse", ref+"^")
	d, err := st.CovenantDir()
	if err != nil {
		t.Fatal(err)
	}
	// An earlier lock file at the same path, long gone, whose inode the
	// dead writer recorded.
	if err := os.WriteFile(lockPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.plantIntent(lockPath, parent)
	stale, err := os.ReadFile(filepath.Join(d, "ref-intent"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(lockPath)

	for _, intent := range []string{
		lockPath + "\n" + parent + "\n-\n", // died before it held the lock
		string(stale),                      // held another file at that path
	} {
		// The dead writer's intent is older than git's lock.
		if err := os.WriteFile(filepath.Join(d, "ref-intent"), []byte(intent), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // a later modification time for git's lock, on any file system
		cmd := exec.Command("git", "update-ref", "--stdin")
		cmd.Dir, cmd.Env = f.dir, f.env()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(stdin, "start\nupdate %s %s %s\nprepare\n", ref, parent, head)
		buf := make([]byte, 64)
		got := ""
		for !strings.Contains(got, "prepare: ok") {
			n, err := stdout.Read(buf)
			if err != nil {
				t.Fatalf("git update-ref --stdin: %v (read %q)", err, got)
			}
			got += string(buf[:n])
		}
		if _, err := os.Stat(lockPath); err != nil {
			t.Fatalf("git holds no lock while prepared: %v", err)
		}
		before := f.covenantRefs()
		res := f.cli("task", "create", "while git holds the lock")
		if res.code != 5 {
			t.Fatalf("write against git's live lock: want exit 5, got %s", res)
		}
		if _, err := os.Stat(lockPath); err != nil {
			t.Fatalf("git's live lock was removed: %v", err)
		}
		if after := f.covenantRefs(); after != before {
			t.Fatalf("refs changed under git's lock:\n%s\n%s", before, after)
		}
		fmt.Fprintf(stdin, "commit\n")
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("git update-ref --stdin commit: %v", err)
		}
		if now := f.git("rev-parse", ref); now != parent {
			t.Fatalf("git's transaction did not commit: %s, want %s", now, parent)
		}
		// git moved the feed back one op; put it forward again for the next
		// round, as its holder would.
		f.git("update-ref", ref, head, parent)
	}
	f.mustCLI("task", "create", "after git")
	f.verifyClean()
}
