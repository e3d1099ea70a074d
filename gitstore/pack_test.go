package gitstore_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/internal/testgit"
)

// A feed write is one pack that stock git reads (verify-pack, cat-file,
// fsck), kept by a .keep until a ref names its last commit; a write given
// up is released by Release.
func TestFeedWriteIsAKeptPack(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	packs := func(ext string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*."+ext))
		return m
	}
	loose := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "??", "*"))
		return m
	}
	before := len(loose())
	rec := record("first op")
	rec.Artifacts = map[string][]byte{"note.md": []byte("hello")}
	hs, err := st.BuildFeedCommits(gitstore.ZeroHash, []gitstore.Record{rec, record("second op")}, testSigner(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(packs("pack")) != 1 || len(packs("idx")) != 1 || len(packs("keep")) != 1 {
		t.Fatalf("packs %v, indexes %v, keeps %v: want one of each", packs("pack"), packs("idx"), packs("keep"))
	}
	if n := len(loose()); n != before {
		t.Fatalf("%d loose objects written", n-before)
	}
	// Two commits, their two trees, the artifacts tree, the artifact and
	// the two op blobs, each once.
	if out := testgit.Run(t, dir, "verify-pack", "-v", packs("idx")[0]); !strings.Contains(out, "non delta: 7 objects") {
		t.Fatalf("git verify-pack:\n%s", out)
	}
	for _, h := range hs {
		if typ := strings.TrimSpace(testgit.Run(t, dir, "cat-file", "-t", h.String())); typ != "commit" {
			t.Fatalf("git cat-file -t %s: %s", h, typ)
		}
		if _, err := st.ReadCommit(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.UpdateRef(gitstore.FeedRef("abc"), gitstore.ZeroHash, hs[1]); err != nil {
		t.Fatal(err)
	}
	if k := packs("keep"); len(k) != 0 {
		t.Fatalf(".keep left after the ref moved: %v", k)
	}
	testgit.Run(t, dir, "fsck", "--strict")

	// A write given up: Release drops the .keep, and a second Release or
	// one for a head never built does nothing.
	hs2, err := st.BuildFeedCommits(hs[1], []gitstore.Record{record("third op")}, testSigner(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(packs("keep")) != 1 {
		t.Fatalf("keeps %v, want one", packs("keep"))
	}
	st.Release(hs2[0])
	st.Release(hs2[0])
	st.Release(hs[0])
	if k := packs("keep"); len(k) != 0 {
		t.Fatalf(".keep left after Release: %v", k)
	}
	if _, err := os.Stat(packs("pack")[0]); err != nil {
		t.Fatal(err)
	}
}

// A writer killed between renaming its .pack and its .idx into place
// leaves a kept .pack without an .idx. Git ignores such a pack; so must
// every read here, of objects in other packs and loose ones alike.
func TestPackWithoutIndexIsIgnored(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	signer := testSigner(t, 1)
	hs, err := st.BuildFeedCommits(gitstore.ZeroHash, []gitstore.Record{record("first op")}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateRef(gitstore.FeedRef("abc"), gitstore.ZeroHash, hs[0]); err != nil {
		t.Fatal(err)
	}
	blob, err := st.WriteObject(gitstore.BlobObject, []byte("a loose object\n"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	next, err := st.BuildFeedCommits(hs[0], []gitstore.Record{record("second op")}, signer)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	var idx string
	for _, p := range after {
		if !slices.Contains(before, p) {
			idx = p
		}
	}
	if idx == "" {
		t.Fatalf("no new pack index: before %v, after %v", before, after)
	}
	// What the killed writer leaves: the .keep and the .pack, no .idx.
	if err := os.Remove(idx); err != nil {
		t.Fatal(err)
	}
	testgit.Run(t, dir, "fsck", "--strict")
	fresh, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.ReadFeedCommit(hs[0]); err != nil {
		t.Fatalf("read the feed head beside a pack without an index: %v", err)
	}
	if _, err := fresh.ReadTyped(blob, gitstore.BlobObject); err != nil {
		t.Fatalf("read a loose object beside a pack without an index: %v", err)
	}
	if _, err := fresh.ReadCommit(next[0]); !errors.Is(err, gitstore.ErrObjectNotFound) {
		t.Fatalf("read an object of the pack without an index: %v, want not found", err)
	}
}

// writeOps appends n single-op writes to the feed ref at head through st,
// each BuildFeedCommits and UpdateRef as a service write does, and returns
// the commits, oldest first.
func writeOps(t *testing.T, st *gitstore.Store, head gitstore.Hash, n int, tag string) []gitstore.Hash {
	t.Helper()
	signer := testSigner(t, 1)
	var out []gitstore.Hash
	for i := 0; i < n; i++ {
		rec := record(tag)
		rec.Op = []byte(`{"type":"test","n":"` + tag + "-" + strconv.Itoa(i) + `"}`)
		hs, err := st.BuildFeedCommits(head, []gitstore.Record{rec}, signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateRef(gitstore.FeedRef("abc"), head, hs[0]); err != nil {
			t.Fatal(err)
		}
		head = hs[0]
		out = append(out, head)
	}
	return out
}

// readAll reads every commit of hs, its tree and op through st.
func readAll(t *testing.T, st *gitstore.Store, hs []gitstore.Hash) {
	t.Helper()
	for _, h := range hs {
		fc, err := st.ReadFeedCommit(h)
		if err != nil {
			t.Fatalf("read %s: %v", h, err)
		}
		if fc.Problem != nil || len(fc.Op) == 0 {
			t.Fatalf("read %s: %v, op %q", h, fc.Problem, fc.Op)
		}
	}
}

// A long-lived Store rolls the packs of its writes up into a few larger
// ones (their objects copied, then the small packs deleted), so a pack per
// write does not pile up: the objects stay readable through it, through a
// fresh Store and by git, and nothing is left kept or half-written.
func TestOwnPacksAreRolledUp(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	objects := func() int { return strings.Count(testgit.Run(t, dir, "rev-list", "--objects", "--all"), "\n") }
	before := objects()
	hs := writeOps(t, st, gitstore.ZeroHash, n, "op")
	idx, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	if len(idx) > 40 {
		t.Fatalf("%d packs after %d writes of one Store: not rolled up", len(idx), n)
	}
	if k, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.keep")); len(k) != 0 {
		t.Fatalf(".keep left: %v", k)
	}
	readAll(t, st, hs)
	fresh, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, fresh, hs)
	testgit.Run(t, dir, "fsck", "--strict", "--no-dangling")
	// Each op's commit, tree and blob once in the count of git's objects.
	if got := objects() - before; got != 3*n {
		t.Fatalf("git rev-list --objects --all lists %d new objects, want %d", got, 3*n)
	}
	if out := testgit.Run(t, dir, "count-objects", "-v"); !strings.Contains(out, "garbage: 0") {
		t.Fatalf("git count-objects -v:\n%s", out)
	}

	// git's own repack replaces the packs the Store reads itself: it
	// reads them where git put them, and rolls up what it writes next.
	testgit.Run(t, dir, "repack", "-a", "-d", "-q")
	readAll(t, st, hs)
	more := writeOps(t, st, hs[n-1], 40, "more")
	readAll(t, st, append(hs, more...))
	testgit.Run(t, dir, "fsck", "--strict", "--no-dangling")
}

// A pack still kept (its ref not moved yet) is never rolled up: its
// objects and .keep stay where they are while later writes roll theirs up.
func TestKeptPackIsNotRolledUp(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	hs := writeOps(t, st, gitstore.ZeroHash, 1, "first")
	pending, err := st.BuildFeedCommits(hs[0], []gitstore.Record{record("pending")}, testSigner(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	keeps, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.keep"))
	if len(keeps) != 1 {
		t.Fatalf("keeps %v, want one", keeps)
	}
	pack := strings.TrimSuffix(keeps[0], ".keep") + ".pack"
	other := gitstore.FeedRef("def")
	signer := testSigner(t, 2)
	head := gitstore.ZeroHash
	for i := 0; i < 40; i++ {
		rec := record("other")
		rec.Op = []byte(`{"type":"test","n":` + strconv.Itoa(i) + `}`)
		h, err := st.BuildFeedCommits(head, []gitstore.Record{rec}, signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateRef(other, head, h[0]); err != nil {
			t.Fatal(err)
		}
		head = h[0]
	}
	for _, p := range []string{keeps[0], pack, strings.TrimSuffix(pack, ".pack") + ".idx"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the kept pack's %s: %v", filepath.Ext(p), err)
		}
	}
	if err := st.UpdateRef(gitstore.FeedRef("abc"), hs[0], pending[0]); err != nil {
		t.Fatal(err)
	}
	readAll(t, st, []gitstore.Hash{hs[0], pending[0], head})
	testgit.Run(t, dir, "fsck", "--strict", "--no-dangling")
}

// A git-covenant .keep older than KeepGrace is what a killed writer left:
// the next writer removes it. Fresh ones, and other programs' .keep files
// whatever their age, stay.
func TestStaleKeepIsRemoved(t *testing.T) {
	dir := testgit.Init(t)
	packDir := filepath.Join(dir, ".git", "objects", "pack")
	if err := os.MkdirAll(packDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-gitstore.KeepGrace - time.Hour)
	plant := func(name, text string, when time.Time) string {
		p := filepath.Join(packDir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ours := "git-covenant: objects of a ref update in progress\n"
	stale := plant("pack-"+strings.Repeat("1", 40)+".keep", ours, old)
	fresh := plant("pack-"+strings.Repeat("2", 40)+".keep", ours, time.Now())
	foreign := plant("pack-"+strings.Repeat("3", 40)+".keep", "receive-pack 4242 on build-host\n", old)
	// What a writer or roll-up killed between its two renames leaves: our
	// old .keep and a .pack without an .idx. The same beside another
	// program's .keep, or with no .keep at all, is not ours.
	orphan := plant("pack-"+strings.Repeat("1", 40)+".pack", "PACK", old)
	foreignOrphan := plant("pack-"+strings.Repeat("3", 40)+".pack", "PACK", old)
	bare := plant("pack-"+strings.Repeat("4", 40)+".pack", "PACK", old)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeOps(t, st, gitstore.ZeroHash, 1, "op")
	for _, p := range []string{stale, orphan} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a killed writer's old %s is still there (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range []string{fresh, foreign, foreignOrphan, bare} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s was removed: %v", filepath.Base(p), err)
		}
	}
}

// Writers killed at random moments, one long-lived Store each (so kills
// land in roll-ups too), lose nothing: after each kill every commit of the
// feed reads back through a fresh Store, git fsck is clean, and the next
// writer goes on from the head left.
func TestKilledWritersLoseNothing(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeOps(t, st, gitstore.ZeroHash, 1, "first")
	ref := gitstore.FeedRef("abc")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	most := 0
	for i := 0; i < 5; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), writeLoopEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The writer prints a line per write: wait for a roll-up's worth,
		// then a random while more.
		var wrote atomic.Int64
		go func() {
			b := make([]byte, 512)
			for {
				n, err := out.Read(b)
				wrote.Add(int64(bytes.Count(b[:n], []byte("\n"))))
				if err != nil {
					return
				}
			}
		}()
		for deadline := time.Now().Add(time.Minute); wrote.Load() < 20 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("kill %d: the writer ended on its own: %v\n%s", i, err, stderr.String())
		}
		most = max(most, int(wrote.Load()))
		// A writer killed while it held the ref's lock leaves it; with no
		// intent file (see SetIntentPath) clearing it is the test's job,
		// as the only writer is dead.
		os.Remove(filepath.Join(dir, ".git", filepath.FromSlash(ref)+".lock"))
		_, hs := feedLen(t, dir, ref)
		fresh, err := gitstore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, fresh, hs)
		testgit.Run(t, dir, "fsck", "--strict", "--no-dangling")
	}
	if most < 20 {
		t.Fatalf("no killed writer wrote more than %d ops: no roll-up was exercised", most)
	}
	testgit.Run(t, dir, "gc", "--prune=now", "--quiet")
	_, hs := feedLen(t, dir, ref)
	readAll(t, st, hs)
}

// feedLen returns the length of the feed at ref and its commits.
func feedLen(t *testing.T, dir, ref string) (int, []gitstore.Hash) {
	t.Helper()
	out := testgit.Run(t, dir, "rev-list", ref)
	var hs []gitstore.Hash
	for _, l := range strings.Fields(out) {
		h, err := gitstore.ParseHash(l)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return len(hs), hs
}

// Git's most destructive maintenance, run while a write has built its
// objects but not yet moved its ref (the moment a concurrent gc or repack
// decides reachability without them), drops none of them: the pack is
// kept until the ref names its commit.
func TestMaintenanceBetweenBuildAndRefMove(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	head := writeOps(t, st, gitstore.ZeroHash, 1, "first")[0]
	all := []gitstore.Hash{head}
	for _, args := range [][]string{
		{"gc", "--aggressive", "--prune=now", "--quiet"},
		{"repack", "-a", "-d", "-q"},
		{"prune", "--expire=now"},
		{"repack", "-a", "-d", "-q", "--cruft", "--cruft-expiration=now"},
	} {
		rec := record(args[0])
		rec.Op = []byte(`{"type":"test","during":"` + strings.Join(args, " ") + `"}`)
		rec.Artifacts = map[string][]byte{"log.txt": []byte(strings.Join(args, " "))}
		hs, err := st.BuildFeedCommits(head, []gitstore.Record{rec}, testSigner(t, 1))
		if err != nil {
			t.Fatal(err)
		}
		testgit.Run(t, dir, args...)
		if err := st.UpdateRef(gitstore.FeedRef("abc"), head, hs[0]); err != nil {
			t.Fatal(err)
		}
		head = hs[0]
		all = append(all, head)
		fresh, err := gitstore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range all {
			fc, err := fresh.ReadFeedCommit(h)
			if err != nil {
				t.Fatalf("after git %s during a write: %v", strings.Join(args, " "), err)
			}
			for name, a := range fc.Artifacts {
				if _, err := fresh.ReadTyped(a, gitstore.BlobObject); err != nil {
					t.Fatalf("after git %s during a write: artifact %s: %v", strings.Join(args, " "), name, err)
				}
			}
		}
		testgit.Run(t, dir, "fsck", "--strict", "--no-dangling")
	}
}
