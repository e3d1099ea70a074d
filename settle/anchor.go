package settle

import (
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// AnchorBody is the body of settle.anchor: where a batch root was
// published on Solana, as a memo instruction whose data is the 32 raw root
// bytes, in a transaction signed by the signer's own ed25519 key.
type AnchorBody struct {
	Batch string `json:"batch"`
	Root  string `json:"root"`
	// Signature is the transaction's first signature (base58), its id.
	Signature string `json:"signature"`
	Slot      uint64 `json:"slot"`
	// BlockTime is the slot's time as the cluster reported it (unix
	// seconds, 0 when it reported none).
	BlockTime int64 `json:"block_time,omitempty"`
	// Payer is the fee payer and signer (base58 public key).
	Payer string `json:"payer"`
	// Genesis is the cluster's genesis hash, naming which chain (base58;
	// empty when the node did not say).
	Genesis string `json:"genesis,omitempty"`
}

var b58RE = &lazyre.Regexp{Expr: `^[1-9A-HJ-NP-Za-km-z]{32,88}$`}

// Check validates the body on its own.
func (b *AnchorBody) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadBatch, fmt.Sprintf(format, args...))
	}
	if err := CheckBatchID(b.Batch); err != nil {
		return err
	}
	switch {
	case !hex64.MatchString(b.Root):
		return bad("root %q is not a hex SHA-256", b.Root)
	case !b58RE.MatchString(b.Signature):
		return bad("signature %q is not base58", b.Signature)
	case !b58RE.MatchString(b.Payer):
		return bad("payer %q is not a base58 key", b.Payer)
	case b.Genesis != "" && !b58RE.MatchString(b.Genesis):
		return bad("genesis %q is not base58", b.Genesis)
	case b.Slot == 0 || b.BlockTime < 0:
		return bad("slot %d, block time %d", b.Slot, b.BlockTime)
	}
	return nil
}

// Anchor is the folded state of one batch's anchor.
type Anchor struct {
	AnchorBody
	By tasks.Ref `json:"by"`
	At time.Time `json:"at"`
	Op string    `json:"op"`
}

func anchor(c *fold.Ctx, b *AnchorBody) error {
	st, actor, g, err := authorize(c)
	if err != nil {
		return err
	}
	var bt Batch
	if ok, err := st.Record(KindBatch, b.Batch, &bt); err != nil {
		return err
	} else if !ok {
		return oplog.Reject(oplog.KindNotFound, "no batch %s", b.Batch)
	}
	if bt.Root != b.Root {
		return oplog.Reject(oplog.KindInvalidBody, "batch %s has root %s, the anchor says %s", b.Batch, bt.Root, b.Root)
	}
	var old Anchor
	if ok, err := st.Record(KindAnchor, b.Batch, &old); err != nil {
		return err
	} else if ok {
		return oplog.Reject(oplog.KindDuplicate, "batch %s is anchored already (op %s)", b.Batch, old.Op)
	}
	a := &Anchor{AnchorBody: *b, By: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, At: c.At, Op: c.Entry.Commit}
	if err := st.PutRecord(KindAnchor, b.Batch, a); err != nil {
		return err
	}
	return trust.Use(st, g)
}
