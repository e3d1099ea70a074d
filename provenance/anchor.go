package provenance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

// OpAnchor is the op that anchors a provenance bundle in its signer's feed:
// `provenance record` writes it before it appends the bundle to the notes.
// A bundle counts only if an accepted anchor of its signer names it, so the
// signer's authority is judged at the anchor's feed position and time
// (bounded by the format's causal rules), never at the statement's
// recordedAt, which is the signer's word: a rotated-out or revoked key
// cannot attest later by backdating it, because its later ops are cut off
// by position.
const OpAnchor = "provenance.anchor"

// AnchorKind is the fold.Records kind anchors are kept under.
const AnchorKind = "provenance.anchor"

// AnchorBody is the body of provenance.anchor.
type AnchorBody struct {
	// Commit is the code commit the bundle is about.
	Commit string `json:"commit"`
	// Bundle is the hex SHA-256 of the bundle line (BundleDigest).
	Bundle string `json:"bundle"`
	// Paths are the paths the commit changes (Changes), sorted; the fold
	// checks provenance.record for each at the op's position. Empty for a
	// commit that changes nothing.
	Paths []string `json:"paths,omitempty"`
}

var (
	commitRE = &lazyre.Regexp{Expr: `^[0-9a-f]{40}$`}
	sha256RE = &lazyre.Regexp{Expr: `^[0-9a-f]{64}$`}
)

// Check validates the commit id, digest and paths (relative, sorted,
// unique).
func (b *AnchorBody) Check() error {
	if !commitRE.MatchString(b.Commit) {
		return fmt.Errorf("commit %q is not a commit id", b.Commit)
	}
	if !sha256RE.MatchString(b.Bundle) {
		return fmt.Errorf("bundle %q is not a hex sha256", b.Bundle)
	}
	for i, p := range b.Paths {
		if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
			return fmt.Errorf("paths[%d] = %q is not a path in a tree", i, p)
		}
		if i > 0 && b.Paths[i-1] >= p {
			return fmt.Errorf("paths are not sorted and unique at %d", i)
		}
	}
	if len(b.Paths) == 0 {
		b.Paths = nil
	}
	return nil
}

// Anchor is an accepted provenance.anchor op, as the fold keeps it.
type Anchor struct {
	Key    string    `json:"key"` // the signer's key id: the feed it is in
	Seq    uint64    `json:"seq"`
	Op     string    `json:"op"` // the feed commit
	At     time.Time `json:"at"` // the op's time
	Commit string    `json:"commit"`
	Paths  []string  `json:"paths"`
}

// AnchorKey is the record key of keyID's anchor of a bundle digest: each
// signer anchors only its own bundles, so another key anchoring the same
// digest first cannot block it.
func AnchorKey(keyID, digest string) string { return digest + "@" + keyID }

// BundleDigest is the hex SHA-256 of one bundle line, as a note holds it
// (no surrounding white space, no newline).
func BundleDigest(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// ChangedPaths lists the paths of changes, as an anchor names them.
func ChangedPaths(changes []Change) []string {
	var out []string
	for _, ch := range changes {
		out = append(out, ch.Path)
	}
	return out
}

// anchorState is what the anchor fold reads: trust and its records.
type anchorState interface {
	fold.Records
	trust.State
}

// Family is the provenance op types: provenance.anchor needs
// provenance.record for every path it names at the op's position (grant
// cut-offs by seq apply) and time; it names no task.
func Family() fold.Family {
	return fold.Family{Name: "provenance", Ops: []fold.Op{fold.Typed(OpAnchor, applyAnchor)}}
}

func applyAnchor(c *fold.Ctx, b *AnchorBody) error {
	if c.Op.Task != "" {
		return oplog.Reject(oplog.KindInvalidBody, "%s names no task", c.Op.Type)
	}
	st, err := fold.As[anchorState](c)
	if err != nil {
		return err
	}
	_, actor, err := trust.Signer(c)
	if err != nil {
		return err
	}
	paths := b.Paths
	if len(paths) == 0 {
		paths = []string{""}
	}
	for _, p := range paths {
		if _, err := trust.Find(st, actor, trust.Need{Scope: trust.ScopeProvenance, Path: p, Seq: c.Op.Seq}, c.At); err != nil {
			return err
		}
	}
	key := AnchorKey(c.Op.Actor, b.Bundle)
	var old Anchor
	if ok, err := st.Record(AnchorKind, key, &old); err != nil {
		return err
	} else if ok {
		return oplog.Reject(oplog.KindDuplicate, "bundle %s is already anchored by %s", b.Bundle[:12], old.Op)
	}
	return st.PutRecord(AnchorKind, key, &Anchor{Key: c.Op.Actor, Seq: c.Op.Seq, Op: c.Entry.Commit, At: c.At,
		Commit: b.Commit, Paths: append([]string{}, b.Paths...)})
}
