package budget

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/receipts"
	"github.com/git-covenant/git-covenant/tasks"
)

// Op types this package folds.
const (
	OpSet    = "budget.set"
	OpPause  = "budget.pause"
	OpResume = "budget.resume"
)

// Record kinds, in fold.Records.
const (
	KindBudget = "budget"       // by subject
	KindPause  = "budget-pause" // by checkpoint id
)

// Periods a budget refills over.
const (
	Hour = "hour"
	Day  = "day"
	Task = "task" // per task: never refills
)

// Pause reasons.
const (
	Exhausted   = "budget_exhausted"
	Operator    = "operator"
	Shutdown    = "shutdown"
	Maintenance = "maintenance"
)

// Reasons lists every pause reason.
var Reasons = []string{Exhausted, Operator, Shutdown, Maintenance}

var (
	// ErrBadBudget means a budget or checkpoint body is out of range.
	ErrBadBudget = errors.New("invalid budget")
	// ErrExhausted means a run may not start or go on: a budget that
	// applies to it has nothing left.
	ErrExhausted = errors.New("budget exhausted")
	// ErrResumed means a checkpoint was resumed already.
	ErrResumed = errors.New("checkpoint resumed already")
)

// Amounts are quantities of the four budgeted dimensions; in limits, 0
// means no limit on that dimension.
type Amounts struct {
	WallMS  int64 `json:"wall_ms,omitempty"`
	CPUMS   int64 `json:"cpu_ms,omitempty"`
	Tokens  int64 `json:"tokens,omitempty"`
	Credits int64 `json:"credits,omitempty"`
}

func (a Amounts) dims() [4]int64 { return [4]int64{a.WallMS, a.CPUMS, a.Tokens, a.Credits} }

func fromDims(d [4]int64) Amounts {
	return Amounts{WallMS: d[0], CPUMS: d[1], Tokens: d[2], Credits: d[3]}
}

// DimNames names the dimensions in Amounts order.
var DimNames = [4]string{"wall", "cpu", "tokens", "credits"}

func (a Amounts) negative() bool {
	for _, v := range a.dims() {
		if v < 0 {
			return true
		}
	}
	return false
}

// Zero reports whether every amount is 0.
func (a Amounts) Zero() bool { return a == Amounts{} }

// SetBody is the body of budget.set. A later set for the same subject
// replaces the earlier; all-zero limits remove the budget.
type SetBody struct {
	// Subject is "identity:<name>" or "task:<task id>".
	Subject string  `json:"subject"`
	Limits  Amounts `json:"limits"`
	Per     string  `json:"per"`
}

// Check validates the body on its own.
func (b *SetBody) Check() error {
	kind, name, ok := strings.Cut(b.Subject, ":")
	switch {
	case !ok || (kind != "identity" && kind != "task") || name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\n"):
		return fmt.Errorf("%w: subject %q (want identity:<name> or task:<id>)", ErrBadBudget, b.Subject)
	case b.Per != Hour && b.Per != Day && b.Per != Task:
		return fmt.Errorf("%w: per %q (want hour, day or task)", ErrBadBudget, b.Per)
	case b.Limits.negative():
		return fmt.Errorf("%w: negative limits", ErrBadBudget)
	}
	return nil
}

// Budget is the folded state of one subject's budget.
type Budget struct {
	SetBody
	By tasks.Ref `json:"by"`
	At time.Time `json:"at"`
	Op string    `json:"op"`
}

// Window is the budget's current window at now: [start, end); for per
// task, from the zero time with no end.
func Window(per string, now time.Time) (start, end time.Time) {
	now = now.UTC()
	switch per {
	case Hour:
		start = now.Truncate(time.Hour)
		return start, start.Add(time.Hour)
	case Day:
		start = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	}
	return time.Time{}, time.Time{}
}

// Applies reports whether a receipt counts against a budget of subject
// for a run of identity on task (task "" when none is in view).
func Applies(subject, per string, r *receipts.Receipt, task string) bool {
	kind, name, _ := strings.Cut(subject, ":")
	switch {
	case kind == "task":
		return r.Task == name
	case r.Payer != name:
		return false
	case per == Task:
		return task != "" && r.Task == task
	}
	return true
}

// Spent sums receipts into amounts.
func Spent(rs []receipts.Receipt) Amounts {
	var a Amounts
	for i := range rs {
		switch rs[i].Unit {
		case receipts.WallMS:
			a.WallMS += rs[i].Units
		case receipts.CPUMS:
			a.CPUMS += rs[i].Units
		case receipts.Tokens:
			a.Tokens += rs[i].Units
		}
		a.Credits += rs[i].Credits
	}
	return a
}

// Remaining is limits minus spent on each limited dimension (never below
// 0), and 0 where unlimited; Limited says which are limited.
func Remaining(limits, spent Amounts) (rem Amounts, exhausted []string) {
	l, s := limits.dims(), spent.dims()
	var r [4]int64
	for i := range l {
		if l[i] == 0 {
			continue
		}
		r[i] = max(0, l[i]-s[i])
		if r[i] == 0 {
			exhausted = append(exhausted, DimNames[i])
		}
	}
	return fromDims(r), exhausted
}

// PauseBody is the body of budget.pause: the checkpoint a stopped run
// leaves. The handoff to resume from is the task's handoff number
// Handoff (its count of handoffs after the run gave its lease back) on
// Branch at Head.
type PauseBody struct {
	Task      string  `json:"task"`
	Run       string  `json:"run"`
	Agent     string  `json:"agent"`
	Manifest  string  `json:"manifest"`
	Reason    string  `json:"reason"`
	Subject   string  `json:"subject,omitempty"` // the budget that ran out, for budget_exhausted
	Requested Amounts `json:"requested"`         // what the run had used when it was stopped
	Remaining Amounts `json:"remaining"`         // what the budget had left when the run started
	RefillAt  string  `json:"refill_at,omitempty"`
	Handoff   int     `json:"handoff"`
	Branch    string  `json:"branch,omitempty"`
	Head      string  `json:"head,omitempty"`
}

// Check validates the body on its own.
func (b *PauseBody) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadBudget, fmt.Sprintf(format, args...))
	}
	switch {
	case !has(Reasons, b.Reason):
		return bad("reason %q (want %s)", b.Reason, strings.Join(Reasons, ", "))
	case b.Task == "" || b.Agent == "" || b.Manifest == "" || b.Run == "":
		return bad("a checkpoint names its task, run, agent and manifest")
	case b.Requested.negative() || b.Remaining.negative() || b.Handoff < 0:
		return bad("negative amounts")
	case b.Reason == Exhausted && b.Subject == "":
		return bad("a budget_exhausted checkpoint names its budget")
	}
	if b.RefillAt != "" {
		if _, err := time.Parse(time.RFC3339, b.RefillAt); err != nil {
			return bad("refill_at %q is not an RFC 3339 time", b.RefillAt)
		}
	}
	return nil
}

// ResumeBody is the body of budget.resume.
type ResumeBody struct {
	Checkpoint string `json:"checkpoint"`
}

// Check validates the body on its own.
func (b *ResumeBody) Check() error {
	if !strings.HasPrefix(b.Checkpoint, "pc-") || len(b.Checkpoint) != 15 {
		return fmt.Errorf("%w: checkpoint %q (want pc- and 12 hex digits)", ErrBadBudget, b.Checkpoint)
	}
	return nil
}

// Pause is the folded state of a checkpoint.
type Pause struct {
	ID string `json:"id"`
	PauseBody
	By      tasks.Ref `json:"by"`
	At      time.Time `json:"at"`
	Op      string    `json:"op"`
	Resumed *Resumed  `json:"resumed,omitempty"`
}

// Resumed is the one resume a checkpoint had.
type Resumed struct {
	Op string    `json:"op"`
	By tasks.Ref `json:"by"`
	At time.Time `json:"at"`
}

// CheckpointID derives a checkpoint's id from its op's actor and seq.
func CheckpointID(actor string, seq uint64) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("covenant-pause\x00%s\x00%d", actor, seq)))
	return "pc-" + hex.EncodeToString(sum[:])[:12]
}

func has(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
