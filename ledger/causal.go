package ledger

import (
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/oplog"
)

// Finding kinds for ops that break the causal rules of format version 2.
const (
	// KindLamportBound: a Lamport clock that does not exceed an op it has
	// seen, rises more than oplog.MaxLamportStep above everything it has
	// seen, or reaches MaxLamport.
	KindLamportBound = "lamport-bound"
	// KindTimeRegression: an op dated before its feed's previous op or
	// before an op it has seen.
	KindTimeRegression = "time-regression"
)

// MaxLamport is the ceiling no Lamport clock may reach, in any version:
// far beyond what honest writers reach, and far enough below 2^64 that
// no clock derived from an accepted one can wrap.
const MaxLamport = uint64(1) << 62

// At is what the causal rules need of an op another op names in its
// seen-vector.
type At struct {
	Lamport uint64
	Time    int64 // unix seconds
}

// Lookup finds an op (already verified in an earlier pass) by feed and seq.
type Lookup func(feed string, seq uint64) (At, bool)

// Clock is the causal state of a feed after its last op that passed.
type Clock struct {
	Seq         uint64            `json:"seq,omitempty"`
	Head        string            `json:"head,omitempty"`
	Lamport     uint64            `json:"lamport,omitempty"`
	Time        int64             `json:"time,omitempty"`         // of the last version 2 op
	SeenLamport uint64            `json:"seen_lamport,omitempty"` // highest clock the feed has seen elsewhere
	SeenTime    int64             `json:"seen_time,omitempty"`    // latest time it has seen elsewhere
	Vector      map[string]uint64 `json:"-"`                      // the whole seen-vector, when tracked
}

// Order checks entries (in fold order, each feed's ops in seq order and
// each already verified by Read) against the causal rules, across feeds:
//
//   - every op: Lamport below MaxLamport;
//   - version 2: Lamport above every op its seen-vector names that this
//     repository has, and at most MaxLamportStep above the highest of
//     those and of its feed's previous op; time no earlier than its feed's
//     previous version 2 op and than every op it has seen;
//   - version 1 (no seen-vector): Lamport at most MaxLamportStep above the
//     op before it in fold order (last is the clock of the last op folded
//     before these entries).
//
// The first op of a feed that breaks a rule stops the feed there, as Read
// does: the result holds the entries that pass, clocks is updated for
// them, and the findings name the op and every later one of its feed.
// Entries a seen-vector names that this repository lacks cannot be
// checked; such an op is checked against what is known.
func Order(entries []*oplog.Entry, clocks map[string]*Clock, lookup Lookup, last uint64) ([]*oplog.Entry, []Finding, map[string]bool) {
	batch := map[string]map[uint64]At{}
	for _, e := range entries {
		m := batch[e.Feed]
		if m == nil {
			m = map[uint64]At{}
			batch[e.Feed] = m
		}
		m[e.Op.Seq] = At{Lamport: e.Op.Lamport, Time: e.Op.When().Unix()}
	}
	broken := map[string]bool{}
	brokeAt := map[string]uint64{}
	find := func(feed string, seq uint64) (At, bool) {
		if b, ok := brokeAt[feed]; ok && seq >= b {
			return At{}, false
		}
		if at, ok := batch[feed][seq]; ok {
			return at, true
		}
		if lookup == nil {
			return At{}, false
		}
		return lookup(feed, seq)
	}
	var out []*oplog.Entry
	var findings []Finding
	ignored := map[string]int{}
	for _, e := range entries {
		if broken[e.Feed] {
			ignored[e.Feed]++
			continue
		}
		c := clocks[e.Feed]
		if c == nil {
			c = &Clock{}
			clocks[e.Feed] = c
		}
		op := e.Op
		bad := func(kind, format string, args ...any) {
			findings = append(findings, Finding{Kind: kind, Feed: e.Feed, Commit: e.Commit, Op: op.Type, Reason: fmt.Sprintf(format, args...)})
			broken[e.Feed], brokeAt[e.Feed] = true, op.Seq
		}
		when := op.When().Unix()
		next := *c
		switch {
		case op.Lamport >= MaxLamport:
			bad(KindLamportBound, "lamport %d reaches the ceiling %d", op.Lamport, MaxLamport)
		case op.Causal():
			why := ""
			for feed, seq := range op.Seen {
				at, ok := find(feed, seq)
				if !ok {
					continue
				}
				if at.Lamport >= op.Lamport && why == "" {
					why = fmt.Sprintf("lamport %d does not exceed %d of %s seq %d, which the op has seen", op.Lamport, at.Lamport, feed, seq)
				}
				if at.Time > when && why == "" {
					why = "time"
					bad(KindTimeRegression, "time %s is before %s of %s seq %d, which the op has seen", op.Time, fmtUnix(at.Time), feed, seq)
				}
				next.SeenLamport = max(next.SeenLamport, at.Lamport)
				next.SeenTime = max(next.SeenTime, at.Time)
			}
			switch {
			case why == "time":
			case why != "":
				bad(KindLamportBound, "%s", why)
			case op.Lamport > max(c.Lamport, next.SeenLamport)+oplog.MaxLamportStep:
				bad(KindLamportBound, "lamport %d is more than %d above the highest clock the op has seen (%d)", op.Lamport, oplog.MaxLamportStep, max(c.Lamport, next.SeenLamport))
			case when < c.Time:
				bad(KindTimeRegression, "time %s is before %s, the time of the feed's previous op", op.Time, fmtUnix(c.Time))
			}
			next.Time = when
		default:
			if op.Lamport > last+oplog.MaxLamportStep {
				bad(KindLamportBound, "lamport %d is more than %d above %d, the clock of the op before it in fold order", op.Lamport, oplog.MaxLamportStep, last)
			}
		}
		if broken[e.Feed] {
			continue
		}
		if c.Vector != nil {
			for feed, seq := range op.Seen {
				next.Vector[feed] = seq
			}
		}
		next.Seq, next.Head, next.Lamport = op.Seq, e.Commit, op.Lamport
		*c = next
		last = max(last, op.Lamport)
		out = append(out, e)
	}
	for feed, n := range ignored {
		findings = append(findings, Finding{Kind: KindIgnored, Feed: feed,
			Reason: fmt.Sprintf("%d later commit(s) ignored after the broken commit", n)})
	}
	return out, findings, broken
}

func fmtUnix(s int64) string { return time.Unix(s, 0).UTC().Format(oplog.TimeFormat) }
