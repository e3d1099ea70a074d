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
	var missing []string
	for _, g := range tr.Gates {
		if rec := t.Gates[g]; rec == nil || !rec.Satisfied {
			why := "no evidence recorded"
			if rec != nil {
				why = rec.Reason
				if why == "" && rec.Verdict != "" {
					why = "latest verdict is " + rec.Verdict
				}
				if why == "" && rec.Check != nil {
					why = fmt.Sprintf("latest check exited %d", rec.Check.ExitCode)
				}
			}
			missing = append(missing, g+" ("+why+")")
		}
	}
	if len(missing) > 0 {
		return "", nil, oplog.Reject(oplog.KindIllegal, "cannot move %s to %s: gate(s) not satisfied: %s", t.ID, b.To, strings.Join(missing, "; "))
	}
	from := t.State
	t.State = b.To
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
