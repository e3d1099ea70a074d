package ledger

import (
	"math"
	"strings"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/oplog"
)

// Witness is a time witness: a checkpoint signed by a trust root at Time
// (unix seconds) over the feed heads it had, which covers, of each feed,
// the ops up to Covers[feed]. An op it does not cover cannot claim, for any
// decision it gains from being early, a time before the witness. (A
// covered op needs no bound from it: the checkpoint has seen the op, so
// the causal rules already keep it no earlier than the op.)
type Witness struct {
	Commit string            `json:"commit"`
	Time   int64             `json:"time"`
	Covers map[string]uint64 `json:"covers"` // absent: none of the feed; math.MaxUint64: all of it
}

// covers reports whether w covers op seq of feed.
func (w *Witness) covers(feed string, seq uint64) bool { return w.Covers[feed] >= seq }

// ResolveWitness turns a checkpoint's "key-id head" lines into the seqs it
// covers: known maps a commit to its seq (the ops at hand), else the
// commit is read from st. A head this clone does not have (the witness
// was ahead) covers the whole feed.
func ResolveWitness(st *gitstore.Store, e *oplog.Entry, heads []string, known map[string]uint64) Witness {
	w := Witness{Commit: e.Commit, Time: e.Op.When().Unix(), Covers: map[string]uint64{}}
	for _, l := range heads {
		feed, head, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		if seq, ok := known[head]; ok {
			w.Covers[feed] = seq
			continue
		}
		w.Covers[feed] = math.MaxUint64
		if st == nil {
			continue
		}
		h, err := gitstore.ParseHash(head)
		if err != nil {
			continue
		}
		fc, err := st.ReadFeedCommit(h)
		if err != nil || fc.Problem != nil {
			continue
		}
		if op, err := oplog.Decode(fc.Op); err == nil && op.Actor == feed {
			w.Covers[feed] = op.Seq
		}
	}
	return w
}

// Bounds sets every entry's Floor from ws: the latest time of a witness
// that does not cover it (0 for none).
func Bounds(entries []*oplog.Entry, ws []Witness) {
	for _, e := range entries {
		e.Floor = 0
		for i := range ws {
			if w := &ws[i]; w.Commit != e.Commit && !w.covers(e.Feed, e.Op.Seq) && w.Time > e.Floor {
				e.Floor = w.Time
			}
		}
	}
}

// Moves reports whether a new witness raises the bound of an op already
// folded (feed, seq, time): it does not cover an op dated before it.
func (w *Witness) Moves(feed string, seq uint64, when int64) bool {
	return !w.covers(feed, seq) && when < w.Time
}
