package covenant_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/mailbox"
)

// A modified client holding a registered key answers a message without
// its lease: another identity with a2a.respond names the holder's epoch,
// and the recipient answers a message it never claimed. Both are planted
// with git plumbing and ssh-keygen-signed commits; the fold refuses them,
// verify names them, and the message keeps no result.
func TestMailboxRespondWithoutLeaseRefused(t *testing.T) {
	tm := newTeam(t, "a2a.receive", "a2a.respond")
	tm.mustCLI("id", "new", "carol", "--role", "agent")
	tm.mustCLI("id", "register", "carol", "--role", "agent", "--key", filepath.Join(tm.home, "identities", "carol", "key.pub"), "--grant", "a2a.respond")
	ctx := context.Background()
	svc := tm.open()
	m1, err := svc.SendMessage(ctx, covenant.SendRequest{To: "bob", Kind: "review", Body: "first"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := svc.SendMessage(ctx, covenant.SendRequest{To: "bob", Kind: "review", Body: "second"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.As("bob").RecvMessage(ctx, time.Hour)
	if err != nil || got.Lease.Epoch != 1 {
		t.Fatalf("bob's claim: %+v %v", got, err)
	}
	if got.ID == m2.ID { // sent in the same second: the lower id comes first
		m1, m2 = m2, m1
	}
	// The honest client refuses carol's answer.
	if res := tm.cli("--as", "carol", "a2a", "respond", m1.ID, "--result", "forged"); res.code != 5 {
		t.Fatalf("honest respond without the lease: %s", res)
	}
	now := time.Now().UTC()
	op := mkOp(t, mailbox.OpRespond, "", mailbox.RespondBody{Message: m1.ID, Result: "forged by carol"})
	op.Epoch = 1
	c := tm.forgeStock("carol", op, now)
	if r := refused(tm.fixture, "lease-conflict", c); !strings.Contains(r, "held by bob, not carol") {
		t.Fatalf("reason %q", r)
	}
	op = mkOp(t, mailbox.OpRespond, "", mailbox.RespondBody{Message: m2.ID, Result: "never claimed"})
	op.Epoch = 1
	c2 := tm.forgeStock("bob", op, now)
	if r := refused(tm.fixture, "stale-epoch", c2); !strings.Contains(r, "current epoch is 0") {
		t.Fatalf("reason %q", r)
	}
	for _, id := range []string{m1.ID, m2.ID} {
		v, err := tm.open().Message(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Result != nil || v.State == mailbox.ResultPending {
			t.Fatalf("a forged answer applied to %s: %+v", id, v.Result)
		}
	}
	// Bob answers under his lease; that stands.
	if _, err := tm.open().As("bob").RespondMessage(ctx, m1.ID, "honest"); err != nil {
		t.Fatal(err)
	}
	if v, _ := tm.open().Message(ctx, m1.ID); v.Result == nil || v.Result.Text != "honest" {
		t.Fatalf("after bob's answer: %+v", v)
	}
}

// refused asserts that incremental and full verify report the op of
// commit as ignored by the fold with kind, and that git covenant verify
// names it; it returns the reason. A lease op the fold refuses is reported
// as a conflict (honest clones racing for a lease make them too), not as
// tampering, so verify still exits 0.
func refused(f *fixture, kind, commit string) string {
	f.t.Helper()
	rep, err := verifyBoth(f.t, f.open())
	if err != nil {
		f.t.Fatal(err)
	}
	var reason string
	for _, fd := range rep.Findings {
		if fd.Kind == kind && fd.Commit == commit {
			reason = fd.Reason
		}
	}
	if reason == "" {
		f.t.Fatalf("no %s finding for %s in %+v", kind, commit, rep.Findings)
	}
	if res := f.cli("verify"); !strings.Contains(res.stdout, kind+":") || !strings.Contains(res.stdout, commit) {
		f.t.Fatalf("git covenant verify does not name %s %s: %s", kind, commit, res)
	}
	return reason
}
