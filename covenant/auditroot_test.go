package covenant_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/attest"
	"github.com/git-covenant/git-covenant/attest/checkpoint"
	"github.com/git-covenant/git-covenant/covenant"
)

func TestAuditRootRoundTripAndTamper(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	r := f.open()
	ar, err := r.SignAuditRoot(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := checkpoint.Root(ar.Predicate.Heads); got != ar.Predicate.Root {
		t.Fatalf("root %s, recomputed %s", ar.Predicate.Root, got)
	}
	res, err := r.VerifyAuditRoot(context.Background(), "", ar.Bundle, nil)
	if err != nil || !res.OK() {
		t.Fatalf("verify: %v %v", err, res.Reasons())
	}

	// A statement re-signed by the same key with another root digest names
	// a real checkpoint but does not match it.
	signer, err := f.keys().Signer("alice")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Repeat("ab", 32)
	st, err := attest.NewStatement([]attest.Subject{{Name: checkpoint.RootSubject, Digest: map[string]string{"sha256": bad}}},
		checkpoint.PredicateType, ar.Predicate)
	if err != nil {
		t.Fatal(err)
	}
	b, err := attest.SignWith(st, ar.Predicate.Feed, func(m []byte) ([]byte, error) {
		s, err := signer.Sign(nil, m)
		if err != nil {
			return nil, err
		}
		return s.Blob, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err = r.VerifyAuditRoot(context.Background(), "", b, nil)
	if err != nil || res.OK() || !strings.Contains(strings.Join(res.Reasons(), "\n"), "root-mismatch") {
		t.Fatalf("re-signed wrong root: %v %v", err, res.Reasons())
	}

	// A predicate naming an op that is not a checkpoint is refused.
	p := ar.Predicate
	p.Checkpoint = ar.Predicate.Prev
	if p.Checkpoint == "" {
		p.Checkpoint = strings.SplitN(ar.Predicate.Heads[0], " ", 2)[1]
	}
	st, _ = attest.NewStatement([]attest.Subject{{Name: checkpoint.RootSubject, Digest: map[string]string{"sha256": p.Root}}}, checkpoint.PredicateType, p)
	b, _ = attest.SignWith(st, p.Feed, func(m []byte) ([]byte, error) { s, err := signer.Sign(nil, m); return s.Blob, err })
	res, err = r.VerifyAuditRoot(context.Background(), "", b, nil)
	if err != nil || res.OK() || !strings.Contains(strings.Join(res.Reasons(), "\n"), "missing-checkpoint") {
		t.Fatalf("not a checkpoint: %v %v", err, res.Reasons())
	}
}

func TestFoldChecksCheckpointShape(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	r := f.open()
	for name, body := range map[string]any{
		"no heads":   checkpoint.Body{Root: checkpoint.Root(nil)},
		"bad root":   checkpoint.Body{Root: strings.Repeat("0", 64), Heads: []string{"k " + strings.Repeat("a", 40)}},
		"bad head":   checkpoint.Body{Root: checkpoint.Root([]string{"k zz"}), Heads: []string{"k zz"}},
		"bad sha256": checkpoint.New(map[string]string{"k": strings.Repeat("a", 40)}, 1, "", []checkpoint.Artifact{{Name: "x", SHA256: "nope"}}),
		"unknown":    json.RawMessage(`{"root":"x","extra":1}`),
	} {
		_, err := r.Append(context.Background(), []covenant.Draft{{Type: checkpoint.OpType, Body: body}})
		if _, ok := covenant.IsRejection(err); !ok {
			t.Errorf("%s: want a rejection, got %v", name, err)
		}
	}
}

// A feed truncated below an audit root (rewound in place, or a fresh
// clone of the truncated feed) makes attest verify fail naming the feed.
func TestAuditRootReportsTruncation(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	f.mustCLI("id", "new", "bob", "--role", "agent")
	bobKey := strings.TrimSpace(f.mustCLI("id", "show", "bob"))
	f.mustCLI("id", "register", "bob", "--role", "agent", "--key", bobKey, "--grant", "task.create")
	f.mustCLI("--as", "bob", "task", "create", "one")
	f.mustCLI("--as", "bob", "task", "create", "two")
	bob, err := f.keys().Get("bob")
	if err != nil {
		t.Fatal(err)
	}
	ar, err := f.open().SignAuditRoot(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := f.open().VerifyAuditRoot(context.Background(), "", ar.Bundle, nil); err != nil || !res.OK() {
		t.Fatalf("before truncation: %v %v", err, res.Reasons())
	}
	ref := "refs/covenant/feeds/" + bob.KeyID()
	head := f.git("rev-parse", ref)
	f.git("update-ref", ref, head+"~1", head)
	res, err := f.open().VerifyAuditRoot(context.Background(), "", ar.Bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	why := strings.Join(res.Reasons(), "\n")
	if res.OK() || !strings.Contains(why, "truncated: feed "+bob.KeyID()+" no longer contains "+head) {
		t.Fatalf("truncated in place: %s", why)
	}
	// A fresh clone of the truncated feeds does not even have the head.
	clone := filepath.Join(t.TempDir(), "clone")
	f.git("clone", "-q", "--no-local", f.dir, clone)
	f.gitRaw(clone, nil, "fetch", "-q", f.dir, "refs/covenant/*:refs/covenant/*")
	if _, err := os.Stat(clone); err != nil {
		t.Fatal(err)
	}
	cr, err := covenant.Open(context.Background(), covenant.Options{Dir: clone, Getenv: f.getenv})
	if err != nil {
		t.Fatal(err)
	}
	if mustStore(t, clone).HasObject(mustHash(t, head)) {
		t.Fatal("the clone has the truncated commit")
	}
	res, err = cr.VerifyAuditRoot(context.Background(), "", ar.Bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	if why := strings.Join(res.Reasons(), "\n"); res.OK() || !strings.Contains(why, "truncated: feed "+bob.KeyID()) {
		t.Fatalf("fresh clone of the truncated feed: %s", why)
	}
	f.git("update-ref", ref, head)
	if res, err := f.open().VerifyAuditRoot(context.Background(), "", ar.Bundle, nil); err != nil || !res.OK() {
		t.Fatalf("restored: %v %v", err, res.Reasons())
	}
}
