package covenant

import (
	"errors"
	"fmt"
	"strings"
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

// CreateTask writes a task.create op and returns the new task. The body's
// Check, the one the fold runs, refuses bad input before anything else.
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
	if t.Lease.HeldBy(me.Name) && t.Lease.ActiveAt(now) {
		return t.Lease.Epoch
	}
	return 0
}

// StartTask claims a task under a lease of ttl.
func (r *Repo) StartTask(idOrPrefix string, ttl time.Duration) (*tasks.Task, error) {
	if err := checkTTL(ttl); err != nil {
		return nil, err
	}
	t, err := r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpClaim, Epoch: t.Epoch + 1, Body: tasks.ClaimBody{TTLSeconds: int64(ttl / time.Second)}, Summary: t.Title}, nil
	})
	if err != nil {
		return nil, err
	}
	return t, r.setCurrent(t)
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

// MoveTask moves a task to another workflow state.
func (r *Repo) MoveTask(idOrPrefix, to, note string) (*tasks.Task, error) {
	wf := r.Config.Lifecycle()
	if !contains(wf.States, to) {
		return nil, fmt.Errorf("%w: %q is not a state of the workflow (states: %s)", ErrBadInput, to, strings.Join(wf.States, ", "))
	}
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpMove, Epoch: heldEpoch(t, me, now), Body: tasks.MoveBody{To: to, Note: note}, Summary: t.State + " -> " + to}, nil
	})
}

// DoneTask moves a task to the workflow's success state.
func (r *Repo) DoneTask(idOrPrefix string) (*tasks.Task, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, err
	}
	return r.MoveTask(idOrPrefix, r.Config.Lifecycle().Done(), "")
}

// Heartbeat extends the actor's lease on a task.
func (r *Repo) Heartbeat(idOrPrefix string, ttl time.Duration) (*tasks.Task, error) {
	if err := checkTTL(ttl); err != nil {
		return nil, err
	}
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		if heldEpoch(t, me, now) == 0 {
			return Draft{}, noLease(t, me, now)
		}
		return Draft{Type: tasks.OpHeartbeat, Epoch: t.Lease.Epoch, Body: tasks.ClaimBody{TTLSeconds: int64(ttl / time.Second)}, Summary: t.Title}, nil
	})
}

// Release gives the actor's lease back.
func (r *Repo) Release(idOrPrefix string) (*tasks.Task, error) {
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		if heldEpoch(t, me, now) == 0 {
			return Draft{}, noLease(t, me, now)
		}
		return Draft{Type: tasks.OpRelease, Epoch: t.Lease.Epoch, Body: struct{}{}, Summary: t.Title}, nil
	})
}

// noLease explains why the actor holds no lease it could act under.
func noLease(t *tasks.Task, me *trust.Actor, now time.Time) error {
	switch {
	case t.Lease == nil:
		return oplog.Reject(oplog.KindLeaseExpired, "you hold no lease on %s", t.ID)
	case !t.Lease.HeldBy(me.Name) && t.Lease.ActiveAt(now):
		return oplog.Reject(oplog.KindLeaseHeld, "task %s is leased to %s (epoch %d) until %s", t.ID, t.Lease.Holder, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339))
	default:
		return oplog.Reject(oplog.KindLeaseExpired, "your lease on %s (epoch %d) expired at %s", t.ID, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339))
	}
}

// LinkTasks records that one task blocks, parents, relates to or was
// discovered from another.
func (r *Repo) LinkTasks(idOrPrefix, kind, otherOrPrefix string) (*tasks.Task, error) {
	b := tasks.LinkBody{Kind: kind, Other: otherOrPrefix}
	if err := b.Check(); err != nil {
		return nil, err
	}
	other, err := r.ResolveID(otherOrPrefix)
	if err != nil {
		return nil, err
	}
	b.Other = other
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpLink, Body: b, Summary: kind + " " + other}, nil
	})
}

// Review records an approval or rejection for an approval gate.
func (r *Repo) Review(idOrPrefix, gate, verdict, note string) (*tasks.Task, error) {
	b := tasks.ReviewBody{Gate: gate, Verdict: verdict, Note: note}
	if err := b.Check(); err != nil {
		return nil, err
	}
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpReview, Body: b, Summary: gate + " " + verdict}, nil
	})
}

// RecordCheck records the evidence of a command run for a check gate, with
// its output as an artifact.
func (r *Repo) RecordCheck(idOrPrefix, gate string, c tasks.Check, output []byte) (*tasks.Task, error) {
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpCheck, Epoch: heldEpoch(t, me, now), Body: tasks.CheckBody{Gate: gate, Evidence: c},
			Summary: fmt.Sprintf("%s exit %d", gate, c.ExitCode), Artifacts: map[string][]byte{"output.txt": output}}, nil
	})
}

// Escalate moves a task to the escalated state, recording what is needed.
func (r *Repo) Escalate(idOrPrefix, kind, reason string) (*tasks.Task, error) {
	b := tasks.EscalateBody{Kind: kind, Reason: reason}
	if err := b.Check(); err != nil {
		return nil, err
	}
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpEscalate, Epoch: heldEpoch(t, me, now), Body: b, Summary: kind}, nil
	})
}

// Resolve answers an escalation (human identities only).
func (r *Repo) Resolve(idOrPrefix, decision string) (*tasks.Task, error) {
	b := tasks.ResolveBody{Decision: decision}
	if err := b.Check(); err != nil {
		return nil, err
	}
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpResolve, Body: b, Summary: decision}, nil
	})
}

// Comment adds a comment to a task.
func (r *Repo) Comment(idOrPrefix, text string) (*tasks.Task, error) {
	b := tasks.CommentBody{Text: text}
	if err := b.Check(); err != nil {
		return nil, err
	}
	return r.taskOp(idOrPrefix, func(t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpComment, Body: b, Summary: text}, nil
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > tasks.MaxTTLSeconds*time.Second {
		return fmt.Errorf("%w: lease ttl %s out of range (1s to 168h)", ErrBadInput, ttl)
	}
	if ttl%time.Second != 0 {
		return fmt.Errorf("%w: lease ttl %s must be whole seconds", ErrBadInput, ttl)
	}
	return nil
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
