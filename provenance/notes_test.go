package provenance_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/provenance"
)

var who = gitstore.Person{Name: "alice", Email: "k1@covenant.invalid", When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

// commits makes n empty commits on main and returns them, oldest first.
func commits(t *testing.T, dir string, n int) []gitstore.Hash {
	t.Helper()
	var out []gitstore.Hash
	for i := 0; i < n; i++ {
		testgit.Run(t, dir, "commit", "-q", "--allow-empty", "-m", "c"+strings.Repeat("i", i))
		h, err := gitstore.ParseHash(testgit.Run(t, dir, "rev-parse", "HEAD"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

// checkNotes reads the notes through a fresh Store and through stock git
// and requires each commit's note to hold exactly the lines given.
func checkNotes(t *testing.T, dir string, want map[gitstore.Hash][]string, during string) {
	t.Helper()
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	notes, err := provenance.ReadNotes(st)
	if err != nil {
		t.Fatalf("%s: read the notes: %v", during, err)
	}
	for c, lines := range want {
		b, err := notes.Bundles(st, c)
		if err != nil {
			t.Fatalf("%s: %v", during, err)
		}
		var got []string
		for _, l := range b {
			got = append(got, string(l))
		}
		if !slices.Equal(got, lines) {
			t.Fatalf("%s: note on %s holds %q, want %q", during, c.Short(), got, lines)
		}
		shown := strings.Fields(testgit.Run(t, dir, "notes", "--ref=covenant", "show", c.String()))
		if !slices.Equal(shown, lines) {
			t.Fatalf("%s: git notes show %s: %q, want %q", during, c.Short(), shown, lines)
		}
	}
	testgit.Run(t, dir, "fsck", "--strict", "--no-dangling")
}

// Git's most destructive maintenance, run after a provenance note's
// commit is built and before the notes ref moves (the moment a concurrent
// gc decides reachability without it), drops none of its objects: they
// are in a kept pack, never loose, until the ref names them. Notes stock
// git wrote are appended to, and every note stays readable by git.
func TestNoteAppendBesideMaintenance(t *testing.T) {
	dir := testgit.Init(t)
	cs := commits(t, dir, 2)
	testgit.Run(t, dir, "notes", "--ref=covenant", "add", "-m", "by-stock-git", cs[0].String())
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[gitstore.Hash][]string{cs[0]: {"by-stock-git"}}
	for i, args := range [][]string{
		{"gc", "--aggressive", "--prune=now", "--quiet"},
		{"prune", "--expire=now"},
		{"repack", "-a", "-d", "-q"},
		{"repack", "-a", "-d", "-q", "--cruft", "--cruft-expiration=now"},
	} {
		during := "git " + strings.Join(args, " ") + " before the notes ref moved"
		c := cs[i%2]
		line := "bundle-" + args[0] + "-" + string(rune('a'+i))
		a, err := provenance.BuildNoteAppend(st, c, []byte(line), who)
		if err != nil {
			t.Fatal(err)
		}
		testgit.Run(t, dir, args...)
		if err := a.Publish(st); err != nil {
			t.Fatalf("%s: %v", during, err)
		}
		want[c] = append(want[c], line)
		checkNotes(t, dir, want, during)
	}
	if k := testgit.Run(t, dir, "count-objects", "-v"); !strings.Contains(k, "garbage: 0") {
		t.Fatalf("git count-objects -v:\n%s", k)
	}
}

// A note append whose ref another writer moved first builds again on the
// new head: both writers' lines stay. A notes tree that fans out (as git
// writes large ones) gets the new note under its fan-out directory.
func TestNoteAppendRacesAndFanOut(t *testing.T) {
	dir := testgit.Init(t)
	cs := commits(t, dir, 2)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := provenance.BuildNoteAppend(st, cs[0], []byte("first"), who)
	if err != nil {
		t.Fatal(err)
	}
	if err := provenance.AppendNote(st, cs[0], []byte("second"), who); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(st); err == nil {
		t.Fatal("a note built on an old head was published over a newer one")
	}
	if err := provenance.AppendNote(st, cs[0], []byte("first"), who); err != nil {
		t.Fatal(err)
	}
	checkNotes(t, dir, map[gitstore.Hash][]string{cs[0]: {"second", "first"}}, "after a lost race")

	// A fanned-out notes tree made with stock git: cs[0]'s note at
	// ab/cdef…; the new note on cs[1] goes under its own two digits.
	noteBlob := strings.TrimSpace(testgit.Run(t, dir, "rev-parse", "refs/notes/covenant:"+cs[0].String()))
	sub := mktree(t, dir, "100644 blob "+noteBlob+"\t"+cs[0].String()[2:]+"\n")
	top := mktree(t, dir, "040000 tree "+sub+"\t"+cs[0].String()[:2]+"\n")
	head := testgit.Run(t, dir, "commit-tree", "-m", "fan-out", "-p", "refs/notes/covenant", top)
	testgit.Run(t, dir, "update-ref", "refs/notes/covenant", head)
	for _, c := range cs {
		if err := provenance.AppendNote(st, c, []byte("fanned"), who); err != nil {
			t.Fatal(err)
		}
	}
	checkNotes(t, dir, map[gitstore.Hash][]string{cs[0]: {"second", "first", "fanned"}, cs[1]: {"fanned"}}, "in a fanned-out tree")
	ls := testgit.Run(t, dir, "ls-tree", "-r", "--name-only", "refs/notes/covenant")
	for _, c := range cs {
		if !strings.Contains(ls, c.String()[:2]+"/"+c.String()[2:]) {
			t.Fatalf("note on %s not under its fan-out directory:\n%s", c.Short(), ls)
		}
	}
}

func mktree(t *testing.T, dir, spec string) string {
	t.Helper()
	cmd := exec.Command("git", "mktree")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, testgit.Env(t.TempDir()), strings.NewReader(spec)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git mktree: %v", err)
	}
	return strings.TrimSpace(string(out))
}
