package tasks

import (
	"fmt"
	"strings"

	"github.com/git-covenant/git-covenant/oplog"
)

// move folds task.move: a transition the workflow allows, by a role it
// allows, with its gates satisfied.
func (f *folder) move(t *Task, b *MoveBody) (string, []*Task, error) {
	if err := f.actingOn(t); err != nil {
		return "", nil, err
	}
	if b.To == f.wf.Escalated && f.wf.Escalated != "" {
		return "", nil, oplog.Reject(oplog.KindIllegal, "use task escalate to move a task to %s", b.To)
	}
	tr, ok := f.wf.Transition(t.State, b.To)
	if !ok {
		next := f.wf.Next(t.State)
		if len(next) == 0 {
			return "", nil, oplog.Reject(oplog.KindIllegal, "cannot move %s from %s to %s: no moves leave %s", t.ID, t.State, b.To, t.State)
		}
		return "", nil, oplog.Reject(oplog.KindIllegal, "cannot move %s from %s to %s; allowed: %s", t.ID, t.State, b.To, strings.Join(next, ", "))
	}
	if len(tr.Roles) > 0 && !has(tr.Roles, f.actor.Role) {
		return "", nil, oplog.Reject(oplog.KindUnauthorized, "moving %s to %s needs role %s; %s is %s", t.ID, b.To, strings.Join(tr.Roles, " or "), f.who.Name, f.actor.Role)
	}
	if err := f.gatesOpen(t, tr, b.To); err != nil {
		return "", nil, err
	}
	from := t.State
	t.State = b.To
	if f.before(b.To, from) {
		f.rework(t, from)
	}
	var touched []*Task
	if f.wf.IsFinal(b.To) {
		f.endLease(t)
		for _, l := range t.Links {
			if l.Kind != "blocks" {
				continue
			}
			o, err := f.st.Task(l.Task)
			if err != nil {
				return "", nil, err
			}
			if o != nil && o.OpenBlockers > 0 {
				o.OpenBlockers--
				touched = append(touched, o)
			}
		}
	}
	s := from + " -> " + b.To
	if b.Note != "" {
		s += ": " + b.Note
	}
	return s, touched, nil
}

// before reports whether state a is declared before state b.
func (f *folder) before(a, b string) bool {
	ia, ib := -1, -1
	for i, s := range f.wf.States {
		if s == a {
			ia = i
		}
		if s == b {
			ib = i
		}
	}
	return ia < ib
}

// gatesOpen checks, at the moment of the move, that every gate of the
// transition is satisfied. An independent approval gate is decided here
// against every identity that ever held the task's lease, whenever the
// approval was given and with whichever key.
func (f *folder) gatesOpen(t *Task, tr *Transition, to string) error {
	var missing []string
	kind := oplog.KindIllegal
	for _, name := range tr.Gates {
		rec := t.Gates[name]
		g, _ := f.wf.Gate(name)
		why := "no evidence recorded"
		switch {
		case rec == nil:
		case g != nil && g.Kind == "approval" && g.Independent && rec.Verdict == "approve" && has(t.Implementers, rec.By.Name):
			why, kind = rec.By.Name+" worked on the task; "+name+" needs approval by someone else", oplog.KindNotIndependent
		case rec.Stale:
			why = rec.Reason
			if kind == oplog.KindIllegal {
				kind = oplog.KindStaleApproval
			}
		case rec.Satisfied:
			continue
		case rec.Reason != "":
			why = rec.Reason
		case rec.Verdict != "":
			why = "latest verdict is " + rec.Verdict
		case rec.Check != nil:
			why = fmt.Sprintf("latest check exited %d", rec.Check.ExitCode)
		}
		missing = append(missing, name+" ("+why+")")
	}
	if len(missing) > 0 {
		return oplog.Reject(kind, "cannot move %s to %s: gate(s) not satisfied: %s", t.ID, to, strings.Join(missing, "; "))
	}
	return nil
}

// rework clears the approvals of a task sent back to an earlier state: an
// approval holds for the work it saw, not for what comes after.
func (f *folder) rework(t *Task, from string) {
	for _, rec := range t.Gates {
		if rec.Kind == "approval" && rec.Satisfied {
			rec.Satisfied, rec.Stale = false, true
			rec.Reason = fmt.Sprintf("approved before the task went back from %s to %s", from, t.State)
		}
	}
}
