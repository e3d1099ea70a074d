package tasks

import (
	"fmt"
	"strings"
)

// GateNeed is one gate of a move: whether it is satisfied now and, if not,
// what would satisfy it.
type GateNeed struct {
	Gate      string `json:"gate"`
	Kind      string `json:"kind"`
	Satisfied bool   `json:"satisfied"`
	Needs     string `json:"needs,omitempty"`
}

// Move is a transition the workflow allows from a task's current state.
type Move struct {
	To    string     `json:"to"`
	Roles []string   `json:"roles,omitempty"` // empty: any role
	Gates []GateNeed `json:"gates,omitempty"`
	Ready bool       `json:"ready"` // every gate satisfied now
}

// Moves lists the transitions from the task's state, in workflow order,
// with what each gate still needs. A move is Ready exactly when the fold
// would let it through its gates now (the role and the lease are the
// mover's to bring).
func (w *Workflow) Moves(t *Task) []Move {
	out := []Move{}
	seen := map[string]bool{}
	for _, tr := range w.Transitions {
		if !has(tr.From, t.State) || seen[tr.To] || (tr.To == w.Escalated && w.Escalated != "") {
			continue
		}
		seen[tr.To] = true
		m := Move{To: tr.To, Roles: tr.Roles, Ready: true}
		for _, name := range tr.Gates {
			n := w.gateNeed(t, name)
			m.Ready = m.Ready && n.Satisfied
			m.Gates = append(m.Gates, n)
		}
		out = append(out, m)
	}
	return out
}

// gateNeed decides one gate as the fold's move rule does (gatesOpen) and
// says what is missing.
func (w *Workflow) gateNeed(t *Task, name string) GateNeed {
	g, _ := w.Gate(name)
	n := GateNeed{Gate: name}
	if g == nil {
		n.Needs = "the gate is not declared"
		return n
	}
	n.Kind = g.Kind
	rec := t.Gates[name]
	if g.Kind == "check" {
		cmd := fmt.Sprintf("git covenant task check %s --gate %s -- <command>", t.ID, name)
		switch {
		case rec == nil:
			n.Needs = "a passing check: " + cmd
		case rec.Satisfied:
			n.Satisfied = true
		case rec.Check != nil:
			n.Needs = fmt.Sprintf("the latest check (%s) exited %d; a passing one: %s", strings.Join(rec.Check.Command, " "), rec.Check.ExitCode, cmd)
		default:
			n.Needs = "a passing check: " + cmd
		}
		return n
	}
	who := "an identity holding " + ReviewScope(name)
	if g.Independent {
		who += " that never held the task's lease"
		if len(t.Implementers) > 0 {
			who += " (not " + strings.Join(t.Implementers, ", ") + ")"
		}
	}
	cmd := fmt.Sprintf("git covenant task review %s --gate %s approve --note <text>", t.ID, name)
	switch {
	case rec == nil:
		n.Needs = "an approval by " + who + ": " + cmd
	case g.Independent && rec.Verdict == "approve" && has(t.Implementers, rec.By.Name):
		n.Needs = rec.By.Name + " worked on the task; an approval by " + who + ": " + cmd
	case rec.Stale:
		n.Needs = rec.Reason + "; a new approval by " + who + ": " + cmd
	case rec.Satisfied:
		n.Satisfied = true
	case rec.Reason != "":
		n.Needs = rec.Reason + "; an approval by " + who + ": " + cmd
	default:
		n.Needs = "the latest verdict (by " + rec.By.Name + ") is " + rec.Verdict + "; an approval by " + who + ": " + cmd
	}
	return n
}
