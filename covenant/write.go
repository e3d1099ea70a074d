package covenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/redact"
	"github.com/git-covenant/git-covenant/safetext"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Draft is an op a command wants written; Write fills in the envelope.
type Draft struct {
	Type      string
	Task      string // "" for none; see NewTask
	NewTask   bool   // derive Task from the op's actor and seq (task.create)
	Epoch     uint64
	Body      any
	Summary   string
	Artifacts map[string][]byte
}

// planner decides, against caught-up state, which ops to write.
type planner func(tx *index.Tx, me *trust.Actor) ([]Draft, error)

// Written is what a write folded: the ops as entries, the acting actor as
// the fold sees it after them, and the tasks they touched, in the order
// first touched, as folded.
type Written struct {
	Entries []*oplog.Entry
	Actor   *trust.Actor
	Tasks   []*tasks.Task
	// Redacted names each secret the write replaced (never the secret).
	Redacted []redact.Finding
}

// Task returns the folded state of a task the write touched, nil if none.
func (w *Written) Task(id string) *tasks.Task {
	for _, t := range w.Tasks {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// Append writes drafts to the acting identity's feed as they are (one ref
// update), each checked by the fold first; it is the write path without a
// plan, for tools that generate ops (benchmarks, imports).
func (s *Service) Append(ctx context.Context, drafts []Draft) (*Written, error) {
	return s.write(ctx, func(*index.Tx, *trust.Actor) ([]Draft, error) { return drafts, nil }, nil)
}

// write appends ops to the acting identity's feed. Under the writer lock it
// catches the index up, asks plan for the ops, checks each with the fold
// (refusing what the fold would ignore), signs and stores the commits,
// moves the feed ref with compare-and-swap, and commits the index. A new
// feed starts with the actor's genesis op in the same ref update.
//
// publish, when not nil, runs after the ops are signed and checked by the
// fold and before the feed ref moves, and an error from it leaves nothing
// written (a strong claim pushes its lease marker there).
//
// A damaged index (index.ErrDamaged) is rebuilt from the feeds and the
// write planned again, once, unless the feed ref moved before the damage
// showed (then the op is written and only the cache missed it).
func (s *Service) write(ctx context.Context, plan planner, publish func(old, new gitstore.Hash) error) (*Written, error) {
	out, moved, err := s.writeOnce(ctx, plan, publish)
	if !errors.Is(err, index.ErrDamaged) {
		return out, err
	}
	s.logf("note: the index was damaged (%v); rebuilding it from the feeds", err)
	if _, rerr := s.Rebuild(ctx); rerr != nil {
		return nil, fmt.Errorf("%w; rebuilding it failed: %v", err, rerr)
	}
	if moved {
		return nil, fmt.Errorf("%w after the op was written; the index was rebuilt", err)
	}
	out, _, err = s.writeOnce(ctx, plan, publish)
	return out, err
}

// writeOnce is one attempt of write; moved reports whether the feed ref
// moved (the ops were published) even though an error is returned.
func (s *Service) writeOnce(ctx context.Context, plan planner, publish func(old, new gitstore.Hash) error) (out *Written, moved bool, err error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return nil, false, err
	}
	id, err := s.Actor("")
	if err != nil {
		return nil, false, err
	}
	c := s.c
	if err := c.acquire(ctx); err != nil {
		return nil, false, err
	}
	defer c.release()
	heads, err := index.FoldHeads(c.store)
	if err != nil {
		return nil, false, err
	}
	src := c.source(ctx, cfg)
	src.Heads = heads
	keyID := id.KeyID
	out = &Written{}
	var newHead gitstore.Hash
	// While the session is kept between calls, the index commit is
	// deferred: one bbolt commit covers a burst of writes (see
	// index.UpdateDeferred); the next read, or the end of the session,
	// commits it.
	update := func(fn func(*index.Tx) error) error {
		if c.idle > 0 {
			_, err := c.ix.UpdateDeferred(src, fn)
			return err
		}
		_, err := c.ix.Update(src, false, fn)
		return err
	}
	err = update(func(tx *index.Tx) error {
		me, err := tx.Actor(keyID)
		if err != nil {
			return err
		}
		if !me.Trusted() {
			if me.Retired != "" {
				return fmt.Errorf("%w: identity %s's key %s was %s", ErrUntrusted, id.Name, keyID, me.Retired)
			}
			return fmt.Errorf("%w: identity %s (key %s) is neither a trust root nor registered", ErrUntrusted, id.Name, keyID)
		}
		drafts, err := plan(tx, me)
		if err != nil {
			return err
		}
		pos := tx.Meta.Feeds[keyID]
		if pos.Broken != nil {
			return fmt.Errorf("%w: your feed is broken at %s (%s); run 'git covenant verify'", ErrFeedBroken, pos.Broken.Commit, pos.Broken.Reason)
		}
		if len(drafts) == 0 && pos.Seq > 0 {
			out.Actor = me
			return nil // nothing to write: the feed exists already
		}
		if pos.Seq == 0 {
			drafts = append([]Draft{{Type: trust.OpGenesis, Summary: id.Name,
				Body: trust.IdentityBody{Name: id.Name, Role: string(id.Role), Key: id.Key}}}, drafts...)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		lamport, now, seen, err := causalBase(tx, keyID, s.now())
		if err != nil {
			return err
		}
		if lamport+uint64(len(drafts)) >= ledger.MaxLamport {
			return fmt.Errorf("%w: the next Lamport clock would pass %d", ErrClockOverflow, ledger.MaxLamport)
		}
		ops := make([]*oplog.Op, len(drafts))
		recs := make([]gitstore.Record, len(drafts))
		for i, d := range drafts {
			lamport++
			op := &oplog.Op{V: oplog.Version, Type: d.Type, Actor: keyID, Seq: pos.Seq + uint64(i) + 1,
				Lamport: lamport, Time: oplog.FormatTime(now), Task: d.Task, Epoch: d.Epoch}
			if i == 0 && len(seen) > 0 {
				op.Seen = seen
			}
			if d.NewTask {
				op.Task = tasks.NewID(keyID, op.Seq)
			}
			// Text others will read on a terminal: valid UTF-8 and no
			// control characters (docs/format.md, Text), checked before
			// encoding, which would replace invalid UTF-8 silently.
			if err := safetext.CheckValue(d.Body); err != nil {
				return fmt.Errorf("%w: %s %w", ErrBadInput, d.Type, err)
			}
			// No secret is signed: every draft passes the rule set
			// (redact; [secrets] on_hit), whichever door it came in by.
			d, redacted, err := scrub(cfg, d)
			if err != nil {
				return err
			}
			out.Redacted = append(out.Redacted, redacted...)
			if err := safetext.Check(d.Summary); err != nil {
				return fmt.Errorf("%w: %s summary: %w", ErrBadInput, d.Type, err)
			}
			if d.Body != nil {
				if op.Body, err = json.Marshal(d.Body); err != nil {
					return err
				}
			}
			// The op type's own Check, as the fold will run it; what it
			// normalized is what gets signed.
			body, err := src.Fold.Check(op)
			if err != nil {
				return err
			}
			if body != nil {
				if op.Body, err = json.Marshal(body); err != nil {
					return err
				}
			}
			raw, err := op.Encode()
			if err != nil {
				return err
			}
			ops[i] = op
			recs[i] = gitstore.Record{Op: raw, Artifacts: d.Artifacts, Message: oplog.Message(op, d.Summary) + redactedTrailers(redacted),
				Author: ledger.Author(id.Name, keyID, op.When())}
		}
		old := gitstore.ZeroHash
		if pos.Head != "" {
			if old, err = gitstore.ParseHash(pos.Head); err != nil {
				return err
			}
		}
		hashes, err := c.store.BuildFeedCommits(old, recs, id.signer)
		if err != nil {
			return err
		}
		// UpdateRef releases the pack's .keep; a write that stops before
		// it lets git's maintenance collect the objects.
		defer c.store.Release(hashes[len(hashes)-1])
		touched := map[string]bool{}
		entries := make([]*oplog.Entry, len(ops))
		for i, op := range ops {
			entries[i] = &oplog.Entry{Op: op, Commit: hashes[i].String(), Feed: keyID}
		}
		// The same causal checks every reader makes (seen-vector, clock
		// bound, time): a writer never signs what they would refuse.
		if _, fs, err := tx.Causal(entries); err != nil {
			return err
		} else if len(fs) > 0 {
			return fmt.Errorf("%w: %s", ErrClockOverflow, fs[0].Reason)
		}
		// Time witnesses bound these ops as every reader's will.
		if moved, err := tx.Bound(entries); err != nil {
			return err
		} else if moved {
			tx.Meta.Version = 0 // fold again from scratch next time
		}
		for _, e := range entries {
			rej, err := tx.Apply(e)
			if err != nil {
				return err
			}
			if rej != nil {
				return rej
			}
			out.Entries = append(out.Entries, e)
			if op := e.Op; op.Task != "" && !touched[op.Task] {
				touched[op.Task] = true
				if _, err := tx.Task(op.Task); err != nil {
					return err
				}
			}
		}
		// The touched tasks as folded, in first-touched order (read after
		// every op so a batch returns each task's final state).
		for i := range out.Entries {
			tid := out.Entries[i].Op.Task
			if tid == "" || !touched[tid] {
				continue
			}
			touched[tid] = false
			t, err := tx.Task(tid)
			if err != nil {
				return err
			}
			if t != nil {
				out.Tasks = append(out.Tasks, t)
			}
		}
		newHead = hashes[len(hashes)-1]
		if publish != nil {
			if err := publish(old, newHead); err != nil {
				return err
			}
		}
		if err := c.store.UpdateRef(gitstore.FeedRef(keyID), old, newHead); err != nil {
			return err
		}
		moved = true
		pos = tx.Meta.Feeds[keyID]
		pos.Head, pos.Tip, pos.Seq, pos.Lamport = newHead.String(), newHead.String(), ops[len(ops)-1].Seq, lamport
		if pos.Key == "" {
			pos.Key = id.Key
		}
		tx.Meta.Feeds[keyID] = pos
		out.Actor, err = tx.Actor(keyID)
		if out.Entries[0].Op.Type == trust.OpGenesis {
			out.Entries = out.Entries[1:]
		}
		return err
	})
	if err != nil {
		// The feed ref may have moved (an error after UpdateRef) while the
		// index did not commit: look again next time.
		c.folded = nil
		if cannotWrite(err) && !errors.Is(err, ErrNotWritable) {
			err = fmt.Errorf("%w: %w", ErrNotWritable, err)
		}
		return nil, moved, err
	}
	if !newHead.IsZero() {
		heads[keyID] = newHead
	}
	s.reportRedactions(out.Redacted)
	c.folded, c.digest = heads, src.Config
	return out, moved, nil
}

var (
	// ErrUntrusted means the acting identity may not write to this repository.
	ErrUntrusted = errors.New("identity not trusted")
	// ErrFeedBroken means the acting identity's own feed failed verification.
	ErrFeedBroken = errors.New("feed broken")
	// ErrClockOverflow means an op could not be given a Lamport clock or
	// time within the causal rules of docs/format.md.
	ErrClockOverflow = errors.New("clock out of range")
)

// Rebuild folds the index again from scratch.
func (s *Service) Rebuild(ctx context.Context) (*RebuildResult, error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return nil, err
	}
	c := s.c
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	defer c.release()
	p, err := c.indexPath()
	if err != nil {
		return nil, err
	}
	c.drop() // keeps wmu; the flock is taken again below
	os.Remove(p)
	if err := c.acquireLocked(ctx); err != nil {
		return nil, err
	}
	rep, err := c.ix.Update(c.source(ctx, cfg), true, nil)
	if err != nil {
		c.folded = nil
		return nil, err
	}
	m, err := c.ix.Meta()
	if err != nil {
		return nil, err
	}
	return &RebuildResult{Ops: m.Ops, Tasks: m.Tasks, Feeds: len(m.Feeds), Rejected: m.Rejected, Findings: len(rep.Findings)}, nil
}

// RebuildResult counts what a rebuild folded.
type RebuildResult struct {
	Ops      int `json:"ops"`
	Tasks    int `json:"tasks"`
	Feeds    int `json:"feeds"`
	Rejected int `json:"rejected"`
	Findings int `json:"findings"`
}

// causalBase returns what a new op of feed me starts from: the highest
// Lamport clock among the ops it has seen (every feed's verified head and
// its own), the time to write (the wall clock, raised to the latest time
// among those ops so that time never runs backwards), and the entries of
// its seen-vector that changed since its previous op.
func causalBase(tx *index.Tx, me string, now time.Time) (uint64, time.Time, map[string]uint64, error) {
	prev, err := tx.SeenVector(me)
	if err != nil {
		return 0, now, nil, err
	}
	lamport := tx.Meta.MaxLamport
	latest := now.UTC().Truncate(time.Second)
	seen := map[string]uint64{}
	for k, pos := range tx.Meta.Feeds {
		if pos.Seq == 0 {
			continue
		}
		lamport = max(lamport, pos.Lamport)
		if at, ok := tx.At(k, pos.Seq); ok && at.Time > latest.Unix() {
			latest = time.Unix(at.Time, 0).UTC()
		}
		if k != me && pos.Seq > prev[k] {
			seen[k] = pos.Seq
		}
	}
	return lamport, latest, seen, nil
}
