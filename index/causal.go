package index

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
)

// bAt maps "<key-id>/<seq, 16 hex>" to the Lamport clock and time of every
// op that passed the causal checks, so that a later op's seen-vector can be
// checked against the ops it names without reading them again. bSeen holds
// each feed's whole seen-vector (the union of its ops' deltas), which the
// writer needs to record only what changed.
var (
	bAt   = []byte("at")
	bSeen = []byte("seen")
)

func atKey(feed string, seq uint64) []byte { return []byte(fmt.Sprintf("%s/%016x", feed, seq)) }

func atValue(op *oplog.Op) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, op.Lamport)
	binary.BigEndian.PutUint64(v[8:], uint64(op.When().Unix()))
	return v
}

// Causal runs the causal checks of ledger.Order over newly collected
// entries (in fold order) and returns those that pass. A feed an op breaks
// is cut back to its last op that passed, as a feed-level break in Read is.
func (tx *Tx) Causal(entries []*oplog.Entry) ([]*oplog.Entry, []ledger.Finding, error) {
	if len(entries) == 0 {
		return entries, nil, nil
	}
	clocks := map[string]*ledger.Clock{}
	for _, e := range entries {
		if clocks[e.Feed] != nil {
			continue
		}
		c := &ledger.Clock{}
		if p := tx.Meta.Feeds[e.Feed].Clock; p != nil {
			*c = *p
		}
		vec, err := tx.SeenVector(e.Feed)
		if err != nil {
			return nil, nil, err
		}
		c.Vector = vec
		clocks[e.Feed] = c
	}
	var last uint64
	if k, err := oplog.ParseOrderKey(tx.Meta.Last); err == nil {
		last = k.Lamport
	}
	out, findings, broken := ledger.Order(entries, clocks, tx.At, last)
	for feed, c := range clocks {
		pos := tx.Meta.Feeds[feed]
		vec := c.Vector
		c.Vector = nil
		pos.Clock = c
		if broken[feed] {
			for i := range findings {
				if findings[i].Feed == feed && findings[i].Kind != ledger.KindIgnored {
					f := findings[i]
					pos.Broken = &f
					break
				}
			}
			pos.Head, pos.Seq, pos.Lamport = c.Head, c.Seq, c.Lamport
		}
		tx.Meta.Feeds[feed] = pos
		tx.seen[feed] = vec
	}
	return out, findings, nil
}

// At returns the clock and time of an op that passed the causal checks.
func (tx *Tx) At(feed string, seq uint64) (ledger.At, bool) {
	v, ok := tx.atMem[string(atKey(feed, seq))] // applied in this transaction, not flushed yet
	if !ok && !tx.fresh {
		v = tx.btx.Bucket(bAt).Get(atKey(feed, seq))
	}
	if len(v) != 16 {
		return ledger.At{}, false
	}
	return ledger.At{Lamport: binary.BigEndian.Uint64(v), Time: int64(binary.BigEndian.Uint64(v[8:]))}, true
}

// SeenVector returns a feed's whole seen-vector as folded so far.
func (tx *Tx) SeenVector(feed string) (map[string]uint64, error) {
	if v, ok := tx.seen[feed]; ok {
		out := make(map[string]uint64, len(v))
		for k, s := range v {
			out[k] = s
		}
		return out, nil
	}
	vec := map[string]uint64{}
	if tx.fresh {
		return vec, nil
	}
	if raw := tx.btx.Bucket(bSeen).Get([]byte(feed)); raw != nil {
		if err := json.Unmarshal(raw, &vec); err != nil {
			return nil, err
		}
	}
	return vec, nil
}

// flushCausal writes the clocks of applied ops and the changed vectors.
func (tx *Tx) flushCausal() error {
	if err := putSorted(tx.btx.Bucket(bAt), tx.atKV); err != nil {
		return err
	}
	tx.atKV, tx.atMem = nil, map[string][]byte{}
	var seenKV []kv
	for feed, vec := range tx.seen {
		raw, err := json.Marshal(vec)
		if err != nil {
			return err
		}
		seenKV = append(seenKV, kv{[]byte(feed), raw})
	}
	tx.seen = map[string]map[string]uint64{}
	return putSorted(tx.btx.Bucket(bSeen), seenKV)
}
