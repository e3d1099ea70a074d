package remote_test

import (
	"context"
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

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/remote"
	"github.com/git-covenant/git-covenant/runner"
)

// TestSyncKilled kills `git covenant sync` (its whole process group, git
// children included) at random moments while it receives and sends
// hundreds of ops over smart HTTP. After every kill verify is clean, git
// fsck is happy and no ref lock is left; a final sync completes, and
// nothing is lost or duplicated.
func TestSyncKilled(t *testing.T) {
	cl := newCluster(t, "http", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	ra, rb := alice.repo(), bob.repo()
	for i := 0; i < 150; i++ {
		if _, err := ra.CreateTask(context.Background(), taskBody(fmt.Sprintf("alice %d", i))); err != nil {
			t.Fatal(err)
		}
		if _, err := rb.CreateTask(context.Background(), taskBody(fmt.Sprintf("bob %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	alice.sync()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	killed := 0
	for i := 0; i < 6; i++ {
		cmd := exec.Command(binPath, "sync")
		cmd.Dir, cmd.Env = bob.dir, bob.env()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+rng.IntN(120)) * time.Millisecond)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if err := cmd.Wait(); err != nil {
			killed++
		}
		if res := bob.cli("verify"); res.code != 0 {
			t.Fatalf("iteration %d: verify after SIGKILL: %s", i, res)
		}
		if out, err := exec.Command("git", "-C", bob.dir, "fsck", "--no-dangling", "--no-progress").CombinedOutput(); err != nil {
			t.Fatalf("iteration %d: git fsck: %v\n%s", i, err, out)
		}
	}
	t.Logf("%d of 6 syncs were killed before they finished", killed)
	bob.sync()
	alice.sync()
	cl.assertConverged()
	var list []struct{ ID string }
	if err := json.Unmarshal([]byte(bob.mustCLI("task", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tk := range list {
		if seen[tk.ID] {
			t.Fatalf("task %s listed twice", tk.ID)
		}
		seen[tk.ID] = true
	}
	if len(list) != 300 {
		t.Fatalf("%d tasks after the syncs, want 300", len(list))
	}
	if got, want := bob.logCount(), bob.feedLength(); got != want {
		t.Fatalf("log has %d ops, feeds %d commits", got, want)
	}
	var locks []string
	filepath.WalkDir(filepath.Join(bob.dir, ".git", "refs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".lock") {
			locks = append(locks, p)
		}
		return nil
	})
	if len(locks) > 0 {
		t.Fatalf("lock files left: %v", locks)
	}
}

// TestSyncKilledAlone: SIGKILL of a sync alone (not its process group)
// takes its git fetch child with it; the next sync runs. The remote's
// upload-pack is made to hang, so only the kernel's parent-death signal
// can end that fetch.
func TestSyncKilledAlone(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	alice.create("one")
	alice.sync()
	hang := filepath.Join(t.TempDir(), "hang-upload-pack")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nread x\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bob.git("config", "remote.origin.uploadpack", hang)
	cmd := exec.Command(binPath, "sync")
	cmd.Dir, cmd.Env = bob.dir, bob.env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var fetch runner.Process
	for deadline := time.Now().Add(30 * time.Second); fetch.Pid == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("sync started no git child")
		}
		for _, pid := range childrenOf(cmd.Process.Pid, "git") {
			if p, err := runner.Lookup(pid); err == nil {
				fetch = p
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); fetch.Alive(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(fetch.Pid, syscall.SIGKILL) // still the process this test's sync started
			t.Fatalf("git child %d outlived its killed sync", fetch.Pid)
		}
	}
	bob.git("config", "--unset", "remote.origin.uploadpack")
	if rep := bob.sync(); len(rep.Received) != 1 {
		t.Fatalf("received %v", rep.Received)
	}
}

// childrenOf lists the running children of pid whose command name is comm.
func childrenOf(pid int, comm string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 2 || s[open+1:end] != comm || f[1] != fmt.Sprint(pid) {
			continue
		}
		var child int
		fmt.Sscan(e.Name(), &child)
		out = append(out, child)
	}
	return out
}

// TestStaleStagingLock: a ref lock left in the staging namespace by a
// killed fetch is removed once the processes recorded as its owners are
// gone, and never while one of them runs; a lock no git-covenant fetch
// owns is left alone. Either refusal names the lock file.
func TestStaleStagingLock(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	alice.create("one")
	alice.sync()
	lock := filepath.Join(bob.dir, ".git", "refs", "covenant", "incoming", "origin", "feeds", cl.aliceKey()+".lock")
	owner := filepath.Join(bob.dir, ".git", "covenant", "staging", "origin.owner")
	plant := func(procs ...runner.Process) {
		t.Helper()
		os.MkdirAll(filepath.Dir(lock), 0o755)
		os.WriteFile(lock, nil, 0o644)
		if procs == nil {
			os.Remove(owner)
			return
		}
		var b strings.Builder
		for _, p := range procs {
			b.WriteString(p.String() + "\n")
		}
		os.MkdirAll(filepath.Dir(owner), 0o755)
		if err := os.WriteFile(owner, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(why string) {
		t.Helper()
		_, err := bob.repo().Sync(context.Background(), "origin")
		if !errors.Is(err, remote.ErrStagingLocked) || !strings.Contains(err.Error(), lock) {
			t.Fatalf("%s: sync error %v, want ErrStagingLocked naming %s", why, err, lock)
		}
		if _, err := os.Stat(lock); err != nil {
			t.Fatalf("%s: the lock was removed", why)
		}
	}

	// A live owner (a process this test started, standing in for a git
	// fetch that outlived its sync) keeps its lock.
	live := exec.Command("sleep", "300")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	liveProc, err := runner.Lookup(live.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	plant(runner.Process{Pid: dead.Process.Pid, Start: 1}, liveProc)
	refused("live owner")

	// No owner recorded: not ours to remove.
	plant()
	refused("no owner")

	// Once every recorded owner is gone, the next sync clears the lock.
	plant(runner.Process{Pid: dead.Process.Pid, Start: 1}, liveProc)
	live.Process.Kill()
	live.Wait()
	rep := bob.sync()
	if len(rep.Received) != 1 {
		t.Fatalf("received %v", rep.Received)
	}
	if _, err := os.Stat(lock); err == nil {
		t.Fatal("stale lock still there")
	}
	if _, err := os.Stat(owner); err == nil {
		t.Fatal("the owner record outlived the fetch")
	}
}

// TestPushRetried: the remote moves while sync pushes (its pre-receive
// hook advances a feed the push also updates, once). The push is refused,
// not forced; sync fetches again, fast-forwards the feed it was behind on,
// and pushes the rest on the second attempt.
func TestPushRetried(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	key := cl.aliceKey()
	alice.create("a1")
	alice.sync()
	a1 := alice.git("rev-parse", gitstore.FeedRef(key))
	alice.create("a2")
	a2 := alice.git("rev-parse", gitstore.FeedRef(key))
	alice.create("a3")
	a3 := alice.git("rev-parse", gitstore.FeedRef(key))
	// The remote has a3's objects, not under the feed ref.
	alice.git("push", "-q", "origin", a3+":refs/hidden/next")
	// Bob gets a2 straight from alice's clone, and writes his own op.
	bob.git("fetch", "-q", alice.dir, a2+":"+gitstore.FeedRef(key))
	bob.create("b1")
	hook := filepath.Join(cl.bare, "hooks", "pre-receive")
	os.WriteFile(hook, []byte(fmt.Sprintf(`#!/bin/sh
if [ ! -f "$GIT_DIR/moved" ]; then
	touch "$GIT_DIR/moved"
	env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES git update-ref %s %s %s
fi
`, gitstore.FeedRef(key), a3, a1)), 0o755)

	rep := bob.sync()
	if rep.Attempts != 2 {
		t.Fatalf("sync made %d attempt(s), want 2: %+v", rep.Attempts, rep)
	}
	if got := git(t, cl.bare, "rev-parse", gitstore.FeedRef(key)); got != a3 {
		t.Fatalf("the remote's feed is %s, want a3 %s (never overwritten)", got, a3)
	}
	if got := bob.git("rev-parse", gitstore.FeedRef(key)); got != a3 {
		t.Fatalf("bob's copy of alice's feed is %s, want a3", got)
	}
	if got := git(t, cl.bare, "rev-parse", gitstore.FeedRef(bob.key())); got != bob.git("rev-parse", gitstore.FeedRef(bob.key())) {
		t.Fatal("bob's feed was not pushed on the retry")
	}
}

// TestNotesUnion: provenance notes added on two clones, on the same and on
// different commits, end up as the union on both.
func TestNotesUnion(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	head := alice.git("rev-parse", "HEAD")
	root := alice.git("rev-list", "--max-parents=0", "HEAD")
	alice.git("notes", "--ref=covenant", "add", "-m", "from alice", head)
	bob.git("notes", "--ref=covenant", "add", "-m", "from bob", head)
	bob.git("notes", "--ref=covenant", "add", "-m", "bob on root", root)
	alice.sync()
	rep := bob.sync()
	if rep.Notes.Received != "merged" || !rep.Notes.Sent {
		t.Fatalf("notes report %+v", rep.Notes)
	}
	alice.sync()
	for _, c := range []*clone{alice, bob} {
		if got := c.git("notes", "--ref=covenant", "show", head); got != "from alice\nfrom bob" {
			t.Fatalf("%s: note on HEAD is %q", c.name, got)
		}
		if got := c.git("notes", "--ref=covenant", "show", root); got != "bob on root" {
			t.Fatalf("%s: note on the root commit is %q", c.name, got)
		}
		if !strings.Contains(c.git("log", "-1", "--notes=covenant", head), "from bob") {
			t.Fatalf("%s: git log --notes=covenant does not show the merged note", c.name)
		}
	}
	if alice.git("rev-parse", "refs/notes/covenant") != bob.git("rev-parse", "refs/notes/covenant") {
		t.Fatal("notes refs differ after syncing")
	}
}

// writeFeed signs ops with a key nobody registered and publishes them as
// its feed in dir, as a client that skips every check would.
func writeFeed(t *testing.T, dir string, ks *identity.Keystore, name string, ops int) string {
	t.Helper()
	id, err := ks.New(name, identity.Agent, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ks.Signer(name)
	if err != nil {
		t.Fatal(err)
	}
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := id.KeyID()
	var recs []gitstore.Record
	now := time.Now().UTC().Truncate(time.Second)
	for seq := uint64(1); seq <= uint64(ops); seq++ {
		op := &oplog.Op{V: oplog.Version, Type: "actor.genesis", Actor: key, Seq: seq, Lamport: 1000 + seq, Time: oplog.FormatTime(now)}
		op.Body, _ = json.Marshal(map[string]string{"name": name, "role": "agent", "key": identity.FormatPublicKey(id.PublicKey)})
		if seq > 1 {
			op.Type, op.Task = "task.create", fmt.Sprintf("tk-%012d", seq)
			op.Body = []byte(`{"title":"spam"}`)
		}
		raw, err := op.Encode()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, gitstore.Record{Op: raw, Message: oplog.Message(op, "x"), Author: ledger.Author(name, key, now)})
	}
	hs, err := st.BuildFeedCommits(gitstore.ZeroHash, recs, signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateRef(gitstore.FeedRef(key), gitstore.ZeroHash, hs[len(hs)-1]); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestUntrustedFeedRefused: a feed signed by a key no root registered,
// pushed to the remote, is refused by sync: reported, never made a local
// feed, never pushed on.
func TestUntrustedFeedRefused(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	mallory := &clone{t: t, name: "mallory", dir: filepath.Join(t.TempDir(), "mallory"), home: filepath.Join(t.TempDir(), "keys")}
	git(t, "", "clone", "-q", cl.url, mallory.dir)
	key := writeFeed(t, mallory.dir, &identity.Keystore{Dir: mallory.home}, "mallory", 3)
	mallory.git("push", "-q", "origin", gitstore.FeedRef(key))
	alice.create("honest")
	if res := alice.cli("sync"); res.code != 10 {
		t.Fatalf("alice's sync: %s", res)
	}
	before := bob.digest()

	res := bob.cli("sync", "--json")
	if res.code != 10 {
		t.Fatalf("sync with an untrusted feed on the remote: want exit 10, got %s", res)
	}
	var rep struct {
		Received []struct{ Feed string }
		Findings []ledger.Finding
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Received) != 1 || rep.Received[0].Feed != cl.aliceKey() {
		t.Fatalf("received %+v, want alice's feed only", rep.Received)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != "untrusted-key" || rep.Findings[0].Feed != key {
		t.Fatalf("findings %+v", rep.Findings)
	}
	if out := bob.git("for-each-ref", gitstore.FeedRef(key)); out != "" {
		t.Fatalf("the untrusted feed became a local feed: %s", out)
	}
	if bob.digest() == before {
		t.Fatal("alice's op did not come in")
	}
	if res := bob.cli("verify"); res.code != 0 {
		t.Fatalf("verify: %s", res)
	}
}

// TestBrokenIncomingFeed: a feed that arrives with a good commit followed
// by a forged one fast-forwards to the good commit only; the forged one is
// reported. A feed broken locally (by plain git) is never pushed.
func TestBrokenIncomingFeed(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	key := cl.aliceKey()
	alice.create("good")
	good := alice.git("rev-parse", gitstore.FeedRef(key))
	// A forged commit on top: alice's last commit again, as its child,
	// with another message (so its signature no longer verifies).
	forged := forgeChild(alice, good, good)
	git(t, alice.dir, "push", "-q", "origin", forged+":"+gitstore.FeedRef(key))

	res := bob.cli("sync")
	if res.code != 10 || !strings.Contains(res.stdout, "commit "+forged) {
		t.Fatalf("sync of a feed with a forged tip: %s", res)
	}
	if got := bob.git("rev-parse", gitstore.FeedRef(key)); got != good {
		t.Fatalf("bob's copy of alice's feed is at %s, want the last good commit %s", got, good)
	}
	if res := bob.cli("verify"); res.code != 0 {
		t.Fatalf("verify after applying the good prefix: %s", res)
	}
	if !hasTitle(bob.mustCLI("task", "list", "--json"), "good") {
		t.Fatal("the good op did not come in")
	}

	// Bob's own feed broken locally: sync does not push it.
	bob.create("mine")
	bob.cli("sync")
	bkey := bob.key()
	pushed := git(t, cl.bare, "rev-parse", gitstore.FeedRef(bkey))
	bad := forgeChild(bob, pushed, pushed)
	bob.git("update-ref", gitstore.FeedRef(bkey), bad, pushed)
	bob.cli("sync")
	if got := git(t, cl.bare, "rev-parse", gitstore.FeedRef(bkey)); got != pushed {
		t.Fatalf("a locally broken feed was pushed: remote at %s", got)
	}
}

// forgeChild writes a copy of commit from whose parent is parent and whose
// message is altered: a commit with a signature that does not verify.
func forgeChild(c *clone, parent, from string) string {
	c.t.Helper()
	lines := strings.Split(c.git("cat-file", "commit", from), "\n")
	out := []string{}
	for _, l := range lines {
		if strings.HasPrefix(l, "parent ") {
			continue
		}
		out = append(out, l)
		if strings.HasPrefix(l, "tree ") {
			out = append(out, "parent "+parent)
		}
	}
	raw := strings.Join(out, "\n") + " (forged)\n"
	tmp := filepath.Join(c.dir, ".git", "forged-commit")
	os.WriteFile(tmp, []byte(raw), 0o644)
	return c.git("hash-object", "-t", "commit", "-w", tmp)
}

// TestPushDeclined: a remote hook that refuses the push is an error at
// once (exit 1 with git's reason), not a retry loop, and nothing is forced.
func TestPushDeclined(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice := cl.clones[0]
	before := git(t, cl.bare, "for-each-ref", "refs/covenant/")
	os.WriteFile(filepath.Join(cl.bare, "hooks", "pre-receive"), []byte("#!/bin/sh\necho policy says no >&2\nexit 1\n"), 0o755)
	alice.create("refused")
	res := alice.cli("sync", "--json")
	if res.code != 1 || !strings.Contains(res.stderr, "pre-receive hook declined") {
		t.Fatalf("sync to a remote that declines: %s", res)
	}
	if got := git(t, cl.bare, "for-each-ref", "refs/covenant/"); got != before {
		t.Fatalf("the remote changed:\n%s", got)
	}
}
