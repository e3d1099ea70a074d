package covenant

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/git-covenant/git-covenant/attest"
	"github.com/git-covenant/git-covenant/attest/checkpoint"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
	"golang.org/x/crypto/ssh"
)

// AuditRootPredicate is the predicate of an audit-root statement.
type AuditRootPredicate struct {
	Checkpoint string                `json:"checkpoint"` // the attest.checkpoint op (feed commit)
	Feed       string                `json:"feed"`       // the signer's key id
	Signer     string                `json:"signer"`
	Root       string                `json:"root"`
	Ops        uint64                `json:"ops"`
	Prev       string                `json:"prev,omitempty"`
	Heads      []string              `json:"heads"`
	Release    []checkpoint.Artifact `json:"release,omitempty"`
}

// AuditRoot is the result of SignAuditRoot.
type AuditRoot struct {
	Predicate AuditRootPredicate `json:"checkpoint"`
	Bundle    json.RawMessage    `json:"bundle"`
}

// HashFile returns the hex sha256 of a file.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SignAuditRoot writes an attest.checkpoint op over the current feed heads
// (bound to the release files given, by base name and sha256) to the acting
// identity's feed and returns it with a DSSE-signed in-toto statement about
// it packed as a sigstore bundle.
func (s *Service) SignAuditRoot(ctx context.Context, releases []string) (*AuditRoot, error) {
	var arts []checkpoint.Artifact
	for _, p := range releases {
		sum, err := HashFile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: release file: %v", ErrBadInput, err)
		}
		arts = append(arts, checkpoint.Artifact{Name: filepath.Base(p), SHA256: sum})
	}
	sort.Slice(arts, func(i, j int) bool { return arts[i].Name < arts[j].Name })
	var body *checkpoint.Body
	w, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		heads := map[string]string{}
		for k, p := range tx.Meta.Feeds {
			heads[k] = p.Head
		}
		prev, err := tx.LastOp(checkpoint.OpType)
		if err != nil {
			return nil, err
		}
		body = checkpoint.New(heads, uint64(tx.Meta.Ops), prev, arts)
		if err := body.Check(); err != nil {
			return nil, fmt.Errorf("%w: checkpoint: %v", ErrBadInput, err)
		}
		return []Draft{{Type: checkpoint.OpType, Body: body, Summary: "audit root " + body.Root[:12]}}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	if len(w.Entries) != 1 {
		return nil, fmt.Errorf("checkpoint was not written")
	}
	id, err := s.Actor("")
	if err != nil {
		return nil, err
	}
	pred := AuditRootPredicate{Checkpoint: w.Entries[0].Commit, Feed: w.Actor.KeyID, Signer: w.Actor.Name,
		Root: body.Root, Ops: body.Ops, Prev: body.Prev, Heads: body.Heads, Release: body.Release}
	subjects := []attest.Subject{}
	for _, a := range body.Release {
		subjects = append(subjects, attest.Subject{Name: a.Name, Digest: map[string]string{"sha256": a.SHA256}})
	}
	subjects = append(subjects, attest.Subject{Name: checkpoint.RootSubject, Digest: map[string]string{"sha256": body.Root}})
	st, err := attest.NewStatement(subjects, checkpoint.PredicateType, pred)
	if err != nil {
		return nil, err
	}
	bundle, err := attest.SignWith(st, w.Actor.KeyID, ed25519Signer(id.signer, id.Name))
	if err != nil {
		return nil, err
	}
	return &AuditRoot{Predicate: pred, Bundle: bundle}, nil
}

// AuditRootCheck is the result of VerifyAuditRoot.
type AuditRootCheck struct {
	Checkpoint string              `json:"checkpoint,omitempty"`
	Signer     string              `json:"signer,omitempty"`
	Root       string              `json:"root,omitempty"`
	Ops        uint64              `json:"ops,omitempty"`
	Release    []ReleaseCheck      `json:"release,omitempty"`
	Problems   []provenanceProblem `json:"problems,omitempty"`
}

// ReleaseCheck says what became of one release artifact.
type ReleaseCheck struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Path   string `json:"path,omitempty"` // the file hashed; "" if none found
	Status string `json:"status"`         // ok, changed, absent
}

type provenanceProblem struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// OK reports whether no problem was found.
func (c *AuditRootCheck) OK() bool { return len(c.Problems) == 0 }

func (c *AuditRootCheck) fail(kind, format string, args ...any) *AuditRootCheck {
	c.Problems = append(c.Problems, provenanceProblem{Kind: kind, Reason: fmt.Sprintf(format, args...)})
	return c
}

// Reasons returns the problems as "kind: reason" lines.
func (c *AuditRootCheck) Reasons() []string {
	var out []string
	for _, p := range c.Problems {
		out = append(out, p.Kind+": "+p.Reason)
	}
	return out
}

// VerifyAuditRoot checks an audit-root bundle against the repository: its
// signature under the signer's key from the folded identities, that the
// checkpoint op it names is in the signer's feed and accepted by the fold,
// that the statement's root and release digests are the op's, that the
// root matches the heads the op recorded, and that each release file found
// (by base name among releases, or next to the bundle) hashes the same.
func (s *Service) VerifyAuditRoot(ctx context.Context, bundlePath string, raw []byte, releases []string) (*AuditRootCheck, error) {
	var c *AuditRootCheck
	err := s.read(ctx, func(ix *index.Index) (err error) {
		c, err = s.checkAuditRoot(ix, bundlePath, raw, releases)
		return err
	})
	return c, err
}

func (s *Service) checkAuditRoot(ix *index.Index, bundlePath string, raw []byte, releases []string) (*AuditRootCheck, error) {
	c := &AuditRootCheck{}
	env, err := attest.Parse(raw)
	if err != nil {
		return c.fail("malformed", "%v", err), nil
	}
	act, err := ix.Actor(env.KeyHint)
	if err != nil {
		return nil, err
	}
	pub, ok := edKey(act.Key)
	if !ok {
		return c.fail("unknown-signer", "key %q is not a known identity of this repository", env.KeyHint), nil
	}
	c.Signer = act.Name
	if err := env.Verify(pub); err != nil {
		return c.fail("bad-signature", "the DSSE signature does not verify under %s's key %s", act.Name, env.KeyHint), nil
	}
	st, err := attest.ParseStatement(env.Payload)
	if err != nil {
		return c.fail("malformed", "%v", err), nil
	}
	if st.PredicateType != checkpoint.PredicateType {
		return c.fail("malformed", "predicate type %q, want %q", st.PredicateType, checkpoint.PredicateType), nil
	}
	var pred AuditRootPredicate
	if err := json.Unmarshal(st.Predicate, &pred); err != nil {
		return c.fail("malformed", "predicate: %v", err), nil
	}
	c.Checkpoint, c.Root, c.Ops = pred.Checkpoint, pred.Root, pred.Ops
	// The checkpoint op: in the log, accepted, of the right type and feed.
	le, err := ix.LogEntryOf(pred.Checkpoint)
	if err != nil {
		return nil, err
	}
	switch {
	case le == nil:
		return c.fail("missing-checkpoint", "no op %s in this repository's feeds", pred.Checkpoint), nil
	case le.Type != checkpoint.OpType:
		return c.fail("missing-checkpoint", "op %s is a %s, not an %s", pred.Checkpoint, le.Type, checkpoint.OpType), nil
	case le.Rejected != nil:
		return c.fail("missing-checkpoint", "checkpoint %s was rejected by the fold: %s", pred.Checkpoint, le.Rejected.Reason), nil
	case le.Feed != env.KeyHint:
		return c.fail("wrong-signer", "checkpoint %s is in feed %s, the bundle is signed by %s", pred.Checkpoint, le.Feed, env.KeyHint), nil
	}
	h, err := gitstore.ParseHash(pred.Checkpoint)
	if err != nil {
		return nil, err
	}
	fc, err := s.store().ReadFeedCommit(h)
	if err != nil {
		return nil, err
	}
	op, err := oplog.Decode(fc.Op)
	if err != nil {
		return nil, err
	}
	body, err := checkpoint.Parse(op.Body)
	if err != nil {
		return c.fail("bad-checkpoint", "%v", err), nil
	}
	// Root recomputed from the heads the op recorded.
	if got := checkpoint.Root(body.Heads); got != body.Root {
		return c.fail("root-mismatch", "the checkpoint's root %s does not match its heads (%s)", body.Root, got), nil
	}
	// Every head it recorded must still be in its feed: a clone of feeds
	// truncated below the checkpoint must not verify clean.
	heads, err := s.store().FeedHeads()
	if err != nil {
		return nil, err
	}
	cur := map[string]string{}
	for k, h := range heads {
		cur[k] = h.String()
	}
	truncs, err := body.Truncations(cur, func(recorded, head string) (bool, error) {
		rh, err := gitstore.ParseHash(recorded)
		if err != nil || !s.store().HasObject(rh) {
			return false, nil
		}
		hh, err := gitstore.ParseHash(head)
		if err != nil {
			return false, nil
		}
		in, err := s.store().IsAncestor(rh, hh)
		if err != nil {
			return false, nil // an unreadable history does not hold it
		}
		return in, nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range truncs {
		if t.Current == "" {
			c.fail("truncated", "feed %s is gone; checkpoint %s recorded its head %s", t.Feed, pred.Checkpoint, t.Recorded)
			continue
		}
		c.fail("truncated", "feed %s no longer contains %s, the head checkpoint %s recorded (its head is now %s)", t.Feed, t.Recorded, pred.Checkpoint, t.Current)
	}
	subj := map[string]string{}
	for _, s := range st.Subjects {
		subj[s.Name] = s.Digest["sha256"]
	}
	if subj[checkpoint.RootSubject] != body.Root {
		c.fail("root-mismatch", "the statement's %s digest %q is not the checkpoint's root %s", checkpoint.RootSubject, subj[checkpoint.RootSubject], body.Root)
	}
	if pred.Root != body.Root || pred.Ops != body.Ops || pred.Prev != body.Prev {
		c.fail("root-mismatch", "the predicate's root, op count or prev differ from checkpoint %s", pred.Checkpoint)
	}
	if len(st.Subjects) != len(body.Release)+1 {
		c.fail("release-mismatch", "the statement has %d subjects, the checkpoint binds %d release file(s) and the root", len(st.Subjects), len(body.Release))
	}
	given := map[string]string{}
	for _, p := range releases {
		given[filepath.Base(p)] = p
	}
	for _, a := range body.Release {
		if subj[a.Name] != a.SHA256 {
			c.fail("release-mismatch", "release %s: the statement says sha256 %q, the checkpoint %s", a.Name, subj[a.Name], a.SHA256)
		}
		rc := ReleaseCheck{Name: a.Name, SHA256: a.SHA256, Status: "absent"}
		p, ok := given[a.Name]
		if !ok && bundlePath != "" {
			p = filepath.Join(filepath.Dir(bundlePath), a.Name)
		}
		if sum, err := HashFile(p); err == nil {
			rc.Path = p
			rc.Status = "ok"
			if sum != a.SHA256 {
				rc.Status = "changed"
				c.fail("release-changed", "%s: sha256 %s, the checkpoint binds %s", p, sum, a.SHA256)
			}
		} else if ok {
			c.fail("release-missing", "%s: %v", p, err)
		}
		c.Release = append(c.Release, rc)
	}
	return c, nil
}

func edKey(key string) (ed25519.PublicKey, bool) {
	if key == "" {
		return nil, false
	}
	pub, err := identity.ParsePublicKey(key)
	if err != nil {
		return nil, false
	}
	ck, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		return nil, false
	}
	ed, ok := ck.CryptoPublicKey().(ed25519.PublicKey)
	return ed, ok
}
