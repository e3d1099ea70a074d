package memory

import (
	"fmt"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Family is the memory op types. Both need memory.write; on a memory tied to
// a task, a label-restricted grant must cover one of the task's labels.
func Family() fold.Family {
	return fold.Family{Name: "memory", Ops: []fold.Op{
		fold.Typed(OpAdd, add),
		fold.Typed(OpForget, forget),
	}}
}

// state is what the memory fold reads: its records, trust, and tasks (for
// the labels of the task a memory is about).
type state interface {
	fold.Records
	tasks.State
}

// authorize checks the signer's memory.write for a memory about task.
func authorize(c *fold.Ctx, task string) (state, *trust.Actor, *trust.Grant, error) {
	st, err := fold.As[state](c)
	if err != nil {
		return nil, nil, nil, err
	}
	_, actor, err := trust.Signer(c)
	if err != nil {
		return nil, nil, nil, err
	}
	var labels []string
	if task != "" {
		t, err := st.Task(task)
		if err != nil {
			return nil, nil, nil, err
		}
		if t == nil {
			return nil, nil, nil, oplog.Reject(oplog.KindNotFound, "no task %s", task)
		}
		labels = t.Labels
	}
	g, err := trust.FindBounded(st, actor, trust.Need{Scope: trust.ScopeMemory, Labels: labels}, c.At, c.Late)
	return st, actor, g, err
}

func add(c *fold.Ctx, b *AddBody) error {
	if c.Op.Task != "" {
		return oplog.Reject(oplog.KindInvalidBody, "%s names its task in the body, not the envelope", c.Op.Type)
	}
	st, actor, g, err := authorize(c, b.Task)
	if err != nil {
		return err
	}
	id := NewID(c.Op.Actor, c.Op.Seq)
	var old Memory
	if ok, err := st.Record(Kind, id, &old); err != nil {
		return err
	} else if ok {
		return oplog.Reject(oplog.KindDuplicate, "memory %s exists", id)
	}
	m := &Memory{ID: id, Tier: b.Tier, Text: b.Text, Task: b.Task, Pins: b.Pins, Tags: b.Tags,
		By: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, At: c.At, Op: c.Entry.Commit}
	if m.Pins == nil {
		m.Pins = []Pin{}
	}
	if m.Tags == nil {
		m.Tags = []string{}
	}
	if err := st.PutRecord(Kind, id, m); err != nil {
		return err
	}
	return trust.Use(st, g)
}

func forget(c *fold.Ctx, b *ForgetBody) error {
	if c.Op.Task != "" {
		return oplog.Reject(oplog.KindInvalidBody, "%s names no task", c.Op.Type)
	}
	st, err := fold.As[state](c)
	if err != nil {
		return err
	}
	var m Memory
	if ok, err := st.Record(Kind, b.ID, &m); err != nil {
		return err
	} else if !ok {
		return oplog.Reject(oplog.KindNotFound, "no memory %s", b.ID)
	}
	if m.Forgotten != nil {
		return oplog.Reject(oplog.KindDuplicate, "memory %s is already forgotten", b.ID)
	}
	_, actor, g, err := authorize(c, m.Task)
	if err != nil {
		return err
	}
	m.Forgotten = &Forgotten{Op: c.Entry.Commit, By: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, At: c.At, Reason: b.Reason}
	if err := st.PutRecord(Kind, b.ID, &m); err != nil {
		return fmt.Errorf("forget %s: %w", b.ID, err)
	}
	return trust.Use(st, g)
}
