package remote

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/oplog"
	"golang.org/x/crypto/ssh"
)

// A lease intent is what a strong claim pushes as its lease marker: a
// signed commit that is not a feed commit (no parent, one file intent.json,
// no op.json), naming the claim it stands for. The claim's feed commit
// leaves the clone only after the marker is won, so a refused strong claim
// leaves nothing at any feed position that a remote could later publish as
// a second history of the claimant's key (docs/format.md, Lease markers).

// IntentFile is the one file of a lease intent's tree.
const IntentFile = "intent.json"

// OpIntent is the type a lease intent carries.
const OpIntent = "lease.intent"

// Intent is the content of intent.json (canonical JSON).
type Intent struct {
	V          int    `json:"v"`
	Type       string `json:"type"`
	Actor      string `json:"actor"`
	Task       string `json:"task"`
	Epoch      uint64 `json:"epoch"`
	TTLSeconds int64  `json:"ttl_seconds"`
	Time       string `json:"time"`
	Claim      string `json:"claim"` // the task.claim feed commit it stands for
}

var hex40 = &lazyre.Regexp{Expr: `^[0-9a-f]{40}$`}

// BuildIntent writes the lease intent for a claim op (committed as claim,
// not yet published) and returns its commit. Nothing refers to it until
// it is pushed as a marker.
func BuildIntent(st *gitstore.Store, claim gitstore.Hash, op *oplog.Op, author gitstore.Person, signer ssh.Signer) (gitstore.Hash, error) {
	var b struct {
		TTLSeconds int64 `json:"ttl_seconds"`
	}
	if err := json.Unmarshal(op.Body, &b); err != nil {
		return gitstore.ZeroHash, fmt.Errorf("lease intent: claim body: %w", err)
	}
	in := Intent{V: 1, Type: OpIntent, Actor: op.Actor, Task: op.Task, Epoch: op.Epoch, TTLSeconds: b.TTLSeconds, Time: op.Time, Claim: claim.String()}
	raw, err := json.Marshal(in)
	if err != nil {
		return gitstore.ZeroHash, err
	}
	if raw, err = oplog.Canonicalize(raw); err != nil {
		return gitstore.ZeroHash, err
	}
	blob, err := st.WriteObject(gitstore.BlobObject, raw)
	if err != nil {
		return gitstore.ZeroHash, err
	}
	tree, err := st.WriteObject(gitstore.TreeObject, gitstore.EncodeTree([]gitstore.TreeEntry{{Name: IntentFile, Mode: "100644", Hash: blob}}))
	if err != nil {
		return gitstore.ZeroHash, err
	}
	msg := fmt.Sprintf("%s: %s epoch %d\n\nCovenant-Op: %s\nCovenant-Task: %s\nCovenant-Lease: %d\n", OpIntent, op.Task, op.Epoch, OpIntent, op.Task, op.Epoch)
	c := &gitstore.Commit{Tree: tree, Author: author, Committer: author, Message: msg}
	signed, err := gitstore.SignCommit(c, signer)
	if err != nil {
		return gitstore.ZeroHash, err
	}
	return st.WriteCommit(signed)
}

// readIntent reads a lease intent commit: nil if h is not one (a marker of
// the earlier kind is the claim's feed commit itself).
func readIntent(st *gitstore.Store, h gitstore.Hash) (*Intent, *gitstore.Commit) {
	c, err := st.ReadCommit(h)
	if err != nil || len(c.Parents) != 0 {
		return nil, nil
	}
	entries, err := st.ReadTree(c.Tree)
	if err != nil || len(entries) != 1 || entries[0].Name != IntentFile || entries[0].Mode != "100644" {
		return nil, nil
	}
	raw, err := st.ReadTyped(entries[0].Hash, gitstore.BlobObject)
	if err != nil {
		return nil, nil
	}
	if canon, err := oplog.Canonicalize(raw); err != nil || !bytes.Equal(canon, raw) {
		return nil, nil
	}
	var in Intent
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.V != 1 || in.Type != OpIntent || !hex40.MatchString(in.Claim) || in.Epoch == 0 {
		return nil, nil
	}
	return &in, c
}

// claimOp is the task.claim an intent stands for, as far as the intent says.
func (in *Intent) claimOp() *oplog.Op {
	body, _ := json.Marshal(struct {
		TTLSeconds int64 `json:"ttl_seconds"`
	}{in.TTLSeconds})
	return &oplog.Op{V: oplog.Version, Type: opClaim, Actor: in.Actor, Task: in.Task, Epoch: in.Epoch, Time: in.Time, Body: body}
}
