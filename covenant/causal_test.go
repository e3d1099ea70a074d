package covenant_test

import (
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
)

// These attacks are on the order and the clock (format version 2): the
// modified client picks its op's Lamport clock, time and seen-vector.

func (f *fixture) keyOf(name string) string {
	f.t.Helper()
	id, err := (&identity.Keystore{Dir: f.home}).Get(name)
	if err != nil {
		f.t.Fatal(err)
	}
	return id.KeyID()
}

// head returns the op at the head of a key's feed and its commit.
func (f *fixture) head(key string) (*oplog.Op, string) {
	f.t.Helper()
	c := f.git("rev-parse", gitstore.FeedRef(key))
	return f.opAt(c), c
}

func createOp(t *testing.T, title string) *oplog.Op {
	return mkOp(t, tasks.OpCreate, "", tasks.CreateBody{Title: title, Priority: "low"})
}

func TestCausalClock(t *testing.T) {
	t.Run("LamportCeiling", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		op := createOp(t, "wraps every clock")
		op.Lamport = 1<<64 - 1
		c := tm.forge("bob", tm.signer("bob"), op, time.Now())
		tm.caught(ledger.KindLamportBound, c)
		// Honest writers go on, their clocks untouched by the forgery.
		tm.mustCLI("task", "create", "honest")
		if got := titles(tm.taskList()); len(got) != 1 || got[0] != "honest" {
			t.Fatalf("tasks %v", got)
		}
		if o, _ := tm.head(tm.keyOf("alice")); o.Lamport > 100 {
			t.Fatalf("honest op got lamport %d: the forged clock raised it", o.Lamport)
		}
		tm.mustCLI("index", "rebuild")
		tm.caught(ledger.KindLamportBound, c)
	})

	t.Run("LamportJump", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		for _, v := range []int{oplog.Version1, oplog.VersionCausal} {
			op := createOp(t, "far ahead")
			op.V, op.Lamport = v, tm.maxLamport()+oplog.MaxLamportStep+2
			c := tm.forge("bob", tm.signer("bob"), op, time.Now())
			tm.caught(ledger.KindLamportBound, c)
			tm.git("update-ref", gitstore.FeedRef(tm.bobKey), c+"^")
		}
	})

	t.Run("LamportNotAboveSeen", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		tm.mustCLI("--as", "bob", "task", "create", "bob's")
		tm.busy(3)
		alice := tm.keyOf("alice")
		ah, _ := tm.head(alice)
		op := createOp(t, "claims to follow alice")
		op.Seen = map[string]uint64{alice: ah.Seq}
		op.Lamport = ah.Lamport // must exceed it
		c := tm.forge("bob", tm.signer("bob"), op, time.Now())
		if r := tm.caught(ledger.KindLamportBound, c); !strings.Contains(r, "has seen") {
			t.Fatalf("reason %q", r)
		}
	})

	t.Run("TimeBeforeSeen", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		tm.mustCLI("task", "create", "alice's")
		alice := tm.keyOf("alice")
		ah, _ := tm.head(alice)
		op := createOp(t, "backdated")
		op.Seen = map[string]uint64{alice: ah.Seq}
		op.Time = oplog.FormatTime(ah.When().Add(-time.Hour))
		c := tm.forge("bob", tm.signer("bob"), op, time.Now())
		tm.caught(ledger.KindTimeRegression, c)
	})

	t.Run("TimeBeforeOwnFeed", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		tm.mustCLI("--as", "bob", "task", "create", "first")
		bh, _ := tm.head(tm.bobKey)
		op := createOp(t, "backdated in its own feed")
		op.Time = oplog.FormatTime(bh.When().Add(-time.Minute))
		c := tm.forge("bob", tm.signer("bob"), op, time.Now())
		tm.caught(ledger.KindTimeRegression, c)
		if got := titles(tm.taskList()); len(got) != 1 {
			t.Fatalf("tasks %v", got)
		}
	})
}

// busy has alice write n ops, so that the next op's clock leaves room
// below it.
func (f *fixture) busy(n int) {
	f.t.Helper()
	for i := 0; i < n; i++ {
		f.mustCLI("task", "create", "filler")
	}
}

func TestCutoffByPosition(t *testing.T) {
	// Each forgery sorts just before the op that retired the key or grant.
	t.Run("RevokedKeyBelowRevocation", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		tm.mustCLI("--as", "bob", "task", "create", "before")
		tm.busy(3)
		tm.mustCLI("id", "revoke", "bob", "--reason", "laptop lost")
		tm.mustCLI("verify")
		rev, _ := tm.head(tm.keyOf("alice"))
		op := createOp(t, "backdated after revocation")
		op.Lamport = rev.Lamport - 1
		c := tm.forge("bob", tm.signer("bob"), op, time.Now())
		if r := tm.caught(oplog.KindRevokedKey, c); !strings.Contains(r, "last accepted position") {
			t.Fatalf("reason %q", r)
		}
		if got := titles(tm.taskList()); len(got) != 4 || got[0] != "before" {
			t.Fatalf("tasks %v", got)
		}
	})

	t.Run("RotatedKeyBelowRotation", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		tm.mustCLI("--as", "bob", "task", "create", "with old key")
		tm.busy(3)
		// An admin rotates bob's key (a key rotating itself is cut at its
		// own rotation op, which its later ops cannot sort before).
		tm.mustCLI("id", "new", "bob-next", "--role", "agent")
		pub, err := (&identity.Keystore{Dir: tm.home}).Get("bob-next")
		if err != nil {
			t.Fatal(err)
		}
		tm.mustCLI("id", "rotate", "bob", "--key", identity.FormatPublicKey(pub.PublicKey))
		tm.mustCLI("verify")
		rot, _ := tm.head(tm.keyOf("alice"))
		op := createOp(t, "old key, below the rotation")
		op.Lamport = rot.Lamport - 1
		c := tm.forge("bob", tm.signer("bob"), op, time.Now())
		tm.caught(oplog.KindRotatedKey, c)
		if got := titles(tm.taskList()); len(got) != 4 {
			t.Fatalf("tasks %v", got)
		}
	})

	t.Run("GrantUsedBelowRevocation", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t)
		g := strings.TrimSpace(tm.mustCLI("cap", "grant", "bob", "task.create"))
		tm.mustCLI("--as", "bob", "task", "create", "granted")
		tm.busy(3)
		tm.mustCLI("cap", "revoke", g, "--reason", "done")
		rev, _ := tm.head(tm.keyOf("alice"))
		op := createOp(t, "after the grant was withdrawn")
		op.Lamport = rev.Lamport - 1
		c := tm.forge("bob", tm.signer("bob"), op, time.Now())
		if r := tm.caught(oplog.KindUnauthorized, c); !strings.Contains(r, "revoked for key") {
			t.Fatalf("reason %q", r)
		}
		if got := titles(tm.taskList()); len(got) != 4 {
			t.Fatalf("tasks %v", got)
		}
	})
}

func TestQuarantineNeedsEvidence(t *testing.T) {
	tm := newTeam(t, "task.create")
	tm.mustCLI("task", "create", "alice's")
	tm.mustCLI("--as", "bob", "task", "create", "bob's")
	alice := tm.keyOf("alice")
	_, bobHead := tm.head(tm.bobKey)
	// Anyone who can push refs plants "versions" of alice's feed: a
	// commit of bob's feed, and an unsigned commit on alice's history.
	_, aliceHead := tm.head(alice)
	tree := tm.git("rev-parse", aliceHead+"^{tree}")
	unsigned := tm.git("commit-tree", tree, "-p", aliceHead+"^", "-m", "task.create: forged")
	for _, c := range []string{bobHead, unsigned} {
		tm.git("update-ref", "refs/covenant/quarantine/"+alice+"/"+c, c)
	}
	rep, err := verifyBoth(t, tm.open())
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, fd := range rep.Findings {
		if fd.Kind == ledger.KindEquivocation {
			t.Fatalf("fake quarantine refs taken as equivocation: %+v", fd)
		}
		if fd.Kind == ledger.KindBadQuarantine && fd.Feed == alice {
			bad++
		}
	}
	if bad != 2 {
		t.Fatalf("want both planted refs reported, got %+v", rep.Findings)
	}
	if res := tm.cli("verify"); res.code != 10 || !strings.Contains(res.stdout, unsigned) {
		t.Fatalf("verify: %s", res)
	}
	// alice's feed is folded whole and she goes on writing.
	tm.mustCLI("task", "create", "after")
	if got := titles(tm.taskList()); len(got) != 3 {
		t.Fatalf("tasks %v", got)
	}
	if out := tm.mustCLI("quarantine", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("quarantine list: %s", out)
	}
}
