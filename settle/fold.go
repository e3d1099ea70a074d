package settle

import (
	"bytes"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/receipts"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Family is the settlement op types.
//
// Rules: the signer is a daemon identity or holds settle.write; a batch
// lists receipts that exist (their run records are folded) and that no
// earlier batch holds, and its root is the RFC 6962 root over them, which
// the fold recomputes: a batch op cannot commit to bytes other than the
// receipts'. An anchor names a folded batch and the root it carries.
func Family() fold.Family {
	return fold.Family{Name: "settle", Ops: []fold.Op{
		fold.Typed(OpBatch, batch),
		fold.Typed(OpAnchor, anchor),
	}}
}

type state interface {
	fold.Records
	trust.State
}

func authorize(c *fold.Ctx) (state, *trust.Actor, *trust.Grant, error) {
	st, err := fold.As[state](c)
	if err != nil {
		return nil, nil, nil, err
	}
	_, actor, err := trust.Signer(c)
	if err != nil {
		return nil, nil, nil, err
	}
	if c.Op.Task != "" || c.Op.Epoch != 0 {
		return nil, nil, nil, oplog.Reject(oplog.KindInvalidBody, "%s names no task or epoch", c.Op.Type)
	}
	if actor.Role == string(identity.Daemon) {
		return st, actor, nil, nil
	}
	g, err := trust.FindBounded(st, actor, trust.Need{Scope: trust.ScopeSettle}, c.At, c.Late)
	return st, actor, g, err
}

func batch(c *fold.Ctx, b *BatchBody) error {
	st, actor, g, err := authorize(c)
	if err != nil {
		return err
	}
	id := BatchID(b.Root)
	var old Batch
	if ok, err := st.Record(KindBatch, id, &old); err != nil {
		return err
	} else if ok {
		return oplog.Reject(oplog.KindDuplicate, "batch %s exists (op %s)", id, old.Op)
	}
	leaves := make([][]byte, len(b.Receipts))
	for i, rid := range b.Receipts {
		r, err := Lookup(st, rid)
		if err != nil {
			return err
		}
		var in Batched
		if ok, err := st.Record(KindBatched, rid, &in); err != nil {
			return err
		} else if ok {
			return oplog.Reject(oplog.KindDuplicate, "receipt %s is in batch %s already", rid, in.Batch)
		}
		leaves[i] = LeafHash(r.Canonical())
	}
	t, err := NewTree(leaves)
	if err != nil {
		return oplog.Reject(oplog.KindInvalidBody, "%v", err)
	}
	if want, _ := Unhex(b.Root); !bytes.Equal(t.Root(), want) {
		return oplog.Reject(oplog.KindInvalidBody, "root %s is not the root over the listed receipts (%s)", b.Root, Hex(t.Root()))
	}
	rec := &Batch{ID: id, Root: b.Root, Count: b.Count, First: b.First, Last: b.Last, Receipts: b.Receipts,
		By: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, At: c.At, Op: c.Entry.Commit}
	if err := st.PutRecord(KindBatch, id, rec); err != nil {
		return err
	}
	for i, rid := range b.Receipts {
		if err := st.PutRecord(KindBatched, rid, &Batched{Batch: id, Index: i}); err != nil {
			return err
		}
	}
	return trust.Use(st, g)
}

// Lookup returns a receipt by id from folded run records, or a not-found
// rejection.
func Lookup(st fold.Records, id string) (receipts.Receipt, error) {
	run, _, err := receipts.ParseID(id)
	if err != nil {
		return receipts.Receipt{}, oplog.Reject(oplog.KindInvalidBody, "%v", err)
	}
	var rec runs.Record
	ok, err := st.Record(runs.Kind, run, &rec)
	if err != nil {
		return receipts.Receipt{}, err
	}
	if ok {
		if r, ok := receipts.Find(&rec, id); ok {
			return r, nil
		}
	}
	return receipts.Receipt{}, oplog.Reject(oplog.KindNotFound, "no receipt %s", id)
}
