package runs

import (
	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Family is the run.record op type.
//
// Rules: the signer's role is daemon; the op names an existing task; the
// agent is a known identity; the epoch is one the task's lease history
// has, held by that agent (a daemon cannot credit a run to an identity
// that never held the task); a run id is recorded once.
func Family() fold.Family {
	return fold.Family{Name: "runs", Ops: []fold.Op{fold.Typed(OpRecord, record)}}
}

type state interface {
	fold.Records
	tasks.State
}

func record(c *fold.Ctx, b *RecordBody) error {
	st, err := fold.As[state](c)
	if err != nil {
		return err
	}
	_, actor, err := trust.Signer(c)
	if err != nil {
		return err
	}
	if actor.Role != string(identity.Daemon) {
		return oplog.Reject(oplog.KindUnauthorized, "%s is a %s identity; only daemon identities record runs", actor.Name, actor.Role)
	}
	if c.Op.Task == "" {
		return oplog.Reject(oplog.KindInvalidBody, "%s names no task", c.Op.Type)
	}
	if c.Op.Epoch != 0 {
		return oplog.Reject(oplog.KindInvalidBody, "%s carries its epoch in the body, not the envelope", c.Op.Type)
	}
	t, err := st.Task(c.Op.Task)
	if err != nil {
		return err
	}
	if t == nil {
		return oplog.Reject(oplog.KindNotFound, "no task %s", c.Op.Task)
	}
	p, err := st.Principal(b.Agent)
	if err != nil {
		return err
	}
	if p == nil {
		return oplog.Reject(oplog.KindNotFound, "no identity %s", b.Agent)
	}
	held := false
	for _, l := range t.Leases {
		held = held || (l.Epoch == b.Epoch && l.Holder == b.Agent)
	}
	if !held {
		return oplog.Reject(oplog.KindIllegal, "%s never held task %s under epoch %d", b.Agent, t.ID, b.Epoch)
	}
	var old Record
	if ok, err := st.Record(Kind, b.Run, &old); err != nil {
		return err
	} else if ok {
		return oplog.Reject(oplog.KindDuplicate, "run %s is recorded already (op %s)", b.Run, old.Op)
	}
	by := tasks.Ref{Name: actor.Name, Key: actor.KeyID}
	rec := &Record{RecordBody: *b, Task: t.ID, By: by, At: c.At, Op: c.Entry.Commit}
	if err := st.PutRecord(Kind, b.Run, rec); err != nil {
		return err
	}
	t.History = append(t.History, tasks.Event{Op: c.Entry.Commit, Type: c.Op.Type, Actor: by, Time: c.At, Lamport: c.Op.Lamport, Epoch: b.Epoch, Summary: b.Summary()})
	t.UpdatedAt = c.At
	return st.PutTask(t)
}
