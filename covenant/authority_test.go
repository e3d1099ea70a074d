package covenant_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
	"golang.org/x/crypto/ssh"
)

// These tests play a modified client: it signs, with its own valid key,
// ops that an honest client refuses to write, and appends them to its feed
// with plain ref updates. The fold and verify must flag each one with the
// right kind and ignore it.

// team is alice (root) plus bob, an agent registered with some grants.
type team struct {
	*fixture
	bobKey string
}

func newTeam(t *testing.T, grants ...string) *team {
	t.Helper()
	f := newFixture(t)
	f.initAlice()
	f.mustCLI("id", "new", "bob", "--role", "agent")
	args := []string{"id", "register", "bob", "--role", "agent", "--key", filepath.Join(f.home, "identities", "bob", "key.pub")}
	for _, g := range grants {
		args = append(args, "--grant", g)
	}
	f.mustCLI(args...)
	id, err := (&identity.Keystore{Dir: f.home}).Get("bob")
	if err != nil {
		t.Fatal(err)
	}
	return &team{fixture: f, bobKey: id.KeyID()}
}

// maxLamport is the highest Lamport clock in any feed head.
func (f *fixture) maxLamport() uint64 {
	var m uint64
	for _, ref := range f.feeds() {
		if op := f.opAt(f.git("rev-parse", ref)); op.Lamport > m {
			m = op.Lamport
		}
	}
	return m
}

// latest is the latest op time in any feed head.
func (f *fixture) latest() time.Time {
	var m time.Time
	for _, ref := range f.feeds() {
		if w := f.opAt(f.git("rev-parse", ref)).When(); w.After(m) {
			m = w
		}
	}
	return m
}

// forge appends op (actor, seq, lamport and time filled in) to the feed of
// the key held by signer, signed by it, bypassing every write-time check.
// A feed that does not exist yet gets a genesis op first.
func (f *fixture) forge(name string, signer ssh.Signer, op *oplog.Op, at time.Time) string {
	f.t.Helper()
	return f.forgeWith(name, signer.PublicKey(), func(st *gitstore.Store, old gitstore.Hash, recs []gitstore.Record) ([]gitstore.Hash, error) {
		return st.BuildFeedCommits(old, recs, signer)
	}, op, at)
}

// forgeStock is forge with every commit made by git plumbing and signed by
// ssh-keygen with the named identity's key file, as a modified client
// holding that key would.
func (f *fixture) forgeStock(name string, op *oplog.Op, at time.Time) string {
	f.t.Helper()
	return f.forgeWith(name, f.signer(name).PublicKey(), func(_ *gitstore.Store, old gitstore.Hash, recs []gitstore.Record) ([]gitstore.Hash, error) {
		var out []gitstore.Hash
		parent := old
		for _, rec := range recs {
			blob := f.gitIn(rec.Op, "hash-object", "-w", "--stdin")
			tree := f.gitIn([]byte("100644 blob "+blob+"\t"+gitstore.OpFile+"\n"), "mktree")
			who := fmt.Sprintf("%s <%s> %d +0000", rec.Author.Name, rec.Author.Email, rec.Author.When.Unix())
			payload := "tree " + tree + "\n"
			if !parent.IsZero() {
				payload += "parent " + parent.String() + "\n"
			}
			payload += "author " + who + "\ncommitter " + who + "\n\n" + rec.Message
			signed := stockSignAs(f.t, filepath.Join(f.home, "identities", name, "key"), []byte(payload))
			h, err := gitstore.ParseHash(f.gitIn(signed, "hash-object", "-t", "commit", "-w", "--stdin"))
			if err != nil {
				return nil, err
			}
			out = append(out, h)
			parent = h
		}
		return out, nil
	}, op, at)
}

func (f *fixture) forgeWith(name string, pub ssh.PublicKey, build func(*gitstore.Store, gitstore.Hash, []gitstore.Record) ([]gitstore.Hash, error), op *oplog.Op, at time.Time) string {
	f.t.Helper()
	keyID := identity.KeyID(pub)
	ref := gitstore.FeedRef(keyID)
	st, err := gitstore.Open(f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	old, _, err := st.ReadRef(ref)
	if err != nil {
		f.t.Fatal(err)
	}
	var ops []*oplog.Op
	var seq uint64
	if old.IsZero() {
		body, _ := json.Marshal(trust.IdentityBody{Name: name, Role: "agent", Key: identity.FormatPublicKey(pub)})
		ops = append(ops, &oplog.Op{Type: trust.OpGenesis, Body: body})
	} else {
		seq = f.opAt(old.String()).Seq
	}
	ops = append(ops, op)
	lamport := f.maxLamport()
	// Time no earlier than what the feeds hold: what the forgery tests is
	// the op's authority, not its clock (ledger.Order rules on that).
	if l := f.latest(); l.After(at) {
		at = l
	}
	var recs []gitstore.Record
	for _, o := range ops {
		seq++
		lamport++
		// A clock or version the caller set is what it forges.
		if o.Lamport == 0 {
			o.Lamport = lamport
		}
		if o.V == 0 {
			o.V = oplog.Version
		}
		if o.Time == "" {
			o.Time = oplog.FormatTime(at)
		}
		o.Actor, o.Seq = keyID, seq
		if o.Type == tasks.OpCreate {
			o.Task = tasks.NewID(keyID, o.Seq)
		}
		raw, err := o.Encode()
		if err != nil {
			f.t.Fatal(err)
		}
		recs = append(recs, gitstore.Record{Op: raw, Message: oplog.Message(o, "forged"), Author: ledger.Author(name, keyID, o.When())})
	}
	hs, err := build(st, old, recs)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := st.UpdateRef(ref, old, hs[len(hs)-1]); err != nil {
		f.t.Fatal(err)
	}
	return hs[len(hs)-1].String()
}

func (f *fixture) signer(name string) ssh.Signer {
	f.t.Helper()
	s, err := (&identity.Keystore{Dir: f.home}).Signer(name)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func mkOp(t *testing.T, typ, task string, body any) *oplog.Op {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return &oplog.Op{Type: typ, Task: task, Body: raw}
}

// caught asserts incremental and full verify agree on a finding of kind
// for the commit, that the CLI exits 10 naming it, and returns the reason.
func (f *fixture) caught(kind, commit string, extra ...string) string {
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
	res := f.cli(append([]string{"verify"}, extra...)...)
	if res.code != 10 || !strings.Contains(res.stdout, kind+":") || !strings.Contains(res.stdout, commit) {
		f.t.Fatalf("git covenant verify: want exit 10 naming %s %s, got %s", kind, commit, res)
	}
	return reason
}

func TestModifiedClient(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)

	t.Run("ExceedsScope", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		id := strings.TrimSpace(tm.mustCLI("--as", "bob", "task", "create", "bob's task"))
		// The honest client refuses, naming the scope.
		res := tm.cli("--as", "bob", "task", "start", id)
		if res.code != 6 || !strings.Contains(res.stderr, "bob lacks task.claim") {
			t.Fatalf("honest claim without task.claim: %s", res)
		}
		c := tm.forge("bob", tm.signer("bob"), mkOp(t, tasks.OpClaim, id, tasks.ClaimBody{TTLSeconds: 60}), now)
		if r := tm.caught("unauthorized", c); !strings.Contains(r, "task.claim") {
			t.Fatalf("reason %q does not name the scope", r)
		}
		if tk, _ := tm.open().Task(context.Background(), id); tk.Lease != nil {
			t.Fatalf("forged claim applied: %+v", tk.Lease)
		}
	})

	t.Run("AfterExpiry", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t)
		tm.mustCLI("cap", "grant", "bob", "task.create", "--expires", "1h")
		c := tm.forge("bob", tm.signer("bob"), mkOp(t, tasks.OpCreate, "", tasks.CreateBody{Title: "late", Priority: "low"}), now.Add(2*time.Hour))
		if r := tm.caught("unauthorized", c); !strings.Contains(r, "expired") {
			t.Fatalf("reason %q does not say expired", r)
		}
		if got := titles(tm.taskList()); len(got) != 0 {
			t.Fatalf("forged task listed: %v", got)
		}
	})

	t.Run("BeyondMaxUses", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t)
		tm.mustCLI("cap", "grant", "bob", "task.create", "--max-uses", "1")
		tm.mustCLI("--as", "bob", "task", "create", "one")
		if res := tm.cli("--as", "bob", "task", "create", "two"); res.code != 6 || !strings.Contains(res.stderr, "used up") {
			t.Fatalf("honest second create: %s", res)
		}
		c := tm.forge("bob", tm.signer("bob"), mkOp(t, tasks.OpCreate, "", tasks.CreateBody{Title: "two", Priority: "low"}), now)
		if r := tm.caught("unauthorized", c); !strings.Contains(r, "used up") {
			t.Fatalf("reason %q", r)
		}
		if got := titles(tm.taskList()); len(got) != 1 {
			t.Fatalf("tasks %v, want only one", got)
		}
	})

	t.Run("RevokedKeyAfterRevocation", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		tm.mustCLI("--as", "bob", "task", "create", "before")
		tm.mustCLI("id", "revoke", "bob", "--reason", "laptop lost")
		if res := tm.cli("--as", "bob", "task", "create", "after"); res.code != 6 {
			t.Fatalf("honest write by a revoked identity: %s", res)
		}
		c := tm.forge("bob", tm.signer("bob"), mkOp(t, tasks.OpCreate, "", tasks.CreateBody{Title: "after", Priority: "low"}), now)
		tm.caught(oplog.KindRevokedKey, c)
		if got := titles(tm.taskList()); len(got) != 1 || got[0] != "before" {
			t.Fatalf("tasks %v: ops before the revocation stay, later ones are ignored", got)
		}
	})

	t.Run("RotatedOutKey", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		old := tm.signer("bob")
		tm.mustCLI("--as", "bob", "task", "create", "with old key")
		tm.mustCLI("--as", "bob", "id", "rotate", "bob")
		tm.mustCLI("--as", "bob", "task", "create", "with new key")
		c := tm.forge("bob", old, mkOp(t, tasks.OpCreate, "", tasks.CreateBody{Title: "old key again", Priority: "low"}), now)
		tm.caught(oplog.KindRotatedKey, c)
		if got := titles(tm.taskList()); len(got) != 2 {
			t.Fatalf("tasks %v, want the two honest ones", got)
		}
	})

	t.Run("ForgedDelegation", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t)
		g := strings.TrimSpace(tm.mustCLI("cap", "grant", "bob", "task.create"))
		tm.mustCLI("id", "new", "carol", "--role", "agent")
		tm.mustCLI("id", "register", "carol", "--key", filepath.Join(tm.home, "identities", "carol", "key.pub"))
		// Not delegable: the honest client refuses, the modified one writes it.
		if res := tm.cli("--as", "bob", "cap", "grant", "carol", "task.create"); res.code != 6 {
			t.Fatalf("honest delegation of a non-delegable grant: %s", res)
		}
		c := tm.forge("bob", tm.signer("bob"), mkOp(t, trust.OpGrant, "", trust.GrantBody{To: "carol", Scopes: []string{"task.create"}, Parent: g}), now)
		if r := tm.caught("unauthorized", c); !strings.Contains(r, "not delegable") {
			t.Fatalf("reason %q", r)
		}
		if res := tm.cli("--as", "carol", "task", "create", "x"); res.code != 6 {
			t.Fatalf("carol acted on a forged grant: %s", res)
		}
	})

	t.Run("DelegationExceedsParent", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t)
		g := strings.TrimSpace(tm.mustCLI("cap", "grant", "bob", "task.create", "--delegable"))
		tm.mustCLI("id", "new", "carol", "--role", "agent")
		tm.mustCLI("id", "register", "carol", "--key", filepath.Join(tm.home, "identities", "carol", "key.pub"))
		c := tm.forge("bob", tm.signer("bob"), mkOp(t, trust.OpGrant, "", trust.GrantBody{To: "carol", Scopes: []string{"task.create", "identity.admin"}, Parent: g}), now)
		if r := tm.caught("unauthorized", c); !strings.Contains(r, "exceed") {
			t.Fatalf("reason %q", r)
		}
	})

	t.Run("GrantByNonRoot", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		c := tm.forge("bob", tm.signer("bob"), mkOp(t, trust.OpGrant, "", trust.GrantBody{To: "bob", Scopes: []string{"identity.admin"}}), now)
		if r := tm.caught("unauthorized", c); !strings.Contains(r, "not a trust root") {
			t.Fatalf("reason %q", r)
		}
		if res := tm.cli("cap", "check", "bob", "identity.admin"); !strings.HasPrefix(res.stdout, "deny") {
			t.Fatalf("bob got identity.admin: %s", res)
		}
	})

	t.Run("RegisterWithoutAdmin", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		mallory, _ := (&identity.Keystore{Dir: tm.home}).New("mallory", identity.Agent, now)
		c := tm.forge("bob", tm.signer("bob"), mkOp(t, trust.OpRegister, "", trust.IdentityBody{Name: "mallory", Role: "agent", Key: identity.FormatPublicKey(mallory.PublicKey)}), now)
		if r := tm.caught("unauthorized", c); !strings.Contains(r, "identity.admin") {
			t.Fatalf("reason %q", r)
		}
	})

	t.Run("ReplayedIntoAnotherFeed", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		tm.mustCLI("--as", "bob", "task", "create", "bob's own")
		// alice's op, byte for byte, signed into bob's feed.
		aliceRef := ""
		for k, ref := range tm.feeds() {
			if k != tm.bobKey {
				aliceRef = ref
			}
		}
		aliceOp := tm.opAt(tm.git("rev-parse", aliceRef))
		st, _ := gitstore.Open(tm.dir)
		bobRef := gitstore.FeedRef(tm.bobKey)
		old, _, _ := st.ReadRef(bobRef)
		raw, _ := aliceOp.Encode()
		hs, err := st.BuildFeedCommits(old, []gitstore.Record{{Op: raw, Message: oplog.Message(aliceOp, "replayed"), Author: ledger.Author("bob", tm.bobKey, aliceOp.When())}}, tm.signer("bob"))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateRef(bobRef, old, hs[0]); err != nil {
			t.Fatal(err)
		}
		tm.caught(ledger.KindWrongActor, hs[0].String())
	})

	t.Run("ReorderedFeed", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.create")
		for _, title := range []string{"one", "two"} {
			tm.mustCLI("--as", "bob", "task", "create", title)
		}
		// Rebuild bob's last two ops in swapped order, re-signed by bob.
		bobRef := gitstore.FeedRef(tm.bobKey)
		cs := tm.feedCommits(bobRef)
		one, two := tm.opAt(cs[len(cs)-2]), tm.opAt(cs[len(cs)-1])
		st, _ := gitstore.Open(tm.dir)
		base, _ := gitstore.ParseHash(cs[len(cs)-3])
		var recs []gitstore.Record
		for _, o := range []*oplog.Op{two, one} {
			raw, _ := o.Encode()
			recs = append(recs, gitstore.Record{Op: raw, Message: oplog.Message(o, "reordered"), Author: ledger.Author("bob", tm.bobKey, o.When())})
		}
		hs, err := st.BuildFeedCommits(base, recs, tm.signer("bob"))
		if err != nil {
			t.Fatal(err)
		}
		tm.git("update-ref", bobRef, hs[1].String())
		rep, err := tm.open().Verify(context.Background(), covenant.VerifyOptions{Full: true})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, fd := range rep.Findings {
			found = found || (fd.Kind == ledger.KindSeqGap && fd.Commit == hs[0].String())
		}
		if !found {
			t.Fatalf("reordered feed not reported as a seq gap at %s: %+v", hs[0], rep.Findings)
		}
		if res := tm.cli("verify"); res.code != 10 {
			t.Fatalf("verify: %s", res)
		}
	})

	t.Run("StaleEpochAfterLeaseLost", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.claim", "task.move")
		id := strings.TrimSpace(tm.mustCLI("task", "create", "contended"))
		// bob claims for 1 s; alice claims after it expired (epoch 2).
		t0 := time.Now().UTC().Truncate(time.Second).Add(time.Hour)
		tm.mustCLIEnv([]string{"GIT_COVENANT_NOW=" + t0.Format(time.RFC3339)}, "--as", "bob", "task", "start", id, "--ttl", "1s")
		later := t0.Add(5 * time.Second).Format(time.RFC3339)
		tm.mustCLIEnv([]string{"GIT_COVENANT_NOW=" + later}, "task", "start", id)
		// bob's honest client refuses his late move; his modified one
		// writes it under the old epoch.
		if res := tm.cliEnv([]string{"GIT_COVENANT_NOW=" + later}, "--as", "bob", "task", "move", id, "self_review"); res.code != 5 {
			t.Fatalf("late move by the old holder: %s", res)
		}
		op := mkOp(t, tasks.OpMove, id, tasks.MoveBody{To: "self_review"})
		op.Epoch = 1
		c := tm.forge("bob", tm.signer("bob"), op, t0.Add(6*time.Second))
		rep, err := verifyBoth(t, tm.open())
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, fd := range rep.Findings {
			found = found || (fd.Kind == oplog.KindStaleEpoch && fd.Commit == c && fd.Severity == "conflict")
		}
		if !found {
			t.Fatalf("forged stale-epoch op not flagged: %+v", rep.Findings)
		}
		if res := tm.cli("verify", "--strict"); res.code != 10 || !strings.Contains(res.stdout, c) {
			t.Fatalf("verify --strict: %s", res)
		}
		tk, err := tm.open().Task(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if tk.State != "in_progress" || tk.Lease == nil || tk.Lease.Holder != "alice" || tk.Lease.Epoch != 2 {
			t.Fatalf("the forged move was applied: state %s lease %+v", tk.State, tk.Lease)
		}
	})

	t.Run("RootAddedInCloneConfig", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t)
		pinned := filepath.Join(t.TempDir(), "pinned.toml")
		cfg, err := os.ReadFile(filepath.Join(tm.dir, ".covenant", "config.toml"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(pinned, cfg, 0o644)
		// The attacker adds their own key as a root in their clone's config
		// and acts with it: under that config everything looks fine.
		mallory, _ := (&identity.Keystore{Dir: tm.home}).New("mallory", identity.Human, now)
		evil := string(cfg) + "\n[[trust.roots]]\nname = \"mallory\"\nkey = \"" + identity.FormatPublicKey(mallory.PublicKey) + "\"\n"
		os.WriteFile(filepath.Join(tm.dir, ".covenant", "config.toml"), []byte(evil), 0o644)
		tm.mustCLI("--as", "mallory", "task", "create", "planted")
		if res := tm.cli("verify"); res.code != 0 {
			t.Fatalf("under the clone's own config: %s", res)
		}
		// Pinned to the reviewed config, every op of the planted root is flagged.
		res := tm.cli("verify", "--trust", pinned)
		if res.code != 10 || strings.Count(res.stdout, oplog.KindUntrustedKey+":") < 2 {
			t.Fatalf("verify --trust: want untrusted-key findings for mallory's genesis and task, got %s", res)
		}
	})
}

// cliEnv runs the CLI with extra environment variables.
func (f *fixture) cliEnv(extra []string, args ...string) result {
	f.t.Helper()
	return runIn(f.t, f.dir, f.env(extra...), args...)
}

func (f *fixture) mustCLIEnv(extra []string, args ...string) string {
	f.t.Helper()
	res := f.cliEnv(extra, args...)
	if res.code != 0 {
		f.t.Fatalf("git-covenant %s: %s", strings.Join(args, " "), res)
	}
	return res.stdout
}
