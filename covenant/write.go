package covenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
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

// Planner decides, against caught-up state, which ops to write.
type Planner func(tx *index.Tx, me *trust.Actor) ([]Draft, error)

// Written is the result of a write.
type Written struct {
	Entries []*oplog.Entry
	Actor   *trust.Actor
}

// Write appends ops to the acting identity's feed. Under the writer lock it
// catches the index up, asks plan for the ops, checks each with the fold
// (refusing what the fold would ignore), signs and stores the commits,
// moves the feed ref with compare-and-swap, and commits the index. A new
// feed starts with the actor's genesis op in the same ref update.
func (r *Repo) Write(plan Planner) (*Written, error) { return r.write(plan, nil) }

// write is Write with a publish step: when not nil it runs after the ops
// are signed and checked by the fold and before the feed ref moves, and an
// error from it leaves nothing written (a strong claim pushes its lease
// marker there).
func (r *Repo) write(plan Planner, publish func(old, new gitstore.Hash) error) (*Written, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, err
	}
	id, err := r.Identity()
	if err != nil {
		return nil, err
	}
	signer, err := r.Keys.Signer(id.Name)
	if err != nil {
		return nil, err
	}
	unlock, err := r.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ix, err := r.openIndex(false)
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	keyID := id.KeyID()
	out := &Written{}
	src := r.source()
	_, err = ix.Update(src, false, func(tx *index.Tx) error {
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
			return nil // nothing to write: the feed exists already
		}
		if pos.Seq == 0 {
			drafts = append([]Draft{{Type: trust.OpGenesis, Summary: id.Name,
				Body: trust.IdentityBody{Name: id.Name, Role: string(id.Role), Key: identity.FormatPublicKey(id.PublicKey)}}}, drafts...)
		}
		now := r.Now()
		lamport := max(tx.Meta.MaxLamport, pos.Lamport)
		ops := make([]*oplog.Op, len(drafts))
		recs := make([]gitstore.Record, len(drafts))
		for i, d := range drafts {
			lamport++
			op := &oplog.Op{V: oplog.Version, Type: d.Type, Actor: keyID, Seq: pos.Seq + uint64(i) + 1,
				Lamport: lamport, Time: oplog.FormatTime(now), Task: d.Task, Epoch: d.Epoch}
			if d.NewTask {
				op.Task = tasks.NewID(keyID, op.Seq)
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
			recs[i] = gitstore.Record{Op: raw, Artifacts: d.Artifacts, Message: oplog.Message(op, d.Summary),
				Author: ledger.Author(id.Name, keyID, op.When())}
		}
		old := gitstore.ZeroHash
		if pos.Head != "" {
			if old, err = gitstore.ParseHash(pos.Head); err != nil {
				return err
			}
		}
		hashes, err := r.Store.BuildFeedCommits(old, recs, signer)
		if err != nil {
			return err
		}
		for i, op := range ops {
			e := &oplog.Entry{Op: op, Commit: hashes[i].String(), Feed: keyID}
			rej, err := tx.Apply(e)
			if err != nil {
				return err
			}
			if rej != nil {
				return rej
			}
			out.Entries = append(out.Entries, e)
		}
		newHead := hashes[len(hashes)-1]
		if publish != nil {
			if err := publish(old, newHead); err != nil {
				return err
			}
		}
		if err := r.Store.UpdateRef(gitstore.FeedRef(keyID), old, newHead); err != nil {
			return err
		}
		pos.Head, pos.Tip, pos.Seq, pos.Lamport = newHead.String(), newHead.String(), ops[len(ops)-1].Seq, lamport
		if pos.Key == "" {
			pos.Key = identity.FormatPublicKey(id.PublicKey)
		}
		tx.Meta.Feeds[keyID] = pos
		out.Actor, err = tx.Actor(keyID)
		if out.Entries[0].Op.Type == trust.OpGenesis {
			out.Entries = out.Entries[1:]
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var (
	// ErrUntrusted means the acting identity may not write to this repository.
	ErrUntrusted = errors.New("identity not trusted")
	// ErrFeedBroken means the acting identity's own feed failed verification.
	ErrFeedBroken = errors.New("feed broken")
)

func (r *Repo) indexPath() (string, error) {
	d, err := r.dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "index.db"), nil
}

func (r *Repo) openIndex(readOnly bool) (*index.Index, error) {
	p, err := r.indexPath()
	if err != nil {
		return nil, err
	}
	ix, err := index.Open(p, readOnly)
	if err != nil && !readOnly {
		// A damaged index is only derived data: start it again.
		r.progressf("index damaged (%v); rebuilding", err)
		if rmErr := os.Remove(p); rmErr != nil {
			return nil, err
		}
		return index.Open(p, false)
	}
	return ix, err
}

// Read returns an index that is current with the feeds and config. The
// fast path opens it read-only; if feeds moved it catches up under the
// writer lock first. Call the returned function when done.
func (r *Repo) Read() (*index.Index, func(), error) {
	if err := r.RequireConfig(); err != nil {
		return nil, nil, err
	}
	heads, err := index.Heads(r.Store)
	if err != nil {
		return nil, nil, err
	}
	if p, err := r.indexPath(); err == nil {
		if _, statErr := os.Stat(p); statErr == nil {
			if ix, err := index.Open(p, true); err == nil {
				if m, err := ix.Meta(); err == nil && m.Fresh(heads, r.source().Config) {
					return ix, func() { ix.Close() }, nil
				}
				ix.Close()
			}
		}
	}
	unlock, err := r.lock()
	if err != nil {
		return nil, nil, err
	}
	ix, err := r.openIndex(false)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	if _, err := ix.Update(r.source(), false, nil); err != nil {
		ix.Close()
		unlock()
		return nil, nil, err
	}
	return ix, func() { ix.Close(); unlock() }, nil
}

// Rebuild folds the index again from scratch.
func (r *Repo) Rebuild() (*index.CatchUp, *index.Meta, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, nil, err
	}
	unlock, err := r.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	p, err := r.indexPath()
	if err != nil {
		return nil, nil, err
	}
	os.Remove(p)
	ix, err := index.Open(p, false)
	if err != nil {
		return nil, nil, err
	}
	defer ix.Close()
	rep, err := ix.Update(r.source(), true, nil)
	if err != nil {
		return nil, nil, err
	}
	m, err := ix.Meta()
	return rep, m, err
}
