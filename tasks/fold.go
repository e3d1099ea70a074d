package tasks

import (
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

// State is what the task fold reads and writes. Task returns nil for an
// unknown id; Actor returns an untrusted empty actor for an unknown key.
type State interface {
	trust.State
	Task(id string) (*Task, error)
	PutTask(*Task) error
}

// Family is the task op types, folded under a workflow.
func Family(wf *Workflow) fold.Family {
	return fold.Family{Name: "tasks", Ops: []fold.Op{
		fold.Typed(OpCreate, func(c *fold.Ctx, b *CreateBody) error {
			f, err := newFolder(c, wf)
			if err != nil {
				return err
			}
			return f.create(b)
		}),
		onTask(wf, OpClaim, trust.ScopeTaskClaim, (*folder).claim),
		onTask(wf, OpHeartbeat, trust.ScopeTaskClaim, (*folder).heartbeat),
		onTask(wf, OpRelease, trust.ScopeTaskClaim, (*folder).release),
		onTask(wf, OpMove, trust.ScopeTaskMove, (*folder).move),
		onTask(wf, OpHandoff, trust.ScopeTaskHandoff, (*folder).handoff),
		onTask(wf, OpLink, trust.ScopeTaskLink, (*folder).link),
		onTask(wf, OpReview, "", (*folder).review), // the scope is the gate's: ReviewBody.Scope
		onTask(wf, OpCheck, trust.ScopeTaskCheck, (*folder).check),
		onTask(wf, OpEscalate, trust.ScopeTaskEscalate, (*folder).escalate),
		onTask(wf, OpResolve, trust.ScopeResolve, (*folder).resolve),
		onTask(wf, OpComment, trust.ScopeTaskComment, (*folder).comment),
		onTask(wf, OpAnswer, trust.ScopeTaskComment, (*folder).answer),
		onTask(wf, OpAccept, trust.ScopeTaskMove, (*folder).accept),
	}}
}

// folder applies one task op; its fields are what every rule needs.
type folder struct {
	st    State
	wf    *Workflow
	e     *oplog.Entry
	op    *oplog.Op
	actor *trust.Actor
	who   Ref
	at    time.Time
	late  time.Time    // at, raised to the time witnesses that do not cover the op
	grant *trust.Grant // the grant that authorizes the op, counted on success
}

func newFolder(c *fold.Ctx, wf *Workflow) (*folder, error) {
	st, err := fold.As[State](c)
	if err != nil {
		return nil, err
	}
	_, actor, err := trust.Signer(c)
	if err != nil {
		return nil, err
	}
	return &folder{st: st, wf: wf, e: c.Entry, op: c.Op, actor: actor, who: Ref{Name: actor.Name, Key: actor.KeyID}, at: c.At, late: c.Late}, nil
}

// scoped is a body whose op needs a scope that depends on it.
type scoped interface{ Scope() string }

// onTask registers an op on an existing task: it finds the task, checks the
// scope against the task's labels, runs fn, records the event and counts
// the grant's use. fn returns the event's summary and the other tasks it
// changed.
func onTask[B any, P interface {
	*B
	fold.Checker
}](wf *Workflow, typ, scope string, fn func(f *folder, t *Task, b P) (string, []*Task, error)) fold.Op {
	return fold.Typed(typ, func(c *fold.Ctx, b P) error {
		f, err := newFolder(c, wf)
		if err != nil {
			return err
		}
		op := c.Op
		if op.Task == "" {
			return oplog.Reject(oplog.KindInvalidBody, "%s names no task", op.Type)
		}
		t, err := f.task(op.Task)
		if err != nil {
			return err
		}
		if s, ok := any(b).(scoped); ok {
			scope = s.Scope()
		}
		if err := f.authorize(scope, t.Labels); err != nil {
			return err
		}
		ev := Event{Op: c.Entry.Commit, Type: op.Type, Actor: f.who, Time: f.at, Lamport: op.Lamport, Epoch: op.Epoch}
		summary, touched, err := fn(f, t, b)
		if err != nil {
			return err
		}
		ev.Summary = summary
		t.UpdatedAt = f.at
		t.History = append(t.History, ev)
		for _, o := range touched {
			if err := f.st.PutTask(o); err != nil {
				return err
			}
		}
		if err := trust.Use(f.st, f.grant); err != nil {
			return err
		}
		return f.st.PutTask(t)
	})
}

// authorize finds the grant for scope on a task with these labels.
func (f *folder) authorize(scope string, labels []string) error {
	g, err := trust.FindBounded(f.st, f.actor, trust.Need{Scope: scope, Labels: labels, Seq: f.op.Seq}, f.at, f.late)
	f.grant = g
	return err
}

func (f *folder) task(id string) (*Task, error) {
	t, err := f.st.Task(id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, oplog.Reject(oplog.KindNotFound, "no task %s", id)
	}
	return t, nil
}

func (f *folder) open(t *Task) error {
	if f.wf.IsFinal(t.State) {
		return oplog.Reject(oplog.KindIllegal, "task %s is %s", t.ID, t.State)
	}
	return nil
}

// ReviewScope is the capability an approval gate needs: the gate's own name
// when it is already review.<something> (review.code), else review.<gate>.
func ReviewScope(gate string) string {
	if strings.HasPrefix(gate, trust.ScopeReviewPrefix) {
		return gate
	}
	return trust.ScopeReviewPrefix + gate
}
