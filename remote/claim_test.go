package remote_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/remote"
	"github.com/git-covenant/git-covenant/tasks"
)

func (c *clone) key() string {
	c.t.Helper()
	id, err := c.repo().Actor("")
	if err != nil {
		c.t.Fatal(err)
	}
	return id.KeyID
}

func (c *clone) task(id string) *tasks.Task {
	c.t.Helper()
	var tk tasks.Task
	if err := json.Unmarshal([]byte(c.mustCLI("task", "show", id, "--json")), &tk); err != nil {
		c.t.Fatal(err)
	}
	return &tk
}

// claimsBy counts the task.claim ops of a clone's own feed on a task.
func (c *clone) claimsBy(id string) int {
	c.t.Helper()
	ref := gitstore.FeedRef(c.key())
	if c.git("for-each-ref", ref) == "" {
		return 0
	}
	return strings.Count(c.git("log", "--format=%B", ref), "Covenant-Op: task.claim\nCovenant-Task: "+id)
}

// TestStrongClaimRace: two clones claim the same task with --via origin at
// the same time, for several tasks. Exactly one wins each time; the loser
// exits 5 naming the winner and keeps nothing, so after syncing every
// clone agrees on the holder and verify finds no rejected claim at all.
func TestStrongClaimRace(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob", "carol")
	alice, bob, carol := cl.clones[0], cl.clones[1], cl.clones[2]
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, alice.create("contended"))
	}
	alice.sync()
	bob.sync()
	carol.sync()
	for _, id := range ids {
		var wg sync.WaitGroup
		results := make([]result, 2)
		for i, c := range []*clone{bob, carol} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = run(c.dir, c.env(), binPath, "task", "start", id, "--via", "origin", "--ttl", "1h")
			}()
		}
		wg.Wait()
		var winner, loser *clone
		var lost result
		switch {
		case results[0].code == 0 && results[1].code == 5:
			winner, loser, lost = bob, carol, results[1]
		case results[1].code == 0 && results[0].code == 5:
			winner, loser, lost = carol, bob, results[0]
		default:
			t.Fatalf("want exactly one winner and one exit 5:\nbob: %s\ncarol: %s", results[0], results[1])
		}
		if !strings.Contains(lost.stderr, "leased to "+winner.name) {
			t.Fatalf("the loser is not told who holds the task: %s", lost)
		}
		if n := loser.claimsBy(id); n != 0 {
			t.Fatalf("%s kept %d claim(s) after losing", loser.name, n)
		}
		if n := winner.claimsBy(id); n != 1 {
			t.Fatalf("%s has %d claim(s), want 1", winner.name, n)
		}
		// The marker is a lease intent (not a feed commit) naming the
		// winner's claim.
		claim := winner.git("rev-parse", gitstore.FeedRef(winner.key()))
		if got := git(t, cl.bare, "show", "refs/covenant/leases/"+id+":"+remote.IntentFile); !strings.Contains(got, `"claim":"`+claim+`"`) {
			t.Fatalf("lease marker %s does not name the winner's claim %s", got, claim)
		}
	}
	cl.converge()
	cl.assertConverged()
	for _, c := range cl.clones {
		if res := c.cli("verify"); res.code != 0 {
			t.Fatalf("%s: verify: %s", c.name, res)
		}
	}
	// Once the holder releases (and syncs), the marker still names its
	// claim, but the fold knows that lease ended: a strong claim goes on.
	id := ids[0]
	holder, other := bob, carol
	if holder.task(id).Lease.Holder != bob.name {
		holder, other = carol, bob
	}
	holder.mustCLI("task", "release", id)
	holder.sync()
	if res := other.cli("task", "start", id, "--via", "origin"); res.code != 0 {
		t.Fatalf("strong claim after the holder released: %s", res)
	}
}

// TestStrongClaimMarker: a lease marker on the remote whose claim the
// clone's fold does not know (its feed was not pushed) still refuses a
// strong claim while its lease lasts, naming the holder; after it
// expired, the claim replaces the marker.
func TestStrongClaimMarker(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob", "carol")
	alice, bob, carol := cl.clones[0], cl.clones[1], cl.clones[2]
	id := alice.create("contended")
	alice.sync()
	bob.sync()
	carol.sync()
	// Bob claims locally and pushes only the marker.
	bob.mustCLI("task", "start", id, "--ttl", "1h")
	claim := bob.git("rev-parse", gitstore.FeedRef(bob.key()))
	bob.git("push", "-q", "origin", claim+":refs/covenant/leases/"+id)

	res := carol.cli("task", "start", id, "--via", "origin")
	if res.code != 5 || !strings.Contains(res.stderr, "leased to bob via origin") {
		t.Fatalf("strong claim against a live marker: want exit 5 naming bob, got %s", res)
	}
	if n := carol.claimsBy(id); n != 0 {
		t.Fatalf("carol kept a claim")
	}
	// Two hours later bob's lease has expired.
	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	res = run(carol.dir, carol.env("GIT_COVENANT_NOW="+later), binPath, "task", "start", id, "--via", "origin")
	if res.code != 0 {
		t.Fatalf("strong claim after the marker's lease expired: %s", res)
	}
	if got := git(t, cl.bare, "rev-parse", "refs/covenant/leases/"+id); got == claim {
		t.Fatal("the marker was not replaced")
	}
	// Without --via nothing is pushed: claims stay local-first.
	id2 := alice.create("local first")
	alice.sync()
	bob.sync()
	bob.mustCLI("task", "start", id2)
	if out := git(t, cl.bare, "for-each-ref", "refs/covenant/leases/"+id2); out != "" {
		t.Fatalf("a local claim pushed a marker: %s", out)
	}
	if res := bob.cli("task", "start", "--via", "origin"); res.code != 2 {
		t.Fatalf("--via without an id: want exit 2, got %s", res)
	}
	if res := bob.cli("task", "start", id2, "--via", "nowhere"); res.code != 4 {
		t.Fatalf("--via an unknown remote: want exit 4, got %s", res)
	}
}

// TestRefusedStrongClaimLeavesNoFeedCommit: a hostile remote accepts the
// objects of a strong claim's push, keeps them, and refuses the marker.
// The claimant keeps nothing and its next op takes the seq the claim
// would have had. The remote then publishes every commit it kept as the
// claimant's feed. Since the marker push carries only a lease intent (not
// a feed commit), nothing it kept is a second history of the claimant's
// key: no clone quarantines it or reports equivocation, and both agree.
func TestRefusedStrongClaimLeavesNoFeedCommit(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	id := alice.create("contended")
	alice.sync()
	bob.sync()
	stolen := t.TempDir()
	hook := "#!/bin/sh\n" +
		"while read old new ref; do\n" +
		"  case \"$ref\" in refs/covenant/leases/*)\n" +
		"    git rev-list --objects \"$new\" --not --all | git pack-objects -q '" + stolen + "/kept' >/dev/null\n" +
		"    echo \"$new\" >> '" + stolen + "/tips'\n" +
		"    echo 'marker refused' >&2; exit 1;;\n" +
		"  esac\n" +
		"done\n"
	if err := os.WriteFile(filepath.Join(cl.bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if res := bob.cli("task", "start", id, "--via", "origin"); res.code == 0 {
		t.Fatalf("strong claim through a remote that refuses the marker: %s", res)
	}
	if n := bob.claimsBy(id); n != 0 {
		t.Fatalf("bob kept %d claim(s) after the refusal", n)
	}
	os.Remove(filepath.Join(cl.bare, "hooks", "pre-receive"))
	bob.create("bob's next op")
	bob.sync()
	alice.sync()

	// The remote publishes what it kept.
	packs, _ := filepath.Glob(filepath.Join(stolen, "kept-*.pack"))
	if len(packs) == 0 {
		t.Fatal("the hook kept nothing: the marker push sent no objects")
	}
	for _, p := range packs {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("git", "unpack-objects", "-q")
		cmd.Dir, cmd.Stdin = cl.bare, f
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("unpack: %v\n%s", err, out)
		}
		f.Close()
	}
	var kept []string
	for _, l := range strings.Split(git(t, cl.bare, "cat-file", "--batch-all-objects", "--batch-check"), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[1] == "commit" {
			kept = append(kept, f[0])
		}
	}
	feed := gitstore.FeedRef(bob.key())
	for i, c := range kept {
		// Each kept commit as bob's feed (kept reachable under another ref too).
		git(t, cl.bare, "update-ref", feed, c)
		git(t, cl.bare, "update-ref", "refs/covenant/feeds-kept/"+itoa(i), c)
		for _, cc := range []*clone{alice, bob} {
			cc.cli("sync")
			if q := cc.git("for-each-ref", "refs/covenant/quarantine/"); q != "" {
				t.Fatalf("%s quarantined bob's key over a commit the remote kept (%s):\n%s", cc.name, c, q)
			}
			if res := cc.cli("verify", "--json"); strings.Contains(res.stdout, `"equivocation"`) {
				t.Fatalf("%s reports equivocation over a commit the remote kept (%s): %s", cc.name, c, res)
			}
		}
	}
	// The remote gives up; everyone agrees.
	git(t, cl.bare, "update-ref", feed, bob.git("rev-parse", feed))
	cl.converge()
	cl.assertConverged()
	for _, c := range cl.clones {
		if res := c.cli("verify"); res.code != 0 {
			t.Fatalf("%s: verify: %s", c.name, res)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestStrongClaimAfterRotation: bob rotates his key and, before any sync,
// claims a task with --via origin. The claim is signed by the new key,
// which only the rotation op in his previous key's feed registers; the
// strong claim publishes that feed too, so alice's next sync trusts and
// applies the claim instead of refusing its feed as an untrusted key.
func TestStrongClaimAfterRotation(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	id := alice.create("after rotation")
	alice.sync()
	bob.sync()
	old := bob.key()
	bob.mustCLI("id", "rotate", "bob")
	if bob.key() == old {
		t.Fatal("bob's key did not change")
	}
	bob.mustCLI("task", "start", id, "--via", "origin", "--ttl", "1h")
	for _, k := range []string{old, bob.key()} {
		if git(t, cl.bare, "for-each-ref", gitstore.FeedRef(k)) == "" {
			t.Fatalf("the remote lacks bob's feed %s", k)
		}
	}
	alice.sync()
	if tk := alice.task(id); len(tk.Leases) != 1 || tk.Leases[0].Key != bob.key() {
		t.Fatalf("alice sees leases %+v, want bob's claim by his new key", tk.Leases)
	}
	cl.converge()
	cl.assertConverged()
}
