package tasks

import (
	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/trust"
)

// MemState is an in-memory fold state with every family's records, used
// by verify to fold a whole history without touching the index.
type MemState struct {
	fold.MemRecords
	Tasks      map[string]*Task
	Actors     map[string]*trust.Actor
	Principals map[string]*trust.Principal
	Grants     map[string]*trust.Grant
}

// NewMemState returns an empty state.
func NewMemState() *MemState {
	return &MemState{Tasks: map[string]*Task{}, Actors: map[string]*trust.Actor{},
		Principals: map[string]*trust.Principal{}, Grants: map[string]*trust.Grant{}}
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

// Principal implements trust.State.
func (m *MemState) Principal(name string) (*trust.Principal, error) { return m.Principals[name], nil }

// PutPrincipal implements trust.State.
func (m *MemState) PutPrincipal(p *trust.Principal) error { m.Principals[p.Name] = p; return nil }

// Grant implements trust.State.
func (m *MemState) Grant(id string) (*trust.Grant, error) { return m.Grants[id], nil }

// PutGrant implements trust.State.
func (m *MemState) PutGrant(g *trust.Grant) error { m.Grants[g.ID] = g; return nil }
