package index

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
	bolt "go.etcd.io/bbolt"
)

// Source is what the index folds: the repository's feeds and the trust
// roots of the config, identified by its digest.
type Source struct {
	Store    *gitstore.Store
	Roots    []trust.Root
	Workflow *tasks.Workflow // for the ready queue
	Fold     *fold.Registry  // the op types the fold knows
	Config   string          // digest of everything the fold reads from the config, and of Fold's types
	// Heads, when not nil, replaces the feed refs as what to fold: a sync
	// folds verified incoming heads before it moves any ref.
	Heads map[string]gitstore.Hash
	// Context, when set, cancels long catch-ups and rebuilds: nothing is
	// written then.
	Context context.Context
	// Witness, when set, tells the time witnesses (ADR 0010) among the ops
	// and returns their head lines ("<key-id> <commit>").
	Witness func(*oplog.Entry) ([]string, bool)
}

// cancelled reports the source's context error, if any.
func (src Source) cancelled() error {
	if src.Context == nil {
		return nil
	}
	return src.Context.Err()
}

// CatchUp reports what bringing the index up to date did.
type CatchUp struct {
	Rebuilt  bool
	Applied  int
	Findings []ledger.Finding
}

// Heads lists the feed heads as strings.
func Heads(st *gitstore.Store) (map[string]string, error) {
	hs, err := FoldHeads(st)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(hs))
	for k, h := range hs {
		out[k] = h.String()
	}
	return out, nil
}

// Update brings the index up to date with src in one write transaction,
// then runs fn (if not nil) in the same transaction. If fn fails, nothing
// is written at all. A transaction left open by UpdateDeferred is
// committed first.
func (ix *Index) Update(src Source, force bool, fn func(*Tx) error) (*CatchUp, error) {
	if err := ix.Flush(); err != nil {
		return nil, err
	}
	var report *CatchUp
	err := ix.guard(func() error {
		return ix.db.Update(func(btx *bolt.Tx) (err error) {
			report, err = update(btx, src, force, fn)
			return err
		})
	}, false)
	return report, err
}

// MaxDeferred is how many UpdateDeferred calls one commit covers at most.
const MaxDeferred = 32

// UpdateDeferred is Update that leaves its write transaction open when it
// succeeds, so that the next UpdateDeferred continues it and one commit
// (bbolt's page writes) covers up to MaxDeferred of them. The transaction
// is committed by Flush, Update, Close, or the first read that comes
// after it; until then other processes see the index as it was, behind the
// feeds, and catch up from them as from any index that is behind. When
// fn or the catch-up fails, the whole open transaction is rolled back,
// earlier deferred updates included: the index is derived data, and the
// feed heads it was folded from say what it misses.
func (ix *Index) UpdateDeferred(src Source, fn func(*Tx) error) (*CatchUp, error) {
	ix.pmu.Lock()
	defer ix.pmu.Unlock()
	var report *CatchUp
	err := ix.guard(func() (err error) {
		if ix.pending == nil {
			if ix.pending, err = ix.db.Begin(true); err != nil {
				ix.pending = nil
				return err
			}
			ix.hasPending.Store(true)
		}
		report, err = update(ix.pending, src, false, fn)
		return err
	}, false)
	if err != nil {
		ix.rollbackLocked()
		return nil, err
	}
	if ix.pendingN++; ix.pendingN >= MaxDeferred {
		if err := ix.flushLocked(); err != nil {
			return nil, err
		}
	}
	return report, nil
}

// Flush commits the transaction UpdateDeferred left open, if any. On
// failure nothing of it is written (the index stays as it was).
func (ix *Index) Flush() error {
	if !ix.hasPending.Load() {
		return nil
	}
	ix.pmu.Lock()
	defer ix.pmu.Unlock()
	return ix.flushLocked()
}

func (ix *Index) flushLocked() error {
	if ix.pending == nil {
		return nil
	}
	tx := ix.pending
	ix.pending, ix.pendingN = nil, 0
	err := ix.guard(tx.Commit, false)
	if err != nil {
		ix.guard(tx.Rollback, false) // after a panic in Commit; else a no-op
	}
	// Only now: a Flush that finds hasPending false goes on to read, and
	// must not read before this commit has landed (a read transaction
	// begun during the commit sees the index without it).
	ix.hasPending.Store(false)
	return err
}

func (ix *Index) rollbackLocked() {
	if ix.pending == nil {
		return
	}
	tx := ix.pending
	ix.pending, ix.pendingN = nil, 0
	ix.guard(tx.Rollback, false)
	ix.hasPending.Store(false)
}

// update is the body of Update: catch up with src (from scratch when
// force), then fn, in btx.
func update(btx *bolt.Tx, src Source, force bool, fn func(*Tx) error) (*CatchUp, error) {
	m := &Meta{Feeds: map[string]ledger.Pos{}}
	if v := btx.Bucket(bMeta).Get(bMeta); v != nil {
		if err := json.Unmarshal(v, m); err != nil {
			return nil, damaged("meta: %v", err)
		}
	}
	heads, err := src.heads()
	if err != nil {
		return nil, err
	}
	tx := newTx(btx, m)
	tx.Workflow, tx.fold, tx.witness, tx.store = src.Workflow, src.Fold, src.Witness, src.Store
	var entries []*oplog.Entry
	rebuild := force || m.Version != FormatVersion || m.Config != src.Config
	report := &CatchUp{}
	if !rebuild {
		entries, report.Findings, rebuild, err = collect(src, heads, m.Feeds)
		if err != nil {
			return nil, err
		}
		if len(entries) > 0 && m.Last != "" && entries[0].Op.Key().String() <= m.Last {
			rebuild = true // an op arrived that sorts before ops already folded
		}
	}
	var cuts []trust.CutFor
	for pass := 0; ; pass++ {
		if rebuild {
			report.Rebuilt = true
			if tx, err = reset(btx, src, cuts); err != nil {
				return nil, err
			}
			entries, report.Findings, _, err = collect(src, heads, tx.Meta.Feeds)
			if err != nil {
				return nil, err
			}
		}
		var causal []ledger.Finding
		entries, causal, err = tx.Causal(entries)
		if err != nil {
			return nil, err
		}
		report.Findings = append(report.Findings, causal...)
		moved, err := tx.Bound(entries)
		if err != nil {
			return nil, err
		}
		if moved && !rebuild {
			// A checkpoint bounds ops folded before it: fold
			// again from scratch, with it known from the start.
			rebuild = true
			continue
		}
		for i, e := range entries {
			if i%1024 == 0 {
				if err := src.cancelled(); err != nil {
					return nil, err
				}
			}
			if _, err := tx.Apply(e); err != nil {
				return nil, err
			}
		}
		report.Applied = len(entries)
		// A cut-off named by an op folded now, of a key whose later
		// ops were folded before it (a Lamport clock set low): fold
		// again from scratch with the cut-offs known from the start.
		more := AddCuts(cuts, tx.overrun)
		if len(more) == len(cuts) || pass == MaxCutPasses {
			break
		}
		cuts, rebuild = more, true
	}
	for _, f := range report.Findings {
		if err := tx.AddFinding("feed/"+f.Feed+"/"+f.Kind+"/"+f.Commit, f); err != nil {
			return nil, err
		}
	}
	if err := tx.flush(); err != nil {
		return nil, err
	}
	if fn != nil {
		tx.fresh = false
		if err := fn(tx); err != nil {
			return nil, err
		}
		return report, tx.flush()
	}
	return report, nil
}

// MaxCutPasses bounds how often one update folds again for cut-offs.
const MaxCutPasses = 4

// AddCuts returns cuts with the new ones that are not in it yet.
func AddCuts(cuts, add []trust.CutFor) []trust.CutFor {
	out := append([]trust.CutFor(nil), cuts...)
	for _, c := range add {
		dup := false
		for _, o := range out {
			dup = dup || (o.Key == c.Key && o.Grant == c.Grant && o.Seq <= c.Seq)
		}
		if !dup {
			out = append(out, c)
		}
	}
	return out
}

// reset empties the index and seeds it with the config's roots and the
// cut-offs already known.
func reset(btx *bolt.Tx, src Source, cuts []trust.CutFor) (*Tx, error) {
	for _, b := range allBuckets {
		if err := btx.DeleteBucket(b); err != nil {
			return nil, err
		}
		nb, err := btx.CreateBucket(b)
		if err != nil {
			return nil, err
		}
		nb.FillPercent = appendFill // written in key order, see flush
	}
	m := &Meta{Version: FormatVersion, Config: src.Config, Feeds: map[string]ledger.Pos{}}
	tx := newTx(btx, m)
	tx.Workflow, tx.fold, tx.witness, tx.store = src.Workflow, src.Fold, src.Witness, src.Store
	tx.fresh = true
	if err := trust.SeedRoots(tx, src.Roots); err != nil {
		return nil, err
	}
	if err := trust.SeedCuts(tx, cuts); err != nil {
		return nil, err
	}
	return tx, nil
}

// collect reads every feed that moved since feeds and returns the new
// entries in fold order. It updates feeds in place. needRebuild is set when
// a feed was rewritten or removed, which an incremental fold cannot handle.
func collect(src Source, heads map[string]gitstore.Hash, feeds map[string]ledger.Pos) (entries []*oplog.Entry, findings []ledger.Finding, needRebuild bool, err error) {
	st := src.Store
	for k := range feeds {
		if _, ok := heads[k]; !ok {
			needRebuild = true
			delete(feeds, k)
		}
	}
	for k, head := range heads {
		pos := feeds[k]
		if pos.Tip == head.String() {
			if !missingHealed(st, k, head, pos) {
				continue
			}
			// The object it missed is there now (a look that fell
			// between the steps of a repack, or an object fetched
			// again): fold from scratch, which also drops the old
			// finding.
			needRebuild = true
			pos = ledger.Pos{}
		}
		if err := src.cancelled(); err != nil {
			return nil, nil, false, err
		}
		if pos.Broken != nil && pos.Tip != "" {
			needRebuild = true
			pos = ledger.Pos{}
		}
		es, np, fs, err := ledger.Read(st, k, head, pos)
		if err != nil {
			return nil, nil, false, fmt.Errorf("read feed %s: %w", k, err)
		}
		for _, f := range fs {
			if f.Kind == ledger.KindRewritten {
				needRebuild = true
				es, np, fs, err = ledger.Read(st, k, head, ledger.Pos{})
				if err != nil {
					return nil, nil, false, fmt.Errorf("read feed %s: %w", k, err)
				}
				break
			}
		}
		feeds[k] = np
		entries = append(entries, es...)
		findings = append(findings, fs...)
	}
	oplog.Sort(entries, func(e *oplog.Entry) oplog.OrderKey { return e.Op.Key() })
	return entries, findings, needRebuild, nil
}

// missingHealed reports whether a feed recorded as broken by a missing or
// unreadable object now reads without a finding from where it was cut.
// Such a record is not a fact about the feed's bytes, which its signatures
// bind, but about this repository's object store at one moment; without
// this, one miss beside `git gc` left the writer's own feed "broken" for
// good, since nothing else makes its tip move. A feed still missing the
// object is read again on each catch-up, from its last verified commit.
func missingHealed(st *gitstore.Store, feed string, head gitstore.Hash, pos ledger.Pos) bool {
	if pos.Broken == nil || pos.Broken.Kind != ledger.KindMissing {
		return false
	}
	pos.Broken = nil
	_, _, fs, err := ledger.Read(st, feed, head, pos)
	return err == nil && len(fs) == 0
}
