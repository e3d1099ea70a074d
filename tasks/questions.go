package tasks

import (
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/oplog"
)

// OpAnswer answers an open question of a task.
const OpAnswer = "task.answer"

// Question is a question asked in a handoff. It stays open, across later
// handoffs, until a task.answer answers it.
type Question struct {
	N          int        `json:"n"` // 1-based, in the order first asked; never renumbered
	Text       string     `json:"text"`
	By         Ref        `json:"by"`
	At         time.Time  `json:"at"`
	Answer     string     `json:"answer,omitempty"`
	AnsweredBy *Ref       `json:"answered_by,omitempty"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
}

// Open reports whether the question still waits for an answer.
func (q *Question) Open() bool { return q.AnsweredBy == nil }

// OpenQuestions returns the task's unanswered questions, in the order asked.
func (t *Task) OpenQuestions() []Question {
	out := []Question{}
	for _, q := range t.Questions {
		if q.Open() {
			out = append(out, q)
		}
	}
	return out
}

// Question returns the open question numbered n or worded text, if any.
func (t *Task) Question(nOrText string) *Question {
	for i := range t.Questions {
		q := &t.Questions[i]
		if q.Open() && (q.Text == nOrText || fmt.Sprint(q.N) == nOrText) {
			return q
		}
	}
	return nil
}

// ask records the questions of a handoff; one still open with the same
// wording is not asked twice.
func (f *folder) ask(t *Task, questions []string) {
	for _, text := range questions {
		if q := t.Question(text); q != nil && q.Text == text {
			continue
		}
		t.Questions = append(t.Questions, Question{N: len(t.Questions) + 1, Text: text, By: f.who, At: f.at})
	}
}

// AnswerBody is the body of task.answer: the open question, by its exact
// wording, and the answer.
type AnswerBody struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Check requires both, each at most 16 KiB.
func (b *AnswerBody) Check() error {
	if strings.TrimSpace(b.Question) == "" || strings.TrimSpace(b.Answer) == "" {
		return fmt.Errorf("%w: an answer names the question and gives the answer", ErrBadInput)
	}
	if len(b.Question) > 16<<10 || len(b.Answer) > 16<<10 {
		return fmt.Errorf("%w: a question or answer is longer than 16 KiB", ErrBadInput)
	}
	return nil
}

// answer folds task.answer: anyone who may comment may answer an open
// question, under the current epoch if they name one.
func (f *folder) answer(t *Task, b *AnswerBody) (string, []*Task, error) {
	if err := f.epochCurrent(t); err != nil {
		return "", nil, err
	}
	var q *Question
	for i := range t.Questions {
		if t.Questions[i].Open() && t.Questions[i].Text == b.Question {
			q = &t.Questions[i]
		}
	}
	if q == nil {
		return "", nil, oplog.Reject(oplog.KindNotFound, "task %s has no open question %q", t.ID, b.Question)
	}
	who, at := f.who, f.at
	q.Answer, q.AnsweredBy, q.AnsweredAt = b.Answer, &who, &at
	return fmt.Sprintf("answered question %d: %s", q.N, b.Answer), nil, nil
}
