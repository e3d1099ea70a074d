package tokens_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/tokens"
	"github.com/git-covenant/git-covenant/trust"
)

const (
	alice = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	bob   = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	carol = "cccccccccccccccccccccccccccccccc"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

var reg = fold.MustNew([]fold.Guard{trust.Admit}, trust.Family(), tasks.Family(tasks.DefaultWorkflow()), tokens.Family())

type world struct {
	t   *testing.T
	st  *tasks.MemState
	seq map[string]uint64
	lam uint64
}

// alice is a root; bob holds task.comment, and task.create for label docs
// only; carol holds identity.admin.
func newWorld(t *testing.T) *world {
	st := tasks.NewMemState()
	st.PutActor(&trust.Actor{KeyID: alice, Name: "alice", Role: "human", Root: true})
	st.PutPrincipal(&trust.Principal{Name: "alice", Root: true, Key: alice, Keys: []string{alice}})
	for _, a := range []struct {
		key, name string
		grants    []string
	}{{bob, "bob", []string{"g-bob", "g-bob-docs"}}, {carol, "carol", []string{"g-carol"}}} {
		st.PutActor(&trust.Actor{KeyID: a.key, Name: a.name, Role: "agent", RegisteredBy: alice})
		st.PutPrincipal(&trust.Principal{Name: a.name, Role: "agent", Key: a.key, Keys: []string{a.key}, Grants: a.grants})
	}
	exp := t0.Add(time.Hour)
	st.PutGrant(&trust.Grant{ID: "g-bob", To: "bob", By: "alice", Scopes: []string{trust.ScopeTaskComment}, ExpiresAt: &exp})
	st.PutGrant(&trust.Grant{ID: "g-bob-docs", To: "bob", By: "alice", Scopes: []string{trust.ScopeTaskCreate}, Labels: []string{"docs"}})
	st.PutGrant(&trust.Grant{ID: "g-carol", To: "carol", By: "alice", Scopes: []string{trust.ScopeIdentityAdmin}})
	return &world{t: t, st: st, seq: map[string]uint64{}}
}

func (w *world) apply(actor, typ string, at time.Time, body any) string {
	w.t.Helper()
	w.seq[actor]++
	w.lam++
	op := &oplog.Op{V: 1, Type: typ, Actor: actor, Seq: w.seq[actor], Lamport: w.lam, Time: oplog.FormatTime(at)}
	op.Body, _ = json.Marshal(body)
	err := reg.Apply(w.st, &oplog.Entry{Op: op, Commit: "c" + typ, Feed: actor})
	if err == nil {
		return ""
	}
	r, ok := oplog.AsRejection(err)
	if !ok {
		w.t.Fatalf("non-rejection error: %v", err)
	}
	return r.Kind
}

func (w *world) record(id string) *tokens.Record {
	var r tokens.Record
	ok, err := w.st.Record(tokens.Kind, id, &r)
	if err != nil || !ok {
		return nil
	}
	return &r
}

const (
	tokA = "tok-aaaaaaaaaaaa"
	tokB = "tok-bbbbbbbbbbbb"
)

func TestCreateNeedsTheScopes(t *testing.T) {
	w := newWorld(t)
	body := func(id string, scopes ...string) tokens.CreateBody {
		return tokens.CreateBody{ID: id, Name: "n", Scopes: scopes, HashPrefix: "0123456789ab"}
	}
	// bob holds task.comment (until t0+1h) and task.create for docs only;
	// a label-restricted grant counts, a scope he lacks does not.
	if k := w.apply(bob, tokens.OpCreate, t0, body(tokA, "task.comment", "task.create", "read")); k != "" {
		t.Fatalf("bob's token with scopes he holds: %s", k)
	}
	if r := w.record(tokA); r == nil || r.Operator.Name != "bob" || len(r.Scopes) != 3 || r.Scopes[0] != "read" {
		t.Fatalf("record: %+v", r)
	}
	if k := w.apply(bob, tokens.OpCreate, t0, body(tokB, "task.claim")); k != oplog.KindUnauthorized {
		t.Errorf("a scope bob lacks: %q", k)
	}
	if k := w.apply(bob, tokens.OpCreate, t0.Add(2*time.Hour), body(tokB, "task.comment")); k != oplog.KindUnauthorized {
		t.Errorf("a scope whose grant expired: %q", k)
	}
	if k := w.apply(alice, tokens.OpCreate, t0, body(tokA, "read")); k != oplog.KindDuplicate {
		t.Errorf("an id twice: %q", k)
	}
	if k := w.apply(alice, tokens.OpCreate, t0, body(tokB, "task.claim", "identity.admin")); k != "" {
		t.Errorf("a root's token: %q", k)
	}
	if k := w.apply("dddddddddddddddddddddddddddddddd", tokens.OpCreate, t0, body("tok-dddddddddddd", "read")); k != oplog.KindUntrustedKey {
		t.Errorf("an unknown key: %q", k)
	}
	for name, b := range map[string]any{
		"no scope":      body("tok-cccccccccccc"),
		"unknown scope": body("tok-cccccccccccc", "task.fly"),
		"bad id":        body("tok-1", "read"),
		"bad prefix":    tokens.CreateBody{ID: "tok-cccccccccccc", Name: "n", Scopes: []string{"read"}, HashPrefix: "xyz"},
		"bad name":      tokens.CreateBody{ID: "tok-cccccccccccc", Name: "Not OK", Scopes: []string{"read"}, HashPrefix: "0123456789ab"},
		"bad expiry":    tokens.CreateBody{ID: "tok-cccccccccccc", Name: "n", Scopes: []string{"read"}, HashPrefix: "0123456789ab", ExpiresAt: "soon"},
		"a secret":      map[string]any{"id": "tok-cccccccccccc", "name": "n", "scopes": []string{"read"}, "hash_prefix": "0123456789ab", "secret": "gcvt_x"},
	} {
		if k := w.apply(alice, tokens.OpCreate, t0, b); k != oplog.KindInvalidBody {
			t.Errorf("%s: %q", name, k)
		}
	}
}

func TestRotateAndRevokeByTheOperator(t *testing.T) {
	w := newWorld(t)
	if k := w.apply(bob, tokens.OpCreate, t0, tokens.CreateBody{ID: tokA, Name: "n", Scopes: []string{"read"}, HashPrefix: "0123456789ab"}); k != "" {
		t.Fatal(k)
	}
	// alice is a root but not bob, and holds identity.admin as a root;
	// carol holds identity.admin; nobody else may touch bob's token.
	if k := w.apply(bob, tokens.OpRotate, t0, tokens.RotateBody{ID: tokA, HashPrefix: "ba9876543210"}); k != "" {
		t.Fatalf("bob rotates his token: %s", k)
	}
	if r := w.record(tokA); r.HashPrefix != "ba9876543210" || len(r.Rotations) != 1 || r.Rotations[0].By.Name != "bob" {
		t.Errorf("after rotation: %+v", r)
	}
	if k := w.apply(bob, tokens.OpRotate, t0, tokens.RotateBody{ID: tokB, HashPrefix: "ba9876543210"}); k != oplog.KindNotFound {
		t.Errorf("rotating an unknown token: %q", k)
	}
	if k := w.apply(carol, tokens.OpRevoke, t0, tokens.RevokeBody{ID: tokA, Reason: "leaked"}); k != "" {
		t.Fatalf("an identity.admin holder revokes: %s", k)
	}
	if r := w.record(tokA); r.Revoked == nil || r.Revoked.By.Name != "carol" || r.Revoked.Reason != "leaked" {
		t.Errorf("after revocation: %+v", r)
	}
	if k := w.apply(bob, tokens.OpRevoke, t0, tokens.RevokeBody{ID: tokA}); k != oplog.KindDuplicate {
		t.Errorf("revoking twice: %q", k)
	}
	if k := w.apply(bob, tokens.OpRotate, t0, tokens.RotateBody{ID: tokA, HashPrefix: "ba9876543210"}); k != oplog.KindDuplicate {
		t.Errorf("rotating a revoked token: %q", k)
	}
	if k := w.apply(alice, tokens.OpCreate, t0, tokens.CreateBody{ID: tokB, Name: "m", Scopes: []string{"read"}, HashPrefix: "0123456789ab"}); k != "" {
		t.Fatal(k)
	}
	if k := w.apply(bob, tokens.OpRevoke, t0, tokens.RevokeBody{ID: tokB}); k != oplog.KindUnauthorized {
		t.Errorf("bob revokes alice's token: %q", k)
	}
}
