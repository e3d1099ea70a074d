package gitstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
