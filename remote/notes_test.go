package remote_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/provenance"
	"github.com/git-covenant/git-covenant/remote"
)

// verdicts verifies the provenance of commits in a clone, provenance
// required, as JSON (the bundles' order is the note's, sorted lines).
func (c *clone) verdicts(commits ...string) (string, *provenance.RangeReport) {
	c.t.Helper()
	rep, err := c.repo().VerifyProvenance(context.Background(), covenant.ProvenanceOptions{Commits: commits, Require: true})
	if err != nil {
		c.t.Fatalf("%s: verify provenance: %v", c.name, err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(b), rep
}

// plantNotes makes a notes commit in the bare remote with git plumbing, as
// a pusher holding no key would: files maps tree paths to content ("" for
// a gitlink to the annotated commit itself), parented on the remote's
// current notes so that it is a fast-forward.
func (cl *cluster) plantNotes(files map[string]string) {
	cl.t.Helper()
	var tree []string
	for path, content := range files {
		if content == "" {
			tree = append(tree, "160000 commit "+path+"\t"+path)
			continue
		}
		blob := strings.TrimSpace(gitIn(cl.t, cl.bare, content, "hash-object", "-w", "--stdin"))
		tree = append(tree, "100644 blob "+blob+"\t"+path)
	}
	t := strings.TrimSpace(gitIn(cl.t, cl.bare, strings.Join(tree, "\n")+"\n", "mktree"))
	args := []string{"commit-tree", t, "-m", "hostile notes"}
	if old, err := tryGit(cl.bare, "rev-parse", "--verify", "-q", "refs/notes/covenant"); err == nil {
		args = append(args, "-p", old)
	}
	c := git(cl.t, cl.bare, args...)
	git(cl.t, cl.bare, "update-ref", "refs/notes/covenant", c)
}

// Two clones and a hostile remote that deletes, rewrites and pads notes
// and points the notes ref at a blob: both clones keep every honest
// bundle and reach identical verdicts; nothing the remote did fails a sync.
func TestNotesHostileRemote(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	head := alice.git("rev-parse", "HEAD")
	root := alice.git("rev-list", "--max-parents=0", "HEAD")
	alice.mustCLI("provenance", "record", "--", "true")
	honest := alice.git("notes", "--ref=covenant", "show", head)
	alice.sync()
	bob.sync()
	check := func(step string) {
		t.Helper()
		a, rep := alice.verdicts(head, root)
		b, _ := bob.verdicts(head, root)
		if a != b {
			t.Fatalf("%s: verdicts differ:\nalice %s\nbob   %s", step, a, b)
		}
		if rep.Commits[0].Status != provenance.StatusOK || rep.Commits[0].Rule != "note" {
			t.Fatalf("%s: the honestly attested commit: %+v", step, rep.Commits[0])
		}
		for _, c := range []*clone{alice, bob} {
			if !strings.Contains(c.git("notes", "--ref=covenant", "show", head), honest) {
				t.Fatalf("%s: %s lost the honest bundle", step, c.name)
			}
		}
	}
	check("before")

	// Deleted: a fast-forward whose tree has no notes at all.
	cl.plantNotes(map[string]string{"README": "nothing here\n"})
	rep := alice.sync()
	if rep.Notes.Kept != 1 || rep.Notes.Received != "merged" {
		t.Fatalf("delete: alice's notes report %+v", rep.Notes)
	}
	bob.sync()
	check("delete")

	// Rewritten: junk instead of the honest line, and the honest bundle
	// copied onto another commit, where it is no evidence.
	cl.plantNotes(map[string]string{head: "junk\n", root: honest + "\n"})
	alice.sync()
	bob.sync()
	check("rewrite")
	_, r := bob.verdicts(head, root)
	if c := r.Commits[1]; c.Status != provenance.StatusMissing || len(c.Bundles) != 1 || !c.Bundles[0].Ignored || c.Bundles[0].Problem.Kind != provenance.KindSubject {
		t.Fatalf("the bundle copied onto the root commit: %+v", c)
	}

	// Padded: junk lines, a gitlink and a file that names no object.
	cl.plantNotes(map[string]string{head: "{\"not\": \"a bundle\"}\n" + honest + "\nmore junk\n", root: "", "zz-not-a-note": "x\n"})
	rep = alice.sync()
	if len(rep.Notes.Ignored) != 2 {
		t.Fatalf("pad: alice's notes report %+v, want the gitlink and the stray file ignored", rep.Notes)
	}
	bob.sync()
	check("pad")

	// The notes ref at a blob: not adopted, not pushed over, sync goes on.
	blob := strings.TrimSpace(gitIn(t, cl.bare, "junk\n", "hash-object", "-w", "--stdin"))
	git(t, cl.bare, "update-ref", "refs/notes/covenant", blob)
	for _, c := range []*clone{alice, bob} {
		rep := c.sync()
		if len(rep.Notes.Ignored) != 1 || !strings.Contains(rep.Notes.Ignored[0], "not a commit") || rep.Notes.Sent {
			t.Fatalf("%s: notes report with a blob notes ref: %+v", c.name, rep.Notes)
		}
		if typ := c.git("cat-file", "-t", "refs/notes/covenant"); typ != "commit" {
			t.Fatalf("%s: local notes ref is a %s", c.name, typ)
		}
	}
	check("blob ref")
}

// gitIn runs git in dir with stdin and returns its output.
func gitIn(t testing.TB, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

func tryGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// Git's most destructive maintenance, run after sync's notes merge built
// its merge commit and before the notes ref moves, drops none of the
// merge's objects (the merged note, the tree, the commit): they are in a
// kept pack until the ref names them, never loose.
func TestNotesMergeBesideMaintenance(t *testing.T) {
	dir := testgit.Init(t)
	git(t, dir, "commit", "-q", "--allow-empty", "-m", "second")
	c0, c1 := git(t, dir, "rev-parse", "HEAD~1"), git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "notes", "--ref=covenant", "add", "-m", "local-a", c0)
	// The remote's side, staged: other lines on c0, a note on c1, no
	// common history.
	b0 := strings.TrimSpace(gitIn(t, dir, "remote-b\n", "hash-object", "-w", "--stdin"))
	b1 := strings.TrimSpace(gitIn(t, dir, "remote-c\n", "hash-object", "-w", "--stdin"))
	tree := strings.TrimSpace(gitIn(t, dir, "100644 blob "+b0+"\t"+c0+"\n100644 blob "+b1+"\t"+c1+"\n", "mktree"))
	staged := git(t, dir, "commit-tree", tree, "-m", "remote notes")
	git(t, dir, "update-ref", "refs/test/staged-notes", staged)
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := gitstore.ParseHash(staged)
	did, move, err := remote.PlanNotesMerge(st, "origin", h, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil || did != remote.NotesMerged || move == nil {
		t.Fatalf("plan the notes merge: %q, %v", did, err)
	}
	git(t, dir, "gc", "--aggressive", "--prune=now", "--quiet")
	git(t, dir, "prune", "--expire=now")
	if err := move(); err != nil {
		t.Fatal(err)
	}
	for c, want := range map[string]string{c0: "local-a\nremote-b", c1: "remote-c"} {
		if got, err := tryGit(dir, "notes", "--ref=covenant", "show", c); err != nil || strings.TrimSpace(got) != want {
			t.Fatalf("after gc --prune=now during the merge: git notes show %s: %q (%v), want %q", c[:12], got, err, want)
		}
	}
	git(t, dir, "fsck", "--strict", "--no-dangling")
}
