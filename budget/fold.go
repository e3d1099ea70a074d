package budget

import (
	"strings"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Family is the budget op types.
//
// Rules: budget.set and budget.resume need budget.admin; budget.pause is
// signed by a daemon identity (it witnessed the run) or a budget.admin
// holder; a checkpoint is resumed once: the first resume by fold order
// wins, a later one, from any clone, is a duplicate.
func Family() fold.Family {
	return fold.Family{Name: "budget", Ops: []fold.Op{
		fold.Typed(OpSet, set),
		fold.Typed(OpPause, pause),
		fold.Typed(OpResume, resume),
	}}
}

type state interface {
	fold.Records
	tasks.State
}

func signer(c *fold.Ctx, daemonMay bool) (state, *trust.Actor, *trust.Grant, error) {
	st, err := fold.As[state](c)
	if err != nil {
		return nil, nil, nil, err
	}
	_, actor, err := trust.Signer(c)
	if err != nil {
		return nil, nil, nil, err
	}
	if c.Op.Task != "" || c.Op.Epoch != 0 {
		return nil, nil, nil, oplog.Reject(oplog.KindInvalidBody, "%s names its task in the body, and no epoch", c.Op.Type)
	}
	if daemonMay && actor.Role == string(identity.Daemon) {
		return st, actor, nil, nil
	}
	g, err := trust.FindBounded(st, actor, trust.Need{Scope: trust.ScopeBudget}, c.At, c.Late)
	return st, actor, g, err
}

func set(c *fold.Ctx, b *SetBody) error {
	st, actor, g, err := signer(c, false)
	if err != nil {
		return err
	}
	kind, name, _ := strings.Cut(b.Subject, ":")
	if kind == "task" {
		t, err := st.Task(name)
		if err != nil {
			return err
		}
		if t == nil {
			return oplog.Reject(oplog.KindNotFound, "no task %s", name)
		}
	} else {
		p, err := st.Principal(name)
		if err != nil {
			return err
		}
		if p == nil {
			return oplog.Reject(oplog.KindNotFound, "no identity %s", name)
		}
	}
	rec := &Budget{SetBody: *b, By: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, At: c.At, Op: c.Entry.Commit}
	if err := st.PutRecord(KindBudget, b.Subject, rec); err != nil {
		return err
	}
	return trust.Use(st, g)
}

func pause(c *fold.Ctx, b *PauseBody) error {
	st, actor, g, err := signer(c, true)
	if err != nil {
		return err
	}
	t, err := st.Task(b.Task)
	if err != nil {
		return err
	}
	if t == nil {
		return oplog.Reject(oplog.KindNotFound, "no task %s", b.Task)
	}
	id := CheckpointID(c.Op.Actor, c.Op.Seq)
	p := &Pause{ID: id, PauseBody: *b, By: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, At: c.At, Op: c.Entry.Commit}
	if err := st.PutRecord(KindPause, id, p); err != nil {
		return err
	}
	t.History = append(t.History, tasks.Event{Op: c.Entry.Commit, Type: c.Op.Type, Actor: p.By, Time: c.At, Lamport: c.Op.Lamport,
		Summary: "paused " + b.Run + " (" + b.Reason + "), checkpoint " + id})
	t.UpdatedAt = c.At
	if err := st.PutTask(t); err != nil {
		return err
	}
	return trust.Use(st, g)
}

func resume(c *fold.Ctx, b *ResumeBody) error {
	st, actor, g, err := signer(c, false)
	if err != nil {
		return err
	}
	var p Pause
	if ok, err := st.Record(KindPause, b.Checkpoint, &p); err != nil {
		return err
	} else if !ok {
		return oplog.Reject(oplog.KindNotFound, "no checkpoint %s", b.Checkpoint)
	}
	if p.Resumed != nil {
		return oplog.Reject(oplog.KindDuplicate, "checkpoint %s was resumed already by %s (op %s)", b.Checkpoint, p.Resumed.By.Name, p.Resumed.Op)
	}
	p.Resumed = &Resumed{Op: c.Entry.Commit, By: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, At: c.At}
	if err := st.PutRecord(KindPause, b.Checkpoint, &p); err != nil {
		return err
	}
	return trust.Use(st, g)
}
