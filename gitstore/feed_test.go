package gitstore_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"golang.org/x/crypto/ssh"
)

func testSigner(t testing.TB, seed byte) ssh.Signer {
	t.Helper()
	s, err := seedSigner(seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seedSigner is the test key made from seed.
func seedSigner(seed byte) (ssh.Signer, error) {
	b := make([]byte, ed25519.SeedSize)
	b[0] = seed
	return ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(b))
}

func record(msg string) gitstore.Record {
	return gitstore.Record{
		Op:      []byte(`{"type":"test"}`),
		Message: msg + "\n\nCovenant-Op: test\n",
		Author:  gitstore.Person{Name: "tester", Email: "tester@covenant.invalid", When: time.Unix(1767225600, 0).UTC()},
	}
}

func TestFeedCommitVerifiesWithStockGit(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	signer := testSigner(t, 1)
	rec := record("first op")
	rec.Artifacts = map[string][]byte{"note.md": []byte("hello")}
	hs, err := st.BuildFeedCommits(gitstore.ZeroHash, []gitstore.Record{rec, record("second op")}, signer)
	if err != nil {
		t.Fatal(err)
	}
	ref := gitstore.FeedRef("abc")
	if err := st.UpdateRef(ref, gitstore.ZeroHash, hs[1]); err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(t.TempDir(), "allowed")
	line := "tester namespaces=\"git\" " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + "\n"
	os.WriteFile(allowed, []byte(line), 0o644)
	out := testgit.Run(t, dir, "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", "-v", ref)
	if !strings.Contains(out, "Good \"git\" signature for tester") {
		t.Fatalf("stock git did not report a good signature:\n%s", out)
	}
	testgit.Run(t, dir, "fsck", "--strict")

	fcs, err := st.WalkFeed(hs[1], gitstore.ZeroHash)
	if err != nil || len(fcs) != 2 {
		t.Fatalf("walk: %v, %d commits", err, len(fcs))
	}
	for _, fc := range fcs {
		if fc.Problem != nil {
			t.Errorf("honest commit flagged: %v", fc.Problem)
		}
		if err := gitstore.VerifyCommit(fc.Commit, signer.PublicKey()); err != nil {
			t.Errorf("verify: %v", err)
		}
		if err := gitstore.VerifyCommit(fc.Commit, testSigner(t, 2).PublicKey()); !errors.Is(err, gitstore.ErrBadSignature) {
			t.Errorf("verify with wrong key: %v", err)
		}
	}
	if _, ok := fcs[0].Artifacts["note.md"]; !ok {
		t.Errorf("artifact lost: %v", fcs[0].Artifacts)
	}
}

func TestUpdateRefCompareAndSwap(t *testing.T) {
	dir := testgit.Init(t)
	st, _ := gitstore.Open(dir)
	hs, err := st.BuildFeedCommits(gitstore.ZeroHash, []gitstore.Record{record("a"), record("b")}, testSigner(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	ref := gitstore.FeedRef("k")
	if err := st.UpdateRef(ref, gitstore.ZeroHash, hs[0]); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateRef(ref, gitstore.ZeroHash, hs[1]); !errors.Is(err, gitstore.ErrRefConflict) {
		t.Fatalf("create over existing ref: %v", err)
	}
	if err := st.UpdateRef(ref, hs[1], hs[0]); !errors.Is(err, gitstore.ErrRefConflict) {
		t.Fatalf("stale old value: %v", err)
	}
	// A lock held by git (simulated by its lock file) blocks the update.
	gitstore.LockTimeout = 50 * time.Millisecond
	lock := filepath.Join(dir, ".git", "refs", "covenant", "feeds", "k.lock")
	os.WriteFile(lock, nil, 0o644)
	if err := st.UpdateRef(ref, hs[0], hs[1]); !errors.Is(err, gitstore.ErrRefLocked) {
		t.Fatalf("update under foreign lock: %v", err)
	}
	os.Remove(lock)
	if err := st.UpdateRef(ref, hs[0], hs[1]); err != nil {
		t.Fatal(err)
	}
	// Packed refs are read too, and a loose ref overrides them.
	testgit.Run(t, dir, "pack-refs", "--all")
	if h, ok, err := st.ReadRef(ref); err != nil || !ok || h != hs[1] {
		t.Fatalf("packed ref: %v %v %v", h, ok, err)
	}
	if err := st.UpdateRef(ref, hs[1], hs[0]); err != nil {
		t.Fatal(err)
	}
	heads, _ := st.FeedHeads()
	if heads["k"] != hs[0] {
		t.Fatalf("heads: %v", heads)
	}
	if got := testgit.Run(t, dir, "rev-parse", ref); got != hs[0].String() {
		t.Fatalf("git sees %s", got)
	}
}

func TestWalkFeedStopsWhenCancelled(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]gitstore.Record, 300)
	for i := range recs {
		recs[i] = record("op")
	}
	hs, err := st.BuildFeedCommits(gitstore.ZeroHash, recs, testSigner(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	head := hs[len(hs)-1]
	if fcs, err := st.WalkFeedContext(context.Background(), head, gitstore.ZeroHash); err != nil || len(fcs) != len(recs) {
		t.Fatalf("walk: %v, %d commits", err, len(fcs))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if fcs, err := st.WalkFeedContext(ctx, head, gitstore.ZeroHash); !errors.Is(err, context.Canceled) || fcs != nil {
		t.Fatalf("cancelled walk: %v, %d commits", err, len(fcs))
	}
}
