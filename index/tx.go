package index

import (
	"encoding/json"
	"fmt"

	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
	bolt "go.etcd.io/bbolt"
)

// Tx is a write transaction over the index. It implements tasks.State,
// caching decoded records and writing each changed one once, at Commit.
type Tx struct {
	btx      *bolt.Tx
	Meta     *Meta
	Workflow *tasks.Workflow
	tasks    map[string]*tasks.Task
	actors   map[string]*trust.Actor
	dirtyT   map[string]bool
	dirtyA   map[string]bool
	fresh    bool // buckets were just emptied: skip reads
}

func newTx(btx *bolt.Tx, m *Meta) *Tx {
	return &Tx{btx: btx, Meta: m, tasks: map[string]*tasks.Task{}, actors: map[string]*trust.Actor{},
		dirtyT: map[string]bool{}, dirtyA: map[string]bool{}}
}

// Task implements tasks.State.
func (tx *Tx) Task(id string) (*tasks.Task, error) {
	if t, ok := tx.tasks[id]; ok {
		return t, nil
	}
	if tx.fresh {
		return nil, nil
	}
	v := tx.btx.Bucket(bTasks).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var t tasks.Task
	if err := json.Unmarshal(v, &t); err != nil {
		return nil, err
	}
	tx.tasks[id] = &t
	return &t, nil
}

// PutTask implements tasks.State.
func (tx *Tx) PutTask(t *tasks.Task) error {
	tx.tasks[t.ID] = t
	tx.dirtyT[t.ID] = true
	return nil
}

// Actor implements trust.Actors.
func (tx *Tx) Actor(keyID string) (*trust.Actor, error) {
	if a, ok := tx.actors[keyID]; ok {
		return a, nil
	}
	a := &trust.Actor{KeyID: keyID}
	if !tx.fresh {
		if v := tx.btx.Bucket(bActors).Get([]byte(keyID)); v != nil {
			if err := json.Unmarshal(v, a); err != nil {
				return nil, err
			}
		}
	}
	tx.actors[keyID] = a
	return a, nil
}

// PutActor implements trust.Actors.
func (tx *Tx) PutActor(a *trust.Actor) error {
	tx.actors[a.KeyID] = a
	tx.dirtyA[a.KeyID] = true
	return nil
}

// Apply folds one entry and logs it. A rejection is recorded in the log and
// returned; other errors abort the transaction.
func (tx *Tx) Apply(e *oplog.Entry) (rejection *oplog.Rejection, err error) {
	applyErr := tasks.Apply(tx, tx.Workflow, e)
	if applyErr != nil {
		r, ok := oplog.AsRejection(applyErr)
		if !ok {
			return nil, applyErr
		}
		rejection = r
		tx.Meta.Rejected++
	}
	op := e.Op
	actor, err := tx.Actor(op.Actor)
	if err != nil {
		return nil, err
	}
	le := LogEntry{Order: op.Key().String(), Op: e.Commit, Feed: e.Feed, Type: op.Type, Task: op.Task,
		Actor: tasks.Ref{Name: actor.Name, Key: op.Actor}, Time: op.When(), Lamport: op.Lamport, Seq: op.Seq, Epoch: op.Epoch}
	if rejection != nil {
		le.Rejected = &RejectionSummary{Kind: rejection.Kind, Reason: rejection.Reason}
	}
	raw, err := json.Marshal(le)
	if err != nil {
		return nil, err
	}
	if err := tx.btx.Bucket(bLog).Put([]byte(le.Order), raw); err != nil {
		return nil, err
	}
	tx.Meta.Ops++
	tx.Meta.Last = le.Order
	if op.Lamport > tx.Meta.MaxLamport {
		tx.Meta.MaxLamport = op.Lamport
	}
	return rejection, nil
}

// flush writes changed records and the meta.
func (tx *Tx) flush() error {
	tb, lb, ab, rb := tx.btx.Bucket(bTasks), tx.btx.Bucket(bList), tx.btx.Bucket(bActors), tx.btx.Bucket(bReady)
	for id := range tx.dirtyT {
		t := tx.tasks[id]
		raw, err := json.Marshal(t)
		if err != nil {
			return err
		}
		if tb.Get([]byte(id)) == nil {
			tx.Meta.Tasks++
		}
		if err := tb.Put([]byte(id), raw); err != nil {
			return err
		}
		row, err := json.Marshal(t.Summarize())
		if err != nil {
			return err
		}
		if err := lb.Put([]byte(t.Order), row); err != nil {
			return err
		}
		rk := readyKey(t)
		if tx.Workflow != nil && ReadyEligible(tx.Workflow, t) {
			err = rb.Put(rk, row)
		} else {
			err = rb.Delete(rk)
		}
		if err != nil {
			return err
		}
	}
	for k := range tx.dirtyA {
		raw, err := json.Marshal(tx.actors[k])
		if err != nil {
			return err
		}
		if err := ab.Put([]byte(k), raw); err != nil {
			return err
		}
	}
	tx.dirtyT, tx.dirtyA = map[string]bool{}, map[string]bool{}
	m, err := json.Marshal(tx.Meta)
	if err != nil {
		return err
	}
	return tx.btx.Bucket(bMeta).Put(bMeta, m)
}

// ReadyEligible reports whether a task belongs in the ready queue, lease
// aside (leases expire with the wall clock, so readers check them): not
// final, in a claimable state, and no unfinished blocker.
func ReadyEligible(wf *tasks.Workflow, t *tasks.Task) bool {
	if wf.IsFinal(t.State) || t.OpenBlockers > 0 {
		return false
	}
	for _, s := range wf.ClaimFrom {
		if s == t.State {
			return true
		}
	}
	return false
}

// readyKey orders the ready queue: highest priority first, then oldest.
func readyKey(t *tasks.Task) []byte {
	return []byte(fmt.Sprintf("%d/%s", 9-tasks.PriorityRank(t.Priority), t.Order))
}

// EachReady calls fn with the JSON row of each task in the ready queue, in
// queue order, until fn returns false.
func (tx *Tx) EachReady(fn func(raw []byte) (bool, error)) error {
	return eachReady(tx.btx, fn)
}

func eachReady(btx *bolt.Tx, fn func(raw []byte) (bool, error)) error {
	b := btx.Bucket(bReady)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		more, err := fn(v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
