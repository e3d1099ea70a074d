package index

import (
	"encoding/json"

	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
)

// bWitness holds the time witnesses folded so far (ledger.Witness as JSON,
// by checkpoint commit), so that ops arriving later get their bounds from
// checkpoints folded before them.
var bWitness = []byte("witness")

// Bound loads the stored time witnesses, adds those among entries
// (ops that passed the causal checks, about to be folded) and sets every
// entry's bounds. moved reports a new witness that changes the bounds of
// an op folded before this update: the fold must then run again from
// scratch (checked only when the index was not just emptied).
//
// Writers call it between Causal and Apply for the ops they sign; a moved
// there (a root's checkpoint that does not cover an op it folded, which
// its own writer never makes) makes the next update rebuild.
func (tx *Tx) Bound(entries []*oplog.Entry) (moved bool, err error) {
	if tx.witness == nil {
		return false, nil
	}
	b := tx.btx.Bucket(bWitness)
	var ws []ledger.Witness
	if !tx.fresh {
		if err := b.ForEach(func(k, v []byte) error {
			var w ledger.Witness
			if err := json.Unmarshal(v, &w); err != nil {
				return damaged("witness %s: %v", k, err)
			}
			ws = append(ws, w)
			return nil
		}); err != nil {
			return false, err
		}
	}
	var known map[string]uint64
	for _, e := range entries {
		heads, ok := tx.witness(e)
		if !ok {
			continue
		}
		if known == nil {
			known = make(map[string]uint64, len(entries))
			for _, o := range entries {
				known[o.Commit] = o.Op.Seq
			}
		}
		w := ledger.ResolveWitness(tx.store, e, heads, known)
		if !tx.fresh && tx.movesFolded(&w) {
			moved = true
		}
		raw, err := json.Marshal(w)
		if err != nil {
			return false, err
		}
		if err := b.Put([]byte(w.Commit), raw); err != nil {
			return false, err
		}
		ws = append(ws, w)
	}
	if len(ws) > 0 {
		ledger.Bounds(entries, ws)
	}
	return moved, nil
}

// movesFolded reports whether w raises the bound of an op already in the
// index. Times rise within a feed, so per feed only the first op w does not
// cover can tell.
func (tx *Tx) movesFolded(w *ledger.Witness) bool {
	for feed, top := range tx.Meta.Folded {
		if cov := w.Covers[feed]; cov < top {
			if at, ok := tx.At(feed, cov+1); ok && w.Moves(feed, cov+1, at.Time) {
				return true
			}
		}
	}
	return false
}
