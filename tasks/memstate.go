package tasks

import "github.com/git-covenant/git-covenant/trust"

// MemState is an in-memory State, used by verify to fold a whole history
// without touching the index.
type MemState struct {
	Tasks  map[string]*Task
	Actors map[string]*trust.Actor
}

// NewMemState returns an empty state.
func NewMemState() *MemState {
	return &MemState{Tasks: map[string]*Task{}, Actors: map[string]*trust.Actor{}}
}

// Task implements State.
func (m *MemState) Task(id string) (*Task, error) { return m.Tasks[id], nil }

// PutTask implements State.
func (m *MemState) PutTask(t *Task) error { m.Tasks[t.ID] = t; return nil }

// Actor implements trust.Actors.
func (m *MemState) Actor(k string) (*trust.Actor, error) {
	if a, ok := m.Actors[k]; ok {
		return a, nil
	}
	return &trust.Actor{KeyID: k}, nil
}

// PutActor implements trust.Actors.
func (m *MemState) PutActor(a *trust.Actor) error { m.Actors[a.KeyID] = a; return nil }
