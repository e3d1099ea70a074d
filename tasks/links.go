package tasks

import (
	"strings"

	"github.com/git-covenant/git-covenant/oplog"
)

// link folds task.link: a typed edge, never a cycle of blocks or parent-of.
func (f *folder) link(t *Task, b *LinkBody) (string, []*Task, error) {
	if err := f.epochCurrent(t); err != nil {
		return "", nil, err
	}
	if b.Other == t.ID {
		return "", nil, oplog.Reject(oplog.KindIllegal, "a task cannot link to itself")
	}
	o, err := f.task(b.Other)
	if err != nil {
		return "", nil, err
	}
	for _, l := range t.Links {
		if l.Kind == b.Kind && l.Task == b.Other {
			return "", nil, oplog.Reject(oplog.KindDuplicate, "%s already %s %s", t.ID, b.Kind, b.Other)
		}
	}
	if b.Kind == "blocks" || b.Kind == "parent-of" {
		// Refuse a cycle: is t reachable from o along links of this kind?
		if path, err := f.reach(o.ID, t.ID, b.Kind); err != nil {
			return "", nil, err
		} else if path != nil {
			return "", nil, oplog.Reject(oplog.KindIllegal, "%s %s %s would make a cycle: %s", t.ID, b.Kind, o.ID, strings.Join(append(path, o.ID), " -> "))
		}
	}
	t.Links = append(t.Links, Link{Kind: b.Kind, Task: o.ID})
	o.LinkedFrom = append(o.LinkedFrom, Link{Kind: b.Kind, Task: t.ID})
	if b.Kind == "blocks" && !f.wf.IsFinal(t.State) {
		o.OpenBlockers++
	}
	return b.Kind + " " + o.ID, []*Task{o}, nil
}

// reach returns a path from one task to another along links of kind, or nil.
func (f *folder) reach(from, to, kind string) ([]string, error) {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if id == to {
			var path []string
			for cur := to; cur != ""; cur = prev[cur] {
				path = append([]string{cur}, path...)
			}
			return path, nil
		}
		t, err := f.st.Task(id)
		if err != nil {
			return nil, err
		}
		if t == nil {
			continue
		}
		for _, l := range t.Links {
			if _, seen := prev[l.Task]; l.Kind == kind && !seen {
				prev[l.Task] = id
				queue = append(queue, l.Task)
			}
		}
	}
	return nil, nil
}
