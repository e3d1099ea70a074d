package covenant

import (
	"errors"
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// DefaultTTL is the lease length when none is given.
const DefaultTTL = 2 * time.Hour

// ErrTaskNotFound wraps index.ErrNotFound for callers.
var ErrTaskNotFound = index.ErrNotFound

// CreateTask writes a task.create op and returns the new task.
func (r *Repo) CreateTask(b tasks.CreateBody) (*tasks.Task, error) {
	if err := b.Check(); err != nil {
		return nil, err
	}
	w, err := r.Write(func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: tasks.OpCreate, NewTask: true, Body: b, Summary: b.Title}}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.Task(w.Entries[0].Op.Task)
}

// ResolveID turns an id or unique prefix into a full task id.
func (r *Repo) ResolveID(idOrPrefix string) (string, error) {
	ix, done, err := r.Read()
	if err != nil {
		return "", err
	}
	defer done()
	t, err := ix.Task(idOrPrefix)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// Task returns one task by id or unique prefix.
func (r *Repo) Task(idOrPrefix string) (*tasks.Task, error) {
	ix, done, err := r.Read()
	if err != nil {
		return nil, err
	}
	defer done()
	return ix.Task(idOrPrefix)
}

// taskOp writes one op on an existing task, computed by plan from its state.
func (r *Repo) taskOp(idOrPrefix string, plan func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error)) (*tasks.Task, error) {
	id, err := r.ResolveID(idOrPrefix)
	if err != nil {
		return nil, err
	}
	_, err = r.Write(func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		t, err := tx.Task(id)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, fmt.Errorf("%w: %s", index.ErrNotFound, id)
		}
		d, err := plan(t, me, r.Now())
		if err != nil {
			return nil, err
		}
		d.Task = id
		return []Draft{d}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.Task(id)
}

// heldEpoch is the epoch to act under: the lease's if the actor holds an
// active one, else none.
func heldEpoch(t *tasks.Task, me *trust.Actor, now time.Time) uint64 {
	if t.Lease != nil && t.Lease.Key == me.KeyID && t.Lease.ActiveAt(now) {
		return t.Lease.Epoch
	}
	return 0
}

// StartTask claims a task under a lease of ttl.
func (r *Repo) StartTask(idOrPrefix string, ttl time.Duration) (*tasks.Task, error) {
	if ttl <= 0 || ttl > tasks.MaxTTLSeconds*time.Second {
		return nil, fmt.Errorf("%w: lease ttl %s out of range (1s to 168h)", ErrBadInput, ttl)
	}
	if ttl%time.Second != 0 {
		return nil, fmt.Errorf("%w: lease ttl %s must be whole seconds", ErrBadInput, ttl)
	}
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpClaim, Epoch: t.Epoch + 1, Body: tasks.ClaimBody{TTLSeconds: int64(ttl / time.Second)}, Summary: t.Title}, nil
	})
}

// HandoffTask records a handoff artifact.
func (r *Repo) HandoffTask(idOrPrefix string, h tasks.Handoff) (*tasks.Task, error) {
	if err := h.Check(); err != nil {
		return nil, err
	}
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpHandoff, Epoch: heldEpoch(t, me, now), Body: h, Summary: h.Summary}, nil
	})
}

// DoneTask marks a task done.
func (r *Repo) DoneTask(idOrPrefix string) (*tasks.Task, error) {
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpDone, Epoch: heldEpoch(t, me, now), Body: struct{}{}, Summary: t.Title}, nil
	})
}

// ErrBadInput means a value given by the user is out of range.
var ErrBadInput = errors.New("invalid input")

// IsRejection reports whether err is the fold refusing an op, and its kind.
func IsRejection(err error) (string, bool) {
	r, ok := oplog.AsRejection(err)
	if !ok {
		return "", false
	}
	return r.Kind, true
}
