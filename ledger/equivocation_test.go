package ledger_test

import (
	"testing"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/ledger"
)

const key = "0123456789abcdef0123456789abcdef"

// chain commits n empty commits on top of parent (none for a root) and
// returns them, oldest first.
func chain(t *testing.T, dir string, parent string, n int, tag string) []string {
	t.Helper()
	tree := testgit.Run(t, dir, "mktree")
	var out []string
	for i := 0; i < n; i++ {
		args := []string{"commit-tree", tree, "-m", tag}
		if parent != "" {
			args = append(args, "-p", parent)
		}
		parent = testgit.Run(t, dir, args...)
		out = append(out, parent)
	}
	return out
}

func hash(t *testing.T, s string) gitstore.Hash {
	t.Helper()
	h, err := gitstore.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestForks(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := chain(t, dir, "", 4, "a")     // a0 a1 a2 a3: the local feed
	b := chain(t, dir, a[1], 3, "b")   // b0 b1 b2, forked after a1
	other := chain(t, dir, "", 2, "o") // shares nothing
	testgit.Run(t, dir, "update-ref", gitstore.FeedRef(key), a[3])
	heads := map[string]gitstore.Hash{key: hash(t, a[3])}

	// Nothing quarantined: no forks, heads unchanged.
	forks, err := ledger.Forks(st, heads)
	if err != nil || len(forks) != 0 {
		t.Fatalf("forks %v, %v", forks, err)
	}
	// The only quarantined version is the local head: nothing forked.
	testgit.Run(t, dir, "update-ref", ledger.QuarantineRef(key, hash(t, a[3])), a[3])
	if forks, _ := ledger.Forks(st, heads); len(forks) != 0 {
		t.Fatalf("a single version counts as a fork: %v", forks)
	}
	// A second version: the fold stops where they fork.
	testgit.Run(t, dir, "update-ref", ledger.QuarantineRef(key, hash(t, b[2])), b[2])
	forks, err = ledger.Forks(st, heads)
	if err != nil {
		t.Fatal(err)
	}
	f := forks[key]
	if f == nil || f.Base != hash(t, a[1]) || len(f.Versions) != 2 {
		t.Fatalf("fork %+v, want base a1 %s", f, a[1])
	}
	if got := ledger.CapHeads(heads, forks)[key]; got != hash(t, a[1]) {
		t.Fatalf("capped head %s, want a1", got)
	}
	if fd := f.Finding(); fd.Kind != ledger.KindEquivocation || fd.Feed != key || fd.Commit != a[1] {
		t.Fatalf("finding %+v", fd)
	}
	// A version that shares nothing: the feed is not folded at all.
	testgit.Run(t, dir, "update-ref", ledger.QuarantineRef(key, hash(t, other[1])), other[1])
	forks, _ = ledger.Forks(st, heads)
	if !forks[key].Base.IsZero() {
		t.Fatalf("base %s, want none", forks[key].Base)
	}
	if _, ok := ledger.CapHeads(heads, forks)[key]; ok {
		t.Fatal("a feed forked at its root is still folded")
	}
}

func TestCommonBase(t *testing.T) {
	dir := testgit.Init(t)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := chain(t, dir, "", 30, "a")
	b := chain(t, dir, a[3], 2, "b")
	for _, c := range []struct {
		x, y, want string
	}{
		{a[29], a[29], a[29]},
		{a[29], a[5], a[5]}, // ancestor, either way round
		{a[5], a[29], a[5]},
		{a[29], b[1], a[3]},
		{b[1], a[29], a[3]},
	} {
		if got := ledger.CommonBase(st, hash(t, c.x), hash(t, c.y)); got != hash(t, c.want) {
			t.Errorf("CommonBase(%s, %s) = %s, want %s", c.x[:7], c.y[:7], got.Short(), c.want[:7])
		}
	}
	o := chain(t, dir, "", 1, "o")
	if got := ledger.CommonBase(st, hash(t, a[29]), hash(t, o[0])); !got.IsZero() {
		t.Errorf("unrelated histories share %s", got)
	}
}
