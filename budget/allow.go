package budget

import (
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/receipts"
)

// Status is one budget's standing at a time: its window, what was spent
// in it and what is left.
type Status struct {
	Subject   string    `json:"subject"`
	Task      string    `json:"task,omitempty"` // for an identity's per-task budget: the task spent on
	Per       string    `json:"per"`
	Limits    Amounts   `json:"limits"`
	Spent     Amounts   `json:"spent"`
	Remaining Amounts   `json:"remaining"`
	Exhausted []string  `json:"exhausted"` // dimensions with nothing left
	Window    time.Time `json:"window,omitempty"`
	RefillAt  time.Time `json:"refill_at,omitempty"`
}

// StatusOf is budget b's standing at now for a run on task ("" for none).
func StatusOf(b *Budget, rs []receipts.Receipt, task string, now time.Time) Status {
	start, end := Window(b.Per, now)
	var in []receipts.Receipt
	for i := range rs {
		if !Applies(b.Subject, b.Per, &rs[i], task) {
			continue
		}
		if !start.IsZero() {
			at, err := time.Parse(time.RFC3339, rs[i].At)
			if err != nil || at.Before(start) || !at.Before(end) {
				continue
			}
		}
		in = append(in, rs[i])
	}
	s := Status{Subject: b.Subject, Per: b.Per, Limits: b.Limits, Spent: Spent(in), Window: start, RefillAt: end}
	if strings.HasPrefix(b.Subject, "identity:") && b.Per == Task {
		s.Task = task
	}
	s.Remaining, s.Exhausted = Remaining(b.Limits, s.Spent)
	if s.Exhausted == nil {
		s.Exhausted = []string{}
	}
	return s
}

// Statuses is every budget's standing at now: an identity's per-task
// budget once per task it spent on (once with no task when none).
func Statuses(bs []*Budget, rs []receipts.Receipt, now time.Time) []Status {
	out := []Status{}
	for _, b := range bs {
		if b.Limits.Zero() {
			continue
		}
		if !(strings.HasPrefix(b.Subject, "identity:") && b.Per == Task) {
			out = append(out, StatusOf(b, rs, "", now))
			continue
		}
		name := strings.TrimPrefix(b.Subject, "identity:")
		seen := map[string]bool{}
		var ts []string
		for i := range rs {
			if rs[i].Payer == name && !seen[rs[i].Task] {
				seen[rs[i].Task] = true
				ts = append(ts, rs[i].Task)
			}
		}
		sort.Strings(ts)
		if len(ts) == 0 {
			ts = []string{""}
		}
		for _, t := range ts {
			out = append(out, StatusOf(b, rs, t, now))
		}
	}
	return out
}

// Allowance is what a run of an identity on a task may still use: per
// dimension, the least any applying budget has left.
type Allowance struct {
	// Limited says which dimensions some budget limits (Amounts order).
	Limited [4]bool
	// Left is what is left on each limited dimension.
	Left Amounts
	// Binding names, per dimension, the budget with the least left.
	Binding [4]string
	// RefillAt is, per dimension, when the binding budget refills (zero
	// for a per-task budget).
	RefillAt [4]time.Time
}

// Allow computes the allowance of a run of identity on task at now.
func Allow(bs []*Budget, rs []receipts.Receipt, identity, task string, now time.Time) Allowance {
	var a Allowance
	var left [4]int64
	for _, b := range bs {
		if b.Subject != "identity:"+identity && b.Subject != "task:"+task {
			continue
		}
		s := StatusOf(b, rs, task, now)
		lim, rem := b.Limits.dims(), s.Remaining.dims()
		for i := range lim {
			if lim[i] == 0 {
				continue
			}
			if !a.Limited[i] || rem[i] < left[i] {
				a.Limited[i], left[i], a.Binding[i], a.RefillAt[i] = true, rem[i], b.Subject, s.RefillAt
			}
		}
	}
	a.Left = fromDims(left)
	return a
}

// Exhausted returns the first limited dimension with nothing left, or -1.
func (a *Allowance) Exhausted() int {
	l := a.Left.dims()
	for i := range l {
		if a.Limited[i] && l[i] <= 0 {
			return i
		}
	}
	return -1
}

// Over returns the first limited dimension that used exceeds or reaches,
// or -1: a run that used this much must stop.
func (a *Allowance) Over(used Amounts) int {
	l, u := a.Left.dims(), used.dims()
	for i := range l {
		if a.Limited[i] && u[i] >= l[i] {
			return i
		}
	}
	return -1
}

// Any reports whether some budget limits the run.
func (a *Allowance) Any() bool { return a.Limited != [4]bool{} }
