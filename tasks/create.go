package tasks

import (
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

// create folds task.create: a new task, its id derived from the op.
func (f *folder) create(b *CreateBody) error {
	op := f.op
	if err := f.authorize(trust.ScopeTaskCreate, b.Labels); err != nil {
		return err
	}
	if want := NewID(op.Actor, op.Seq); op.Task != want {
		return oplog.Reject(oplog.KindInvalidBody, "task.create names id %s, derived id is %s", op.Task, want)
	}
	if old, err := f.st.Task(op.Task); err != nil {
		return err
	} else if old != nil {
		return oplog.Reject(oplog.KindDuplicate, "task %s exists", op.Task)
	}
	modes := b.FailureModes
	if modes == nil {
		modes = []string{}
	}
	t := &Task{
		ID: op.Task, Title: b.Title, Body: b.Body, Labels: b.Labels, Priority: b.Priority, FailureModes: modes,
		State: f.wf.Initial, CreatedBy: f.who, CreatedAt: f.at, UpdatedAt: f.at, Order: op.Key().String(),
		Leases: []LeaseRecord{}, Implementers: []string{}, Links: []Link{}, LinkedFrom: []Link{},
		Gates: map[string]*GateRecord{}, Comments: []Comment{}, Questions: []Question{},
		History: []Event{{Op: f.e.Commit, Type: op.Type, Actor: f.who, Time: f.at, Lamport: op.Lamport, Summary: "created: " + b.Title}},
	}
	if err := f.st.PutTask(t); err != nil {
		return err
	}
	return trust.Use(f.st, f.grant)
}
