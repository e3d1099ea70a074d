package tasks

import "errors"

var (
	// ErrBadPriority means a priority is not one of Priorities.
	ErrBadPriority = errors.New("invalid priority")
	// ErrBadLabel means a label has characters outside the allowed set.
	ErrBadLabel = errors.New("invalid label")
	// ErrBadHandoff means a handoff artifact fails its schema.
	ErrBadHandoff = errors.New("invalid handoff")
	// ErrEmptyTitle means a task title is empty.
	ErrEmptyTitle = errors.New("task title is empty")
	// ErrBadInput means a value given for a task op is out of range.
	ErrBadInput = errors.New("invalid task input")
)
