package tasks

import (
	"github.com/git-covenant/git-covenant/oplog"
)

// escalate folds task.escalate: the task waits for a human.
func (f *folder) escalate(t *Task, b *EscalateBody) (string, []*Task, error) {
	if f.wf.Escalated == "" {
		return "", nil, oplog.Reject(oplog.KindIllegal, "the workflow has no escalated state")
	}
	if err := f.actingOn(t); err != nil {
		return "", nil, err
	}
	if err := f.open(t); err != nil {
		return "", nil, err
	}
	if t.State == f.wf.Escalated {
		return "", nil, oplog.Reject(oplog.KindIllegal, "task %s is already escalated", t.ID)
	}
	t.Escalation = &Escalation{Op: f.e.Commit, Kind: b.Kind, Reason: b.Reason, By: f.who, At: f.at, From: t.State}
	t.Escalations++
	t.State = f.wf.Escalated
	return b.Kind + ": " + b.Reason, nil, nil
}

// resolve folds task.resolve: a human answers the escalation.
func (f *folder) resolve(t *Task, b *ResolveBody) (string, []*Task, error) {
	if f.actor.Role != "human" {
		return "", nil, oplog.Reject(oplog.KindUnauthorized, "only a human identity can resolve an escalation (%s is %s)", f.who.Name, f.actor.Role)
	}
	if t.State != f.wf.Escalated || t.Escalation == nil {
		return "", nil, oplog.Reject(oplog.KindIllegal, "task %s is not escalated", t.ID)
	}
	at, who := f.at, f.who
	t.Escalation.Decision, t.Escalation.Resolved, t.Escalation.ResAt = b.Decision, &who, &at
	t.State = t.Escalation.From
	return "resolved: " + b.Decision, nil, nil
}
