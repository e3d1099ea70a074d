// Package checkpoint defines the attest.checkpoint op: a signed checkpoint
// over the feed heads of a covenant repository (an audit root), optionally
// bound to release artifacts, and registers it with the fold. It imports
// fold and oplog only, so the fold can check a body's shape without the
// attest machinery.
package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// OpType is the op that stores a checkpoint in the signer's feed.
const OpType = "attest.checkpoint"

// PredicateType is the in-toto predicate type of an audit-root statement.
const PredicateType = "https://git-covenant.dev/attestation/audit-root/v1"

// RootSubject is the subject name the root digest goes under.
const RootSubject = "covenant-audit-root"

// Artifact is a release file bound into a checkpoint.
type Artifact struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Body is the body of an attest.checkpoint op.
type Body struct {
	// Root is sha256 over Heads, each line followed by "\n".
	Root string `json:"root"`
	// Ops is the number of ops the index had folded.
	Ops uint64 `json:"ops"`
	// Heads are "key-id head" lines, sorted, one per feed.
	Heads []string `json:"heads"`
	// Prev is the id (commit) of the previous checkpoint op, "" for none.
	Prev    string     `json:"prev,omitempty"`
	Release []Artifact `json:"release,omitempty"`
}

var (
	hex40 = &lazyre.Regexp{Expr: `^[0-9a-f]{40}$`}
	hex64 = &lazyre.Regexp{Expr: `^[0-9a-f]{64}$`}
)

// Root computes the root digest of head lines.
func Root(heads []string) string {
	h := sha256.New()
	for _, l := range heads {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// New builds a body from feed heads (key id → head commit).
func New(heads map[string]string, ops uint64, prev string, release []Artifact) *Body {
	lines := make([]string, 0, len(heads))
	for k, h := range heads {
		if h == "" {
			continue
		}
		lines = append(lines, k+" "+h)
	}
	sort.Strings(lines)
	return &Body{Root: Root(lines), Ops: ops, Heads: lines, Prev: prev, Release: release}
}

// Parse decodes and checks a body.
func Parse(raw []byte) (*Body, error) {
	var b Body
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("body: %v", err)
	}
	return &b, b.Check()
}

// Check reports whether the body is well formed: sorted, unique head
// lines of a key id and a commit id, a root that matches them, a prev
// that is a commit id, and release artifacts with a name and a sha256.
func (b *Body) Check() error {
	if len(b.Heads) == 0 {
		return fmt.Errorf("names no feed heads")
	}
	for i, l := range b.Heads {
		k, h, ok := strings.Cut(l, " ")
		if !ok || k == "" || strings.ContainsAny(k, " \n") || !hex40.MatchString(h) {
			return fmt.Errorf("heads[%d] = %q: want \"<key-id> <commit>\"", i, l)
		}
		if i > 0 && b.Heads[i-1] >= l {
			return fmt.Errorf("heads are not sorted and unique at %d", i)
		}
	}
	if b.Root != Root(b.Heads) {
		return fmt.Errorf("root %s does not match the heads listed", b.Root)
	}
	if b.Prev != "" && !hex40.MatchString(b.Prev) {
		return fmt.Errorf("prev %q is not a commit id", b.Prev)
	}
	seen := map[string]bool{}
	for i, a := range b.Release {
		if a.Name == "" || strings.ContainsAny(a.Name, "/\\\n") || seen[a.Name] {
			return fmt.Errorf("release[%d]: name %q must be a unique plain file name", i, a.Name)
		}
		seen[a.Name] = true
		if !hex64.MatchString(a.SHA256) {
			return fmt.Errorf("release[%d] (%s): sha256 %q is not a hex sha256", i, a.Name, a.SHA256)
		}
	}
	return nil
}

// Truncation names a feed that no longer holds the head a checkpoint
// recorded: the feed was truncated or rewritten below the checkpoint (or
// deleted, Current "").
type Truncation struct {
	Feed     string `json:"feed"`
	Recorded string `json:"recorded"`
	Current  string `json:"current,omitempty"`
}

// Truncations checks that every head the checkpoint recorded is still an
// ancestor of (or equal to) its feed's current head. current maps key ids
// to current heads; contains(recorded, head) reports whether head's
// history holds recorded.
func (b *Body) Truncations(current map[string]string, contains func(recorded, head string) (bool, error)) ([]Truncation, error) {
	var out []Truncation
	for _, l := range b.Heads {
		k, h, _ := strings.Cut(l, " ")
		cur, ok := current[k]
		if !ok {
			out = append(out, Truncation{Feed: k, Recorded: h})
			continue
		}
		in, err := contains(h, cur)
		if err != nil {
			return nil, err
		}
		if !in {
			out = append(out, Truncation{Feed: k, Recorded: h, Current: cur})
		}
	}
	return out, nil
}
