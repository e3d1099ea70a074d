package covenant

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/budget"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/receipts"
	"github.com/git-covenant/git-covenant/trust"
)

// BudgetSubject resolves a budget's subject: "identity:<name>" and
// "task:<id or prefix>" as given, else a task id or prefix that resolves,
// else an identity name.
func (s *Service) BudgetSubject(ctx context.Context, arg string) (string, error) {
	kind, name, ok := strings.Cut(arg, ":")
	switch {
	case ok && kind == "identity":
		return arg, nil
	case ok && kind == "task":
		id, err := s.ResolveID(ctx, name)
		return "task:" + id, err
	case strings.HasPrefix(arg, "tk-"):
		id, err := s.ResolveID(ctx, arg)
		return "task:" + id, err
	}
	return "identity:" + arg, nil
}

// SetBudget writes a budget.set op.
func (s *Service) SetBudget(ctx context.Context, b budget.SetBody) (*budget.Budget, error) {
	if err := b.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if _, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: budget.OpSet, Body: b, Summary: fmt.Sprintf("budget %s per %s", b.Subject, b.Per)}}, nil
	}, nil); err != nil {
		return nil, err
	}
	bs, err := s.Budgets(ctx)
	if err != nil {
		return nil, err
	}
	for _, x := range bs {
		if x.Subject == b.Subject {
			return x, nil
		}
	}
	return nil, fmt.Errorf("budget %s was written but not folded", b.Subject)
}

// Budgets returns every folded budget, by subject.
func (s *Service) Budgets(ctx context.Context) ([]*budget.Budget, error) {
	out := []*budget.Budget{}
	err := s.EachRecord(ctx, budget.KindBudget, func(_ string, raw []byte) error {
		var b budget.Budget
		if err := json.Unmarshal(raw, &b); err != nil {
			return err
		}
		out = append(out, &b)
		return nil
	})
	return out, err
}

func (s *Service) receiptList(ctx context.Context) ([]receipts.Receipt, error) {
	rs, err := s.Runs(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []receipts.Receipt
	for _, r := range rs {
		out = append(out, receipts.FromRun(r)...)
	}
	return out, nil
}

// BudgetStatus is every budget's standing at now: spent is the sum of the
// receipts in its window.
func (s *Service) BudgetStatus(ctx context.Context, now time.Time) ([]budget.Status, error) {
	bs, err := s.Budgets(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := s.receiptList(ctx)
	if err != nil {
		return nil, err
	}
	return budget.Statuses(bs, rs, now), nil
}

// Allowance is what a run of identity on task may still use at now.
func (s *Service) Allowance(ctx context.Context, identity, task string, now time.Time) (*budget.Allowance, error) {
	bs, err := s.Budgets(ctx)
	if err != nil || len(bs) == 0 {
		return &budget.Allowance{}, err
	}
	rs, err := s.receiptList(ctx)
	if err != nil {
		return nil, err
	}
	a := budget.Allow(bs, rs, identity, task, now)
	return &a, nil
}

// PauseRun writes a budget.pause checkpoint (as a daemon identity) and
// returns it as folded.
func (s *Service) PauseRun(ctx context.Context, b budget.PauseBody) (*budget.Pause, error) {
	if err := b.Check(); err != nil {
		return nil, err
	}
	w, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: budget.OpPause, Body: b, Summary: fmt.Sprintf("pause %s on %s: %s", b.Run, b.Task, b.Reason)}}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	op := w.Entries[len(w.Entries)-1].Op
	return s.Checkpoint(ctx, budget.CheckpointID(op.Actor, op.Seq))
}

// Checkpoint returns a folded pause checkpoint.
func (s *Service) Checkpoint(ctx context.Context, id string) (*budget.Pause, error) {
	var p budget.Pause
	var ok bool
	err := s.read(ctx, func(ix *index.Index) (err error) {
		ok, err = records(ix).Record(budget.KindPause, id, &p)
		return err
	})
	if err == nil && !ok {
		err = oplog.Reject(oplog.KindNotFound, "no checkpoint %s", id)
	}
	return &p, err
}

// Checkpoints returns every pause checkpoint, oldest first.
func (s *Service) Checkpoints(ctx context.Context) ([]*budget.Pause, error) {
	out := []*budget.Pause{}
	err := s.EachRecord(ctx, budget.KindPause, func(_ string, raw []byte) error {
		var p budget.Pause
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		out = append(out, &p)
		return nil
	})
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].At.Before(out[j-1].At); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, err
}

// ResumeCheckpoint writes the budget.resume op of a checkpoint, once: a
// checkpoint this clone has seen resumed is refused (duplicate), by the
// same fold rule that makes the first resume by fold order win across
// clones.
func (s *Service) ResumeCheckpoint(ctx context.Context, id string) (*budget.Pause, error) {
	b := budget.ResumeBody{Checkpoint: id}
	if err := b.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if _, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: budget.OpResume, Body: b, Summary: "resume checkpoint " + id}}, nil
	}, nil); err != nil {
		return nil, err
	}
	return s.Checkpoint(ctx, id)
}
