package memory

import (
	"fmt"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Family is the memory op types. Each needs the scope of the memory's
// tier (memory.working, memory.episodic, memory.longterm) or memory.write,
// which covers every tier; a promotion needs the target tier's too. On a
// memory tied to a task, a label-restricted grant must cover one of the
// task's labels.
func Family() fold.Family {
	return fold.Family{Name: "memory", Ops: []fold.Op{
		fold.Typed(OpAdd, add),
		fold.Typed(OpForget, forget),
		fold.Typed(OpRestore, restore),
		fold.Typed(OpMark, mark),
		fold.Typed(OpPromote, promote),
	}}
}

// state is what the memory fold reads: its records, trust, and tasks (for
// the labels of the task a memory is about).
type state interface {
	fold.Records
	fold.Postings
	tasks.State
}

// authorize checks the signer's scope for a memory of tier about task:
// the tier's own scope, else memory.write.
func authorize(c *fold.Ctx, tier, task string) (state, *trust.Actor, *trust.Grant, error) {
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
	g, err := trust.FindBounded(st, actor, trust.Need{Scope: Scope(tier), Labels: labels}, c.At, c.Late)
	if _, rej := oplog.AsRejection(err); rej {
		g, err = trust.FindBounded(st, actor, trust.Need{Scope: trust.ScopeMemory, Labels: labels}, c.At, c.Late)
	}
	return st, actor, g, err
}

func add(c *fold.Ctx, b *AddBody) error {
	if c.Op.Task != "" {
		return oplog.Reject(oplog.KindInvalidBody, "%s names its task in the body, not the envelope", c.Op.Type)
	}
	st, actor, g, err := authorize(c, b.Tier, b.Task)
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
	if err := st.PutRecord(RankKind, id, RankOf(m)); err != nil {
		return err
	}
	if err := st.AddPostings(Kind, id, Terms(m)); err != nil {
		return err
	}
	var count int
	if _, err := st.Record(CountKind, CountKey, &count); err != nil {
		return err
	}
	if err := st.PutRecord(CountKind, CountKey, count+1); err != nil {
		return err
	}
	return trust.Use(st, g)
}

// change loads the memory an op changes and checks the signer may change
// it; the op's own rule runs in apply before the memory is stored again
// with the change appended.
func change(c *fold.Ctx, id, reason, tier string, apply func(m *Memory, by tasks.Ref) error) error {
	if c.Op.Task != "" {
		return oplog.Reject(oplog.KindInvalidBody, "%s names no task", c.Op.Type)
	}
	st, err := fold.As[state](c)
	if err != nil {
		return err
	}
	var m Memory
	if ok, err := st.Record(Kind, id, &m); err != nil {
		return err
	} else if !ok {
		return oplog.Reject(oplog.KindNotFound, "no memory %s", id)
	}
	_, actor, g, err := authorize(c, m.Tier, m.Task)
	if err != nil {
		return err
	}
	var g2 *trust.Grant
	if tier != "" && tier != m.Tier {
		if _, _, g2, err = authorize(c, tier, m.Task); err != nil {
			return err
		}
	}
	by := tasks.Ref{Name: actor.Name, Key: actor.KeyID}
	before := m.Tier
	if err := apply(&m, by); err != nil {
		return err
	}
	ch := Change{Type: c.Op.Type, Op: c.Entry.Commit, By: by, At: c.At, Reason: reason}
	if c.Op.Type == OpPromote {
		ch.Tier = before
	}
	m.Changes = append(m.Changes, ch)
	if err := st.PutRecord(Kind, id, &m); err != nil {
		return fmt.Errorf("%s %s: %w", c.Op.Type, id, err)
	}
	if err := st.PutRecord(RankKind, id, RankOf(&m)); err != nil {
		return fmt.Errorf("%s %s: %w", c.Op.Type, id, err)
	}
	if err := trust.Use(st, g); err != nil {
		return err
	}
	if g2 != nil && g2 != g {
		return trust.Use(st, g2)
	}
	return nil
}

func forget(c *fold.Ctx, b *ForgetBody) error {
	return change(c, b.ID, b.Reason, "", func(m *Memory, by tasks.Ref) error {
		if m.Forgotten != nil {
			return oplog.Reject(oplog.KindDuplicate, "memory %s is already forgotten", b.ID)
		}
		m.Forgotten = &Forgotten{Op: c.Entry.Commit, By: by, At: c.At, Reason: b.Reason}
		return nil
	})
}

func restore(c *fold.Ctx, b *ChangeBody) error {
	if b.Tier != "" || b.Stale {
		return oplog.Reject(oplog.KindInvalidBody, "%s takes an id and a reason only", c.Op.Type)
	}
	return change(c, b.ID, b.Reason, "", func(m *Memory, _ tasks.Ref) error {
		if m.Forgotten == nil {
			return oplog.Reject(oplog.KindDuplicate, "memory %s is not forgotten", b.ID)
		}
		m.Forgotten = nil
		return nil
	})
}

func mark(c *fold.Ctx, b *ChangeBody) error {
	if b.Tier != "" {
		return oplog.Reject(oplog.KindInvalidBody, "%s takes no tier", c.Op.Type)
	}
	return change(c, b.ID, b.Reason, "", func(m *Memory, by tasks.Ref) error {
		if (m.Stale != nil) == b.Stale {
			return oplog.Reject(oplog.KindDuplicate, "memory %s is already %s", b.ID, map[bool]string{true: "stale", false: "not stale"}[b.Stale])
		}
		m.Stale = nil
		if b.Stale {
			m.Stale = &Forgotten{Op: c.Entry.Commit, By: by, At: c.At, Reason: b.Reason}
		}
		return nil
	})
}

func promote(c *fold.Ctx, b *ChangeBody) error {
	if b.Stale {
		return oplog.Reject(oplog.KindInvalidBody, "%s takes no stale flag", c.Op.Type)
	}
	return change(c, b.ID, b.Reason, b.Tier, func(m *Memory, _ tasks.Ref) error {
		if rank(b.Tier) <= rank(m.Tier) {
			return oplog.Reject(oplog.KindInvalidBody, "memory %s is %s; promotion goes to a longer-lived tier", b.ID, m.Tier)
		}
		if m.Forgotten != nil {
			return oplog.Reject(oplog.KindInvalidBody, "memory %s is forgotten; restore it first", b.ID)
		}
		m.Tier = b.Tier
		return nil
	})
}

// rank orders the tiers, shortest-lived first (-1: not a tier).
func rank(tier string) int {
	for i, t := range Tiers {
		if t == tier {
			return i
		}
	}
	return -1
}
