package covenant_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// These tests play a modified client against leases, gates and delegation
// by identity (issue 9 items 3 and 4), and check what stock git makes of
// the history after rotations and revocations (item 6).

// toCrossReview: alice creates a task, bob claims it and walks it to
// cross_review. It returns the task id.
func (tm *team) toCrossReview() string {
	tm.t.Helper()
	id := strings.TrimSpace(tm.mustCLI("task", "create", "gated"))
	tm.mustCLI("--as", "bob", "task", "start", id)
	tm.mustCLI("--as", "bob", "task", "move", id, "self_review")
	tm.mustCLI("--as", "bob", "task", "move", id, "cross_review")
	return id
}

// forgeMove signs, as bob's current key, a move of the task under bob's
// lease epoch, bypassing the honest client's checks.
func (tm *team) forgeMove(id, to string) string {
	tm.t.Helper()
	op := mkOp(tm.t, tasks.OpMove, id, tasks.MoveBody{To: to})
	op.Epoch = tm.task(id).Lease.Epoch
	return tm.forge("bob", tm.signer("bob"), op, time.Now().UTC().Truncate(time.Second))
}

func (tm *team) task(id string) *tasks.Task {
	tm.t.Helper()
	tk, err := tm.open().Task(context.Background(), id)
	if err != nil {
		tm.t.Fatal(err)
	}
	return tk
}

func TestGatesByIdentity(t *testing.T) {
	grants := []string{"task.claim", "task.move", "review.code"}

	t.Run("ApproveBeforeClaim", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, grants...)
		id := strings.TrimSpace(tm.mustCLI("task", "create", "gated"))
		// bob approves while he has never held the lease, then does the work.
		tm.mustCLI("--as", "bob", "task", "review", id, "--gate", "review.code", "approve", "--note", "fine")
		tm.mustCLI("--as", "bob", "task", "start", id)
		tm.mustCLI("--as", "bob", "task", "move", id, "self_review")
		tm.mustCLI("--as", "bob", "task", "move", id, "cross_review")
		res := tm.cli("--as", "bob", "task", "move", id, "validation")
		if res.code != 5 || !strings.Contains(res.stderr, "bob worked on the task") {
			t.Fatalf("honest move over bob's own approval: %s", res)
		}
		c := tm.forgeMove(id, "validation")
		if r := tm.caught(oplog.KindNotIndependent, c); !strings.Contains(r, "bob worked on the task") {
			t.Fatalf("reason %q", r)
		}
		if s := tm.task(id).State; s != "cross_review" {
			t.Fatalf("forged move applied: %s", s)
		}
		// Someone who never held the lease approves: the gate opens.
		tm.mustCLI("task", "review", id, "--gate", "review.code", "approve", "--note", "reviewed")
		tm.mustCLI("--as", "bob", "task", "move", id, "validation")
	})

	t.Run("RotatedImplementer", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, grants...)
		id := tm.toCrossReview()
		// A new key is the same identity: its approval is bob's own.
		tm.mustCLI("--as", "bob", "id", "rotate", "bob")
		// The honest client refuses the approval outright (exit 5, nothing
		// written); a modified one signs it anyway, and it counts for nothing.
		res := tm.cli("--as", "bob", "task", "review", id, "--gate", "review.code", "approve", "--note", "fine")
		if res.code != 5 || !strings.Contains(res.stderr, "bob held the lease on "+id) {
			t.Fatalf("self-approval with a new key: %s", res)
		}
		if g := tm.task(id).Gates["review.code"]; g != nil {
			t.Fatalf("a refused approval was recorded: %+v", g)
		}
		tm.forge("bob", tm.signer("bob"), mkOp(tm.t, tasks.OpReview, id, tasks.ReviewBody{Gate: "review.code", Verdict: "approve", Note: "fine"}), time.Now().UTC().Truncate(time.Second))
		if g := tm.task(id).Gates["review.code"]; g == nil || g.Verdict != "approve" {
			t.Fatalf("the forged approval is not in the fold: %+v", g)
		}
		if res := tm.cli("--as", "bob", "task", "move", id, "validation"); res.code != 5 {
			t.Fatalf("honest move over a self-approval with a new key: %s", res)
		}
		c := tm.forgeMove(id, "validation")
		tm.caught(oplog.KindNotIndependent, c)
		if s := tm.task(id).State; s != "cross_review" {
			t.Fatalf("forged move applied: %s", s)
		}
	})

	t.Run("ReworkClearsApproval", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, grants...)
		id := tm.toCrossReview()
		tm.mustCLI("task", "review", id, "--gate", "review.code", "approve", "--note", "ok")
		// Back to in_progress for rework, then up again: the approval was
		// for the work before.
		tm.mustCLI("--as", "bob", "task", "move", id, "in_progress")
		tm.mustCLI("--as", "bob", "task", "move", id, "self_review")
		tm.mustCLI("--as", "bob", "task", "move", id, "cross_review")
		res := tm.cli("--as", "bob", "task", "move", id, "validation")
		if res.code != 5 || !strings.Contains(res.stderr, "approved before the task went back") {
			t.Fatalf("honest move over a cleared approval: %s", res)
		}
		c := tm.forgeMove(id, "validation")
		tm.caught(oplog.KindStaleApproval, c)
		if s := tm.task(id).State; s != "cross_review" {
			t.Fatalf("forged move applied: %s", s)
		}
		tm.mustCLI("task", "review", id, "--gate", "review.code", "approve", "--note", "ok again")
		tm.mustCLI("--as", "bob", "task", "move", id, "validation")
	})
}

// After id rotate, the identity keeps its leases: heartbeat, release, a new
// claim and a handoff all work with the new key.
func TestRotationKeepsLeases(t *testing.T) {
	tm := newTeam(t, "task.claim", "task.move", "task.handoff")
	id := strings.TrimSpace(tm.mustCLI("task", "create", "long job"))
	tm.mustCLI("--as", "bob", "task", "start", id)
	tm.mustCLI("--as", "bob", "id", "rotate", "bob")
	tm.mustCLI("--as", "bob", "task", "heartbeat", id)
	tm.mustCLI("--as", "bob", "task", "release", id)
	tm.mustCLI("--as", "bob", "task", "start", id)
	tm.mustCLI("--as", "bob", "task", "handoff", id, "--summary", "half done", "--validation", "not-run")
	tk := tm.task(id)
	if tk.Lease != nil || tk.Handoff == nil || len(tk.Implementers) != 1 || tk.Implementers[0] != "bob" {
		t.Fatalf("after the handoff: lease %+v handoff %+v implementers %v", tk.Lease, tk.Handoff, tk.Implementers)
	}
	tm.verifyClean()
}

func TestDelegationNeverMultiplies(t *testing.T) {
	tm := newTeam(t)
	g := strings.TrimSpace(tm.mustCLI("cap", "grant", "bob", "task.create", "--delegable", "--max-uses", "1"))
	now := time.Now().UTC().Truncate(time.Second)

	// Self-delegation: refused by the honest client, flagged when forged.
	if res := tm.cli("--as", "bob", "cap", "grant", "bob", "task.create", "--max-uses", "1"); res.code != 6 || !strings.Contains(res.stderr, "itself") {
		t.Fatalf("honest self-delegation: %s", res)
	}
	c := tm.forge("bob", tm.signer("bob"), mkOp(t, trust.OpGrant, "", trust.GrantBody{To: "bob", Scopes: []string{"task.create"}, MaxUses: 1, Parent: g}), now)
	if r := tm.caught(oplog.KindUnauthorized, c); !strings.Contains(r, "itself") {
		t.Fatalf("reason %q", r)
	}

	// A delegated use counts against the parent: after carol's one use,
	// bob has none left.
	tm.mustCLI("id", "new", "carol", "--role", "agent")
	tm.mustCLI("id", "register", "carol", "--key", filepath.Join(tm.home, "identities", "carol", "key.pub"))
	tm.mustCLI("--as", "bob", "cap", "grant", "carol", "task.create", "--max-uses", "1")
	tm.mustCLI("--as", "carol", "task", "create", "carol's")
	if res := tm.cli("--as", "bob", "task", "create", "bob's"); res.code != 6 || !strings.Contains(res.stderr, "used up") {
		t.Fatalf("honest create after the budget went to a delegate: %s", res)
	}
	c = tm.forge("bob", tm.signer("bob"), mkOp(t, tasks.OpCreate, "", tasks.CreateBody{Title: "bob's", Priority: "low"}), now)
	if r := tm.caught(oplog.KindUnauthorized, c); !strings.Contains(r, "used up") {
		t.Fatalf("reason %q", r)
	}
	if got := titles(tm.taskList()); len(got) != 1 || got[0] != "carol's" {
		t.Fatalf("tasks %v, want only carol's", got)
	}
}

// Stock git verifies every honest feed commit with the exported
// allowed-signers after a rotation and a revocation, and refuses a commit
// the rotated-out key signed later.
func TestAllowedSignersAcrossRotation(t *testing.T) {
	tm := newTeam(t, "task.create")
	tm.mustCLI("--as", "bob", "task", "create", "with the first key")
	old := tm.signer("bob")
	tm.mustCLI("--as", "bob", "id", "rotate", "bob")
	tm.mustCLI("--as", "bob", "task", "create", "with the second key")
	tm.mustCLI("id", "new", "carol", "--role", "agent")
	tm.mustCLI("id", "register", "carol", "--key", filepath.Join(tm.home, "identities", "carol", "key.pub"), "--grant", "task.create")
	tm.mustCLI("--as", "carol", "task", "create", "carol's")
	tm.mustCLI("id", "revoke", "carol", "--reason", "left the team")
	var honest []string
	for _, ref := range tm.feeds() {
		honest = append(honest, tm.feedCommits(ref)...)
	}
	late := tm.forge("bob", old, mkOp(t, tasks.OpCreate, "", tasks.CreateBody{Title: "old key, later", Priority: "low"}), time.Now().UTC().Add(time.Hour).Truncate(time.Second))

	signers := filepath.Join(t.TempDir(), "allowed-signers")
	if err := os.WriteFile(signers, []byte(tm.mustCLI("allowed-signers")), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(signers)
	if !strings.Contains(string(raw), "valid-before=") || !strings.Contains(string(raw), "valid-after=") {
		t.Fatalf("allowed-signers has no validity windows:\n%s", raw)
	}
	verify := func(c string) (string, error) {
		cmd := exec.Command("git", "-c", "gpg.ssh.allowedSignersFile="+signers, "verify-commit", c)
		cmd.Dir, cmd.Env = tm.dir, tm.env()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if len(honest) < 6 {
		t.Fatalf("only %d honest feed commits", len(honest))
	}
	for _, c := range honest {
		if out, err := verify(c); err != nil || !strings.Contains(out, "Good") {
			t.Errorf("git verify-commit %s: %v\n%s", c, err, out)
		}
	}
	if out, err := verify(late); err == nil {
		t.Errorf("git verify-commit accepted the rotated-out key's later commit %s:\n%s", late, out)
	}
	showSig := func(c string) string {
		cmd := exec.Command("git", "-c", "gpg.ssh.allowedSignersFile="+signers, "log", "--show-signature", "-1", "--format=%H", c)
		cmd.Dir, cmd.Env = tm.dir, tm.env()
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	if out := showSig(honest[0]); !strings.Contains(out, "Good \"git\" signature for") {
		t.Errorf("git log --show-signature of an honest commit:\n%s", out)
	}
	if out := showSig(late); strings.Contains(out, "Good \"git\" signature for") {
		t.Errorf("git log --show-signature calls the rotated-out key's later commit good:\n%s", out)
	}
	tm.caught(oplog.KindRotatedKey, late)
}

// After id revoke, a fresh clone syncs the revoked identity's feed like
// any other: exit 0, and the same state as the first clone.
func TestRevokedIdentityFreshClone(t *testing.T) {
	tm := newTeam(t, "task.create")
	tm.mustCLI("--as", "bob", "task", "create", "before the revocation")
	tm.mustCLI("id", "revoke", "bob", "--reason", "laptop lost")
	bare := filepath.Join(t.TempDir(), "remote.git")
	tm.gitRaw(tm.dir, nil, "init", "-q", "--bare", bare)
	tm.git("remote", "add", "origin", bare)
	tm.mustCLI("remote", "setup")
	tm.mustCLI("sync")
	tm.git("push", "-q", "origin", "HEAD")
	want := strings.TrimSpace(tm.mustCLI("state", "digest"))

	g := &fixture{t: t, gitHome: tm.gitHome, home: filepath.Join(t.TempDir(), "other-home")}
	g.dir = filepath.Join(t.TempDir(), "clone")
	branch := strings.TrimSpace(tm.git("symbolic-ref", "--short", "HEAD"))
	g.gitRaw(t.TempDir(), nil, "clone", "-q", "-b", branch, bare, g.dir)
	g.mustCLI("remote", "setup")
	for i := 0; i < 2; i++ {
		if res := g.cli("sync"); res.code != 0 {
			t.Fatalf("sync %d in a fresh clone: %s", i+1, res)
		}
	}
	if got := strings.TrimSpace(g.mustCLI("state", "digest")); got != want {
		t.Fatalf("state digest %s in the fresh clone, %s in the first", got, want)
	}
	if got := titles(g.taskList()); len(got) != 1 {
		t.Fatalf("tasks in the clone: %v", got)
	}
}
