package covenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// ErrQuestionNotFound means a task has no open question of that number or
// wording.
var ErrQuestionNotFound = errors.New("no such open question")

// AnswerRequest answers an open question of a task.
type AnswerRequest struct {
	Task string
	// Question is the open question's number (as task resume lists it) or
	// its exact wording.
	Question string
	Answer   string
}

// Answer records the answer to an open question, resolving its number to
// its wording against the state it is written on.
func (s *Service) Answer(ctx context.Context, req AnswerRequest) (*tasks.Task, error) {
	return s.taskOp(ctx, req.Task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		q := t.Question(req.Question)
		if q == nil {
			return Draft{}, fmt.Errorf("%w: task %s has no open question %q (task resume lists them)", ErrQuestionNotFound, t.ID, req.Question)
		}
		b := tasks.AnswerBody{Question: q.Text, Answer: req.Answer}
		if err := b.Check(); err != nil {
			return Draft{}, err
		}
		return Draft{Type: tasks.OpAnswer, Body: b, Epoch: heldEpoch(t, me, now), Summary: fmt.Sprintf("question %d: %s", q.N, req.Answer)}, nil
	})
}
