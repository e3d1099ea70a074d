package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/git-covenant/git-covenant/covenant"
)

// call is one tool call being served.
type call struct {
	s    *server
	op   *op
	args *Args
	// Set by authorize for writes:
	who  string      // the identity acting
	task string      // the task's full id, "" for a claim of the top ready task
	bind *RunBinding // the run, when bound to one
}

// scopeError is a refusal for want of a scope; Scope names it.
type scopeError struct {
	Scope string
	msg   string
}

func (e *scopeError) Error() string { return e.msg }
func (e *scopeError) Unwrap() error { return ErrScope }

func refuse(scope, format string, a ...any) error {
	return &scopeError{Scope: scope, msg: fmt.Sprintf(format, a...)}
}

// authorize checks a write before anything happens: the front end's own
// scopes (Options.Authorize), for a run its token (live, this task, this
// lease epoch), and the acting identity's capability for the op's scope
// on the task, as the CLI's write path decides it.
func (c *call) authorize(ctx context.Context) error {
	s, o := c.s, c.op
	if s.opts.ReadOnly {
		return refuse(o.scope, "the server is read-only: %s needs %s", o.name, o.scope)
	}
	if s.opts.Authorize != nil && o.need == nil && o.scope != "" {
		if err := s.opts.Authorize(ctx, o.scope); err != nil {
			return err
		}
	}
	if s.opts.Run != nil {
		if err := c.bindRun(ctx); err != nil {
			return err
		}
	} else {
		a, err := s.svc.Actor("")
		if err != nil {
			return err
		}
		c.who = a.Name
		if c.args.Task != "" {
			if c.task, err = s.svc.ResolveID(ctx, c.args.Task); err != nil {
				return err
			}
		}
	}
	scopes := []string{o.scope}
	if o.need != nil {
		var err error
		if scopes, err = o.need(ctx, c); err != nil {
			return err
		}
	}
	task := c.task
	if task == "" && o.name == "claim" {
		// The top ready task this identity may claim: the scope is
		// checked on it, and it is the one claimed.
		if err := s.svc.ReadyFor(ctx, covenant.ReadyRequest{Label: c.args.Label, For: c.who}, func(raw []byte) error {
			var row struct {
				ID string `json:"id"`
			}
			if task == "" && json.Unmarshal(raw, &row) == nil {
				task = row.ID
			}
			return nil
		}); err != nil {
			return err
		}
		if task == "" {
			return refuse(o.scope, "%s may claim no ready task%s: its grants of %s cover none", c.who, withLabel(c.args.Label), o.scope)
		}
		c.task = task
	}
	// Any one of the scopes suffices; the refusal is the first one's.
	var first error
	for _, sc := range scopes {
		if o.need != nil && s.opts.Authorize != nil {
			if err := s.opts.Authorize(ctx, sc); err != nil {
				if _, ok := asScopeError(err); !ok && errors.Is(err, ErrScope) {
					err = &scopeError{Scope: sc, msg: err.Error()}
				}
				if first == nil {
					first = err
				}
				continue
			}
		}
		dec, err := s.base.CheckCapability(ctx, c.who, sc, task)
		if err != nil {
			return err
		}
		if dec.Allowed {
			return nil
		}
		if first == nil {
			on := ""
			if task != "" {
				on = " on " + task
			}
			first = refuse(sc, "%s may not %s%s: %s", c.who, o.name, on, dec.Reason)
		}
	}
	return first
}

func withLabel(l string) string {
	if l == "" {
		return ""
	}
	return " with label " + l
}

// runOps are the writes the daemon serves to a run.
var runOps = map[string]bool{"heartbeat": true, "comment": true, "move": true, "handoff": true, "budget_report": true}

// bindRun checks a run's call: its token is live, the call is on the
// run's task, and the task's lease is still the run's (holder and epoch).
func (c *call) bindRun(ctx context.Context) error {
	s, o := c.s, c.op
	b, err := s.opts.Run.Binding(ctx)
	if err != nil {
		return err
	}
	c.bind, c.who = b, b.Identity
	if o.name == "claim" {
		return fmt.Errorf("%w: the daemon claimed this run's task %s (lease epoch %d) for it", ErrNotInRun, b.Task, b.Epoch)
	}
	if !runOps[o.name] {
		return fmt.Errorf("%w: %s (a run may heartbeat, comment, move and hand off its own task, and report its usage)", ErrNotInRun, o.name)
	}
	c.task = b.Task
	if c.args.Task != "" {
		id, err := s.base.ResolveID(ctx, c.args.Task)
		if err != nil {
			return err
		}
		if id != b.Task {
			return refuse("task:"+id, "run %s is bound to task %s, not %s", b.Run, b.Task, id)
		}
	}
	t, err := s.base.Task(ctx, b.Task)
	if err != nil {
		return err
	}
	if l := t.Lease; l == nil || l.Holder != b.Identity || l.Epoch != b.Epoch {
		held := "no lease"
		if l != nil {
			held = fmt.Sprintf("lease epoch %d of %s", l.Epoch, l.Holder)
		}
		return refuse(fmt.Sprintf("lease:%s@%d", b.Task, b.Epoch), "run %s holds lease epoch %d of %s, the task has %s", b.Run, b.Epoch, b.Task, held)
	}
	return nil
}

// asScopeError returns the scope a refusal names.
func asScopeError(err error) (string, bool) {
	var se *scopeError
	if errors.As(err, &se) {
		return se.Scope, true
	}
	return "", false
}
