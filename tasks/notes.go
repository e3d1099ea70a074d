package tasks

// handoff folds task.handoff: the artifact the next session resumes from.
func (f *folder) handoff(t *Task, b *Handoff) (string, []*Task, error) {
	if err := f.actingOn(t); err != nil {
		return "", nil, err
	}
	if err := f.open(t); err != nil {
		return "", nil, err
	}
	h := *b
	h.Op, h.By, h.At = f.e.Commit, &f.who, f.at
	f.vouch(t, append(append([]string(nil), h.Commits...), h.Head)...)
	t.Handoff = &h
	t.Handoffs++
	f.ask(t, h.Questions)
	if !h.KeepLease {
		f.endLease(t)
	}
	return h.Summary, nil, nil
}

// comment folds task.comment: anyone with the scope may comment, under the
// current epoch if they name one.
func (f *folder) comment(t *Task, b *CommentBody) (string, []*Task, error) {
	if err := f.epochCurrent(t); err != nil {
		return "", nil, err
	}
	t.Comments = append(t.Comments, Comment{Op: f.e.Commit, By: f.who, At: f.at, Text: b.Text})
	return b.Text, nil, nil
}
