package covenant

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/receipts"
	"github.com/git-covenant/git-covenant/settle"
	"github.com/git-covenant/git-covenant/trust"
)

// Receipt is one receipt with the batch that holds it, if any.
type Receipt struct {
	receipts.Receipt
	Batch string `json:"batch,omitempty"`
	Index *int   `json:"index,omitempty"` // leaf index in its batch
}

// Receipts returns every receipt, derived from the folded run records,
// oldest run first.
func (s *Service) Receipts(ctx context.Context) ([]Receipt, error) {
	rs, err := s.Runs(ctx, "")
	if err != nil {
		return nil, err
	}
	in := map[string]settle.Batched{}
	err = s.EachRecord(ctx, settle.KindBatched, func(key string, raw []byte) error {
		var b settle.Batched
		if err := json.Unmarshal(raw, &b); err != nil {
			return err
		}
		in[key] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []Receipt{}
	for _, r := range rs {
		for _, rc := range receipts.FromRun(r) {
			row := Receipt{Receipt: rc}
			if b, ok := in[rc.ID]; ok {
				i := b.Index
				row.Batch, row.Index = b.Batch, &i
			}
			out = append(out, row)
		}
	}
	return out, nil
}

// SettleBatch writes settle.batch ops over the receipts no batch holds
// yet, at most max (settle.MaxBatch if 0) per op, in one atomic write,
// and returns the batches; none when every receipt is batched.
func (s *Service) SettleBatch(ctx context.Context, max int) ([]*settle.Batch, error) {
	if max <= 0 || max > settle.MaxBatch {
		max = settle.MaxBatch
	}
	all, err := s.Receipts(ctx)
	if err != nil {
		return nil, err
	}
	var todo []receipts.Receipt
	for _, r := range all {
		if r.Batch == "" {
			todo = append(todo, r.Receipt)
		}
	}
	if len(todo) == 0 {
		return []*settle.Batch{}, nil
	}
	var ids []string
	_, err = s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		var fresh []receipts.Receipt
		for _, r := range todo {
			var b settle.Batched
			if ok, err := tx.Record(settle.KindBatched, r.ID, &b); err != nil {
				return nil, err
			} else if !ok {
				fresh = append(fresh, r)
			}
		}
		var drafts []Draft
		ids = ids[:0]
		for len(fresh) > 0 {
			n := min(max, len(fresh))
			b, err := settle.NewBatch(fresh[:n])
			if err != nil {
				return nil, err
			}
			fresh = fresh[n:]
			ids = append(ids, settle.BatchID(b.Root))
			drafts = append(drafts, Draft{Type: settle.OpBatch, Body: b,
				Summary: fmt.Sprintf("batch %d receipt(s) %s..%s under root %s", b.Count, b.First, b.Last, b.Root)})
		}
		return drafts, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	out := []*settle.Batch{}
	for _, id := range ids {
		b, err := s.Batch(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Batch returns a folded batch by id.
func (s *Service) Batch(ctx context.Context, id string) (*settle.Batch, error) {
	if err := settle.CheckBatchID(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	var b settle.Batch
	var ok bool
	err := s.read(ctx, func(ix *index.Index) (err error) {
		ok, err = records(ix).Record(settle.KindBatch, id, &b)
		return err
	})
	if err == nil && !ok {
		err = oplog.Reject(oplog.KindNotFound, "no batch %s", id)
	}
	return &b, err
}

// Batches returns every folded batch, by id.
func (s *Service) Batches(ctx context.Context) ([]*settle.Batch, error) {
	out := []*settle.Batch{}
	err := s.EachRecord(ctx, settle.KindBatch, func(_ string, raw []byte) error {
		var b settle.Batch
		if err := json.Unmarshal(raw, &b); err != nil {
			return err
		}
		out = append(out, &b)
		return nil
	})
	return out, err
}

// SettleProof builds the inclusion proof of a batched receipt.
func (s *Service) SettleProof(ctx context.Context, id string) (*settle.Proof, error) {
	if _, _, err := receipts.ParseID(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	var p *settle.Proof
	err := s.read(ctx, func(ix *index.Index) (err error) {
		p, err = settle.ProofFor(records(ix), id)
		return err
	})
	return p, err
}

// ProofCheck is what settle verify found.
type ProofCheck struct {
	Receipt string `json:"receipt"`
	Batch   string `json:"batch"`
	Root    string `json:"root"`
	Index   uint64 `json:"index"`
	Size    uint64 `json:"size"`
	// Anchored is the anchor's signature when the batch is anchored.
	Anchored string `json:"anchored,omitempty"`
}

// SettleVerify checks a receipt's inclusion proof offline: p (from a
// file) or, when p is nil, the proof built from this clone's state. The
// proof must verify on its own, name this receipt, and agree with the
// batch this clone folded (root and size) and with the receipt as this
// clone derives it from its signed run record. Failures wrap
// settle.ErrProof.
func (s *Service) SettleVerify(ctx context.Context, id string, p *settle.Proof) (*ProofCheck, error) {
	if _, _, err := receipts.ParseID(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if p == nil {
		var err error
		if p, err = s.SettleProof(ctx, id); err != nil {
			return nil, err
		}
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("verify receipt %s: %w: %s", id, settle.ErrProof, fmt.Sprintf(format, args...))
	}
	if p.Receipt != id {
		return nil, bad("the proof is of receipt %s", p.Receipt)
	}
	if err := p.Verify(); err != nil {
		return nil, fmt.Errorf("verify receipt %s: %w", id, err)
	}
	check := &ProofCheck{Receipt: id, Batch: p.Batch, Root: p.Root, Index: p.Index, Size: p.Size}
	err := s.read(ctx, func(ix *index.Index) error {
		st := records(ix)
		var b settle.Batch
		if ok, err := st.Record(settle.KindBatch, p.Batch, &b); err != nil {
			return err
		} else if !ok {
			return bad("this clone has no batch %s (git covenant sync first?)", p.Batch)
		}
		if b.Root != p.Root || uint64(b.Count) != p.Size {
			return bad("batch %s has root %s over %d receipts; the proof says %s over %d", b.ID, b.Root, b.Count, p.Root, p.Size)
		}
		if p.Index >= uint64(len(b.Receipts)) || b.Receipts[p.Index] != id {
			return bad("batch %s does not hold %s at leaf %d", b.ID, id, p.Index)
		}
		r, err := settle.Lookup(st, id)
		if err != nil {
			return err
		}
		if string(r.Canonical()) != p.Canon {
			return bad("the proof's receipt bytes differ from the signed run record's")
		}
		var a settle.Anchor
		if ok, err := st.Record(settle.KindAnchor, b.ID, &a); err != nil {
			return err
		} else if ok {
			check.Anchored = a.Signature
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return check, nil
}

// records is the index's read-only view of fold records.
func records(ix *index.Index) fold.Records { return ix.State().(fold.Records) }
