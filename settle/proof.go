package settle

import (
	"fmt"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/receipts"
)

// NewBatch returns the batch body over receipts, in order.
func NewBatch(rs []receipts.Receipt) (*BatchBody, error) {
	t, err := NewTree(Leaves(rs))
	if err != nil {
		return nil, err
	}
	b := &BatchBody{Root: Hex(t.Root()), Count: len(rs), First: rs[0].ID, Last: rs[len(rs)-1].ID, Receipts: make([]string, len(rs))}
	for i := range rs {
		b.Receipts[i] = rs[i].ID
	}
	return b, nil
}

// ProofFor builds the inclusion proof of a batched receipt from folded
// state: the batch's receipts are read back from their run records and
// the tree rebuilt.
func ProofFor(st fold.Records, id string) (*Proof, error) {
	var in Batched
	ok, err := st.Record(KindBatched, id, &in)
	if err != nil {
		return nil, err
	}
	if !ok {
		if _, err := Lookup(st, id); err != nil {
			return nil, err
		}
		return nil, oplog.Reject(oplog.KindNotFound, "receipt %s is in no batch yet (git covenant settle batch)", id)
	}
	var bt Batch
	if ok, err := st.Record(KindBatch, in.Batch, &bt); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("receipt %s names batch %s, which is not folded", id, in.Batch)
	}
	rs := make([]receipts.Receipt, len(bt.Receipts))
	for i, rid := range bt.Receipts {
		if rs[i], err = Lookup(st, rid); err != nil {
			return nil, err
		}
	}
	return proofIn(bt.ID, rs, in.Index)
}

func proofIn(batch string, rs []receipts.Receipt, i int) (*Proof, error) {
	t, err := NewTree(Leaves(rs))
	if err != nil {
		return nil, err
	}
	path, err := t.Inclusion(uint64(i))
	if err != nil {
		return nil, err
	}
	p := &Proof{Receipt: rs[i].ID, Canon: string(rs[i].Canonical()), Batch: batch, Index: uint64(i), Size: t.Size(),
		LeafHash: Hex(t.levels[0][i]), Path: make([]string, len(path)), Root: Hex(t.Root())}
	for j, h := range path {
		p.Path[j] = Hex(h)
	}
	return p, nil
}

// ProofsFor returns every receipt's proof in one batch, building the tree
// once (for checks over a whole batch).
func ProofsFor(st fold.Records, batch string) ([]*Proof, error) {
	var bt Batch
	if ok, err := st.Record(KindBatch, batch, &bt); err != nil {
		return nil, err
	} else if !ok {
		return nil, oplog.Reject(oplog.KindNotFound, "no batch %s", batch)
	}
	rs := make([]receipts.Receipt, len(bt.Receipts))
	var err error
	for i, rid := range bt.Receipts {
		if rs[i], err = Lookup(st, rid); err != nil {
			return nil, err
		}
	}
	t, err := NewTree(Leaves(rs))
	if err != nil {
		return nil, err
	}
	out := make([]*Proof, len(rs))
	for i := range rs {
		path, _ := t.Inclusion(uint64(i))
		p := &Proof{Receipt: rs[i].ID, Canon: string(rs[i].Canonical()), Batch: bt.ID, Index: uint64(i), Size: t.Size(),
			LeafHash: Hex(t.levels[0][i]), Root: Hex(t.Root())}
		for _, h := range path {
			p.Path = append(p.Path, Hex(h))
		}
		out[i] = p
	}
	return out, nil
}
