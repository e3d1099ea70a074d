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
	// Versions that are no signed feed history (these commits carry no
	// op and no signature) are no evidence: ignored and reported.
	testgit.Run(t, dir, "update-ref", ledger.QuarantineRef(key, hash(t, b[2])), b[2])
	testgit.Run(t, dir, "update-ref", ledger.QuarantineRef(key, hash(t, other[1])), other[1])
	testgit.Run(t, dir, "update-ref", "refs/covenant/quarantine/"+key+"/"+a[0], a[2]) // misnamed
	forks, err = ledger.Forks(st, heads)
	if err != nil || len(forks) != 0 {
		t.Fatalf("unsigned versions taken as a fork: %v, %v", forks, err)
	}
	if got := ledger.CapHeads(heads, forks)[key]; got != hash(t, a[3]) {
		t.Fatalf("capped head %s, want the local head", got)
	}
	fs, err := ledger.QuarantineFindings(st, heads)
	if err != nil {
		t.Fatal(err)
	}
	reported := map[string]bool{}
	for _, f := range fs {
		if f.Kind != ledger.KindBadQuarantine {
			t.Fatalf("finding %+v", f)
		}
		reported[f.Commit] = true
	}
	for _, c := range []string{b[2], other[1], a[2]} {
		if !reported[c] {
			t.Errorf("planted version %s not reported: %+v", c[:7], fs)
		}
	}
	// Signed, diverging versions are a fork: remote/quarantine_test.go.
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
