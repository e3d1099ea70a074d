package tasks

import (
	"fmt"
	"strings"

	"github.com/git-covenant/git-covenant/oplog"
)

// gate finds a gate of the workflow by name and kind.
func (f *folder) gate(name, kind string) (*Gate, error) {
	g, ok := f.wf.Gate(name)
	if !ok {
		names := []string{}
		for _, g := range f.wf.Gates {
			names = append(names, g.Name)
		}
		return nil, oplog.Reject(oplog.KindInvalidBody, "no gate %q in the workflow (gates: %s)", name, strings.Join(names, ", "))
	}
	if g.Kind != kind {
		return nil, oplog.Reject(oplog.KindInvalidBody, "gate %q is a %s gate", name, g.Kind)
	}
	return g, nil
}

// gateOnOpenTask is what a verdict or evidence for a gate needs: the gate
// exists with that kind, the op's epoch is the task's current one, and the
// task is still open.
func (f *folder) gateOnOpenTask(t *Task, name, kind string) (*Gate, error) {
	g, err := f.gate(name, kind)
	if err != nil {
		return nil, err
	}
	if err := f.epochCurrent(t); err != nil {
		return nil, err
	}
	if err := f.open(t); err != nil {
		return nil, err
	}
	return g, nil
}

// review folds task.review: a verdict for an approval gate.
func (f *folder) review(t *Task, b *ReviewBody) (string, []*Task, error) {
	g, err := f.gateOnOpenTask(t, b.Gate, "approval")
	if err != nil {
		return "", nil, err
	}
	rec := &GateRecord{Gate: g.Name, Kind: g.Kind, Op: f.e.Commit, By: f.who, At: f.at, Verdict: b.Verdict, Note: b.Note, Satisfied: b.Verdict == "approve"}
	if rec.Satisfied && g.Independent && has(t.Implementers, f.who.Name) {
		rec.Satisfied = false
		rec.Reason = f.who.Name + " worked on the task; " + g.Name + " needs approval by someone else"
	}
	t.Gates[g.Name] = rec
	return b.Gate + " " + b.Verdict + ": " + b.Note, nil, nil
}

// check folds task.check: recorded evidence of a command for a check gate.
func (f *folder) check(t *Task, b *CheckBody) (string, []*Task, error) {
	g, err := f.gateOnOpenTask(t, b.Gate, "check")
	if err != nil {
		return "", nil, err
	}
	c := b.Evidence
	f.vouch(t, c.Head)
	t.Gates[g.Name] = &GateRecord{Gate: g.Name, Kind: g.Kind, Op: f.e.Commit, By: f.who, At: f.at, Check: &c, Satisfied: c.ExitCode == 0}
	return fmt.Sprintf("%s: %s exited %d in %dms", b.Gate, strings.Join(c.Command, " "), c.ExitCode, c.DurationMS), nil, nil
}
