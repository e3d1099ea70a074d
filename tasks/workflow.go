package tasks

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrBadWorkflow means a [workflow] declaration is inconsistent.
var ErrBadWorkflow = errors.New("invalid workflow")

// Transition allows moving a task between states.
type Transition struct {
	From  []string `toml:"from" json:"from"`
	To    string   `toml:"to" json:"to"`
	Roles []string `toml:"roles,omitempty" json:"roles,omitempty"` // empty: any role
	Gates []string `toml:"gates,omitempty" json:"gates,omitempty"` // all must be satisfied
}

// Gate is a condition a transition can require.
type Gate struct {
	Name string `toml:"name" json:"name"`
	// Kind is "approval" (satisfied by the latest review verdict being
	// approve) or "check" (satisfied by the latest recorded check passing).
	Kind string `toml:"kind" json:"kind"`
	// Independent approvals only count when the reviewer never held a
	// lease on the task.
	Independent bool `toml:"independent,omitempty" json:"independent,omitempty"`
}

// Workflow is a task lifecycle: states, who may move between them, and the
// gates that guard moves.
type Workflow struct {
	States      []string     `toml:"states" json:"states"`
	Initial     string       `toml:"initial" json:"initial"`
	Final       []string     `toml:"final" json:"final"`           // terminal states; the first is success
	ClaimFrom   []string     `toml:"claim_from" json:"claim_from"` // states a task can be claimed in
	ClaimTo     string       `toml:"claim_to" json:"claim_to"`     // where a claim moves a task from an earlier claimable state
	Blocked     string       `toml:"blocked" json:"blocked"`       // state for `task move <id> blocked`; "" for none
	Escalated   string       `toml:"escalated" json:"escalated"`   // state escalations move to
	Transitions []Transition `toml:"transitions" json:"transitions"`
	Gates       []Gate       `toml:"gates" json:"gates"`
}

// DefaultWorkflow is the lifecycle long-running agent teams use.
func DefaultWorkflow() *Workflow {
	early := []string{"proposed", "triaged", "planned", "in_progress"}
	active := []string{"proposed", "triaged", "planned", "in_progress", "self_review", "cross_review", "validation", "repair", "ready", "blocked"}
	return &Workflow{
		States:    []string{"proposed", "triaged", "planned", "in_progress", "self_review", "cross_review", "validation", "repair", "ready", "integrated", "blocked", "escalated", "cancelled"},
		Initial:   "proposed",
		Final:     []string{"integrated", "cancelled"},
		ClaimFrom: []string{"proposed", "triaged", "planned", "in_progress", "repair"},
		ClaimTo:   "in_progress",
		Blocked:   "blocked",
		Escalated: "escalated",
		Transitions: []Transition{
			{From: []string{"proposed"}, To: "triaged"},
			{From: []string{"triaged"}, To: "planned"},
			{From: []string{"planned"}, To: "in_progress"},
			{From: []string{"in_progress"}, To: "self_review"},
			{From: []string{"self_review"}, To: "cross_review"},
			{From: []string{"self_review", "cross_review"}, To: "in_progress"},
			{From: []string{"cross_review"}, To: "validation", Gates: []string{"review.code"}},
			{From: []string{"validation"}, To: "repair"},
			{From: []string{"repair"}, To: "validation"},
			{From: []string{"validation"}, To: "ready", Gates: []string{"tests"}},
			{From: []string{"ready"}, To: "integrated", Roles: []string{"human", "daemon"}},
			{From: early, To: "blocked"},
			{From: []string{"blocked"}, To: "triaged"},
			{From: active, To: "cancelled"},
		},
		Gates: []Gate{
			{Name: "review.code", Kind: "approval", Independent: true},
			{Name: "tests", Kind: "check"},
		},
	}
}

func has(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// IsFinal reports whether a state is terminal.
func (w *Workflow) IsFinal(s string) bool { return has(w.Final, s) }

// Done is the terminal success state.
func (w *Workflow) Done() string { return w.Final[0] }

// Gate returns the gate of that name.
func (w *Workflow) Gate(name string) (*Gate, bool) {
	for i := range w.Gates {
		if w.Gates[i].Name == name {
			return &w.Gates[i], true
		}
	}
	return nil, false
}

// Transition returns the transition from one state to another, if allowed.
func (w *Workflow) Transition(from, to string) (*Transition, bool) {
	for i, t := range w.Transitions {
		if t.To == to && has(t.From, from) {
			return &w.Transitions[i], true
		}
	}
	return nil, false
}

// Next lists the states a task in state s may move to.
func (w *Workflow) Next(s string) []string {
	out := []string{}
	for _, t := range w.Transitions {
		if has(t.From, s) && !has(out, t.To) {
			out = append(out, t.To)
		}
	}
	return out
}

// Check validates the workflow: every state named anywhere is declared, every
// state is reachable from the initial one, every non-final state has a way
// out, and gates are declared once with a known kind. loc, if not nil,
// returns where in the source a name appears, for error messages.
func (w *Workflow) Check(loc func(string) string) error {
	if loc == nil {
		loc = func(string) string { return "" }
	}
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", loc(name), ErrBadWorkflow, fmt.Sprintf(format, args...))
	}
	if len(w.States) == 0 {
		return bad("states", "no states declared")
	}
	declared := map[string]bool{}
	for _, s := range w.States {
		if !stateRE.MatchString(s) {
			return bad(s, "state name %q: use lowercase letters, digits and _", s)
		}
		if declared[s] {
			return bad(s, "state %q declared twice", s)
		}
		declared[s] = true
	}
	known := func(what, s string) error {
		if !declared[s] {
			return bad(s, "%s names unknown state %q (declared: %s)", what, s, strings.Join(w.States, ", "))
		}
		return nil
	}
	if err := known("initial", w.Initial); err != nil {
		return err
	}
	if len(w.Final) == 0 {
		return bad("final", "no final state declared")
	}
	for _, s := range w.Final {
		if err := known("final", s); err != nil {
			return err
		}
	}
	for _, s := range w.ClaimFrom {
		if err := known("claim_from", s); err != nil {
			return err
		}
	}
	if err := known("claim_to", w.ClaimTo); err != nil {
		return err
	}
	for _, opt := range []struct{ what, s string }{{"blocked", w.Blocked}, {"escalated", w.Escalated}} {
		if opt.s != "" {
			if err := known(opt.what, opt.s); err != nil {
				return err
			}
		}
	}
	gates := map[string]bool{}
	for _, g := range w.Gates {
		if g.Kind != "approval" && g.Kind != "check" {
			return bad(g.Name, "gate %q has kind %q (want approval or check)", g.Name, g.Kind)
		}
		if gates[g.Name] {
			return bad(g.Name, "gate %q declared twice", g.Name)
		}
		gates[g.Name] = true
	}
	for _, t := range w.Transitions {
		if !declared[t.To] {
			return bad(t.To, "transition from %s goes to %q, which is not a state (a transition to nowhere)", strings.Join(t.From, ", "), t.To)
		}
		if len(t.From) == 0 {
			return bad(t.To, "transition to %q has no from states", t.To)
		}
		for _, f := range t.From {
			if err := known("transition to "+t.To, f); err != nil {
				return err
			}
		}
		for _, r := range t.Roles {
			if r != "human" && r != "agent" && r != "daemon" {
				return bad(r, "transition to %q names unknown role %q", t.To, r)
			}
		}
		for _, g := range t.Gates {
			if !gates[g] {
				return bad(g, "transition to %q needs undeclared gate %q", t.To, g)
			}
		}
	}
	// Reachability from the initial state, through transitions, claims,
	// blocking and escalation.
	seen := map[string]bool{w.Initial: true}
	queue := []string{w.Initial}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		next := w.Next(s)
		if has(w.ClaimFrom, s) {
			next = append(next, w.ClaimTo)
		}
		if w.Escalated != "" && !w.IsFinal(s) {
			next = append(next, w.Escalated)
		}
		for _, n := range next {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	var unreachable []string
	for _, s := range w.States {
		if !seen[s] {
			unreachable = append(unreachable, s)
		}
	}
	if len(unreachable) > 0 {
		sort.Strings(unreachable)
		return bad(unreachable[0], "state(s) %s cannot be reached from %q", strings.Join(unreachable, ", "), w.Initial)
	}
	for _, s := range w.States {
		if !w.IsFinal(s) && s != w.Escalated && len(w.Next(s)) == 0 && !has(w.ClaimFrom, s) {
			return bad(s, "state %q is a dead end: no transition leaves it and it is not final", s)
		}
	}
	return nil
}
