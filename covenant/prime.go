package covenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Primer is what an agent needs to start working in this repository, in
// one short read: who it is and what it may do, the workflow and its
// gates, how to claim, heartbeat, commit, hand off and resume, the tasks
// it holds and the top of the ready queue. git covenant prime prints it.
type Primer struct {
	Identity *PrimeIdentity `json:"identity"` // nil: no identity in the keystore yet
	Workflow PrimeWorkflow  `json:"workflow"`
	Leased   []TaskBrief    `json:"leased"`     // tasks whose active lease it holds
	Ready    []TaskBrief    `json:"ready"`      // the top of the ready queue it may claim
	More     bool           `json:"more_ready"` // the queue holds more than Ready
	Steps    []Step         `json:"steps"`
	// Memories are long-term project memory and memories tagged with a
	// label of a task it holds, within PrimeMemoryTokens.
	Memories []PackMemory `json:"memories"`
}

// PrimeIdentity is the acting identity as the folded state knows it.
type PrimeIdentity struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	KeyID   string    `json:"key_id"`
	Root    bool      `json:"root"`    // a trust root: every scope
	Trusted bool      `json:"trusted"` // a root, or registered and neither revoked nor rotated out
	Grants  []Holding `json:"grants"`  // usable grants (roots need none)
}

// Holding is one usable grant of an identity.
type Holding struct {
	ID        string     `json:"id"`
	Scopes    []string   `json:"scopes"`
	Labels    []string   `json:"labels,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	UsesLeft  int        `json:"uses_left,omitempty"` // 0: unlimited
}

// PrimeWorkflow is the workflow in brief ('workflow show --json' has it in
// full): each transition one line, "from|from -> to [gate, gate] (role|role)".
type PrimeWorkflow struct {
	States      []string     `json:"states"`
	ClaimFrom   []string     `json:"claim_from"`
	Final       []string     `json:"final"`
	Transitions []string     `json:"transitions"`
	Gates       []tasks.Gate `json:"gates"`
}

// TransitionLine writes a transition on one line.
func TransitionLine(t tasks.Transition) string {
	s := strings.Join(t.From, "|") + " -> " + t.To
	if len(t.Gates) > 0 {
		s += " [" + strings.Join(t.Gates, ", ") + "]"
	}
	if len(t.Roles) > 0 {
		s += " (" + strings.Join(t.Roles, "|") + ")"
	}
	return s
}

// TaskBrief is a task in one line.
type TaskBrief struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	State     string     `json:"state"`
	Priority  string     `json:"priority"`
	Labels    []string   `json:"labels,omitempty"`
	Epoch     uint64     `json:"epoch,omitempty"`      // of the lease held
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // of the lease held
}

func brief(s *tasks.Summary, withLease bool) TaskBrief {
	b := TaskBrief{ID: s.ID, Title: s.Title, State: s.State, Priority: s.Priority}
	if len(s.Labels) > 0 {
		b.Labels = s.Labels
	}
	if withLease && s.Lease != nil {
		exp := s.Lease.ExpiresAt
		b.Epoch, b.ExpiresAt = s.Lease.Epoch, &exp
	}
	return b
}

// Step is one thing an agent does, and the command that does it.
type Step struct {
	Do  string `json:"do"`
	Run string `json:"run"`
}

// PrimeRequest asks for a primer; Ready bounds the ready tasks listed
// (0: 5).
type PrimeRequest struct {
	Ready int
}

// Prime builds the primer for the acting identity. Reading needs no
// identity: without one, the primer says how to get one.
func (s *Service) Prime(ctx context.Context, req PrimeRequest) (*Primer, error) {
	if req.Ready <= 0 {
		req.Ready = 5
	}
	wf, err := s.Workflow()
	if err != nil {
		return nil, err
	}
	p := &Primer{Leased: []TaskBrief{}, Ready: []TaskBrief{},
		Workflow: PrimeWorkflow{States: wf.States, ClaimFrom: wf.ClaimFrom, Final: wf.Final, Transitions: []string{}, Gates: wf.Gates}}
	for _, t := range wf.Transitions {
		p.Workflow.Transitions = append(p.Workflow.Transitions, TransitionLine(t))
	}
	me, err := s.Actor("")
	if err != nil && !errors.Is(err, identity.ErrNoIdentity) && !errors.Is(err, identity.ErrNotFound) {
		return nil, err
	}
	now := s.now()
	err = s.read(ctx, func(ix *index.Index) error {
		name := ""
		if me != nil {
			name = me.Name
			id, err := identityView(ix, me, now)
			if err != nil {
				return err
			}
			p.Identity = id
			err = ix.EachSummary(func(raw []byte) error {
				var sum tasks.Summary
				if err := json.Unmarshal(raw, &sum); err != nil {
					return err
				}
				if Holds(&sum, name, now) {
					p.Leased = append(p.Leased, brief(&sum, true))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return s.eachReadyFor(ix, ReadyRequest{For: name}, now, true, func(_ []byte, sum *tasks.Summary) (bool, error) {
			if len(p.Ready) == req.Ready {
				p.More = true
				return false, nil
			}
			p.Ready = append(p.Ready, brief(sum, false))
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	var labels []string
	for _, l := range p.Leased {
		labels = append(labels, l.Labels...)
	}
	if p.Memories, err = s.relevant(ctx, nil, labels, PrimeMemoryTokens); err != nil {
		return nil, err
	}
	p.Steps = primeSteps(wf, p.Identity)
	return p, nil
}

// identityView is an identity's standing: root, trusted, usable grants.
func identityView(ix *index.Index, me *Actor, now time.Time) (*PrimeIdentity, error) {
	st := ix.State()
	v := &PrimeIdentity{Name: me.Name, Role: string(me.Role), KeyID: me.KeyID, Grants: []Holding{}}
	a, err := st.Actor(me.KeyID)
	if err != nil {
		return nil, err
	}
	v.Root, v.Trusted = a.Root, a.Trusted()
	pr, err := st.Principal(me.Name)
	if err != nil || pr == nil || v.Root || !v.Trusted {
		return v, err
	}
	for _, gid := range pr.Grants {
		g, err := st.Grant(gid)
		if err != nil {
			return nil, err
		}
		if g == nil || g.Revoked != nil || (g.ExpiresAt != nil && !now.Before(*g.ExpiresAt)) || (g.MaxUses > 0 && g.Uses >= g.MaxUses) {
			continue
		}
		h := Holding{ID: g.ID, Scopes: g.Scopes, Labels: g.Labels, ExpiresAt: g.ExpiresAt}
		if g.MaxUses > 0 {
			h.UsesLeft = g.MaxUses - g.Uses
		}
		v.Grants = append(v.Grants, h)
	}
	return v, nil
}

// primeSteps is the how-to, with this workflow's names in it.
func primeSteps(wf *tasks.Workflow, me *PrimeIdentity) []Step {
	var steps []Step
	if me == nil {
		steps = append(steps, Step{"get an identity (then an admin registers the key it prints)", "git covenant id new <name> --role agent && git covenant id show <name>"})
	} else if !me.Trusted {
		steps = append(steps, Step{"have an admin register your key", "git covenant id register " + me.Name + " --role " + me.Role + " --key '<git covenant id show " + me.Name + ">' --grant task.claim ..."})
	}
	var gates []string
	for _, g := range wf.Gates {
		if g.Kind == "check" {
			gates = append(gates, g.Name)
		}
	}
	check := "git covenant task check <id> --gate <gate> -- <command>"
	if len(gates) > 0 {
		check = "git covenant task check <id> --gate " + gates[0] + " -- <command>"
	}
	return append(steps,
		Step{"claim a task under a lease (no id: the top of the ready queue; --via origin: a claim no other clone can also win)", "git covenant task start [<id>] --ttl 2h"},
		Step{"keep the lease before it expires (after expiry others may claim; your later ops are refused)", "git covenant task heartbeat <id> --ttl 2h"},
		Step{"name the task and lease in every commit (git covenant hooks install adds them)", "git commit -m '<subject>' -m 'Covenant-Task: <id>' -m 'Covenant-Lease: <epoch>'"},
		Step{"record evidence for a check gate", check},
		Step{"move the task on (task resume lists the allowed moves and what their gates need)", "git covenant task move <id> <state> --note <text>"},
		Step{"hand off: summary, next steps, open questions, pinned files; releases the lease unless --keep-lease", "git covenant task handoff <id> --summary <text> --next <step> --question <q> --file <path> --validation passed"},
		Step{"answer an open question (any identity that may comment)", "git covenant task answer <id> <n> <answer>"},
		Step{"ask a human (credentials, destructive, production, decision)", "git covenant task escalate <id> --kind decision --reason <text>"},
		Step{"continue a task from repository state alone", "git covenant task resume <id>"},
		Step{"share your ops and get others'", "git covenant sync"},
	)
}

// Holds reports whether the named identity holds the task's lease at now.
func Holds(s *tasks.Summary, name string, now time.Time) bool {
	return name != "" && s.Lease.HeldBy(name) && s.Lease.ActiveAt(now)
}

// ReadyRequest filters the ready queue.
type ReadyRequest struct {
	Label string // only tasks with this label
	// For names an identity: only tasks it may claim now (its grants'
	// task.claim scope covers the task's labels). "" lists every task.
	For string
}

// ReadyFor calls fn with each ready task's JSON row (see Ready), keeping
// only those req allows.
func (s *Service) ReadyFor(ctx context.Context, req ReadyRequest, fn func(raw []byte) error) error {
	now := s.now()
	return s.read(ctx, func(ix *index.Index) error {
		if req.For != "" {
			p, err := ix.State().Principal(req.For)
			if err != nil {
				return err
			}
			if p == nil {
				return fmt.Errorf("%w: %s is not an identity of this repository", identity.ErrNotFound, req.For)
			}
		}
		return s.eachReadyFor(ix, req, now, false, func(raw []byte, _ *tasks.Summary) (bool, error) {
			return true, fn(raw)
		})
	})
}

// eachReadyFor walks the ready queue in order. A row kept is decoded (sum
// non nil) only when needSum is set or req.For needs its labels: decoding
// every row cost half of `task ready` at 100,000 tasks.
func (s *Service) eachReadyFor(ix *index.Index, req ReadyRequest, now time.Time, needSum bool, fn func([]byte, *tasks.Summary) (bool, error)) error {
	st := ix.State()
	var who *trust.Actor
	if req.For != "" {
		p, err := st.Principal(req.For)
		if err != nil || p == nil {
			return err
		}
		if p.Revoked != nil {
			return nil
		}
		if who, err = st.Actor(p.Key); err != nil {
			return err
		}
	}
	return ix.EachReady(func(until int64, raw []byte) (bool, error) {
		ok, err := readyFilter(until, raw, req.Label, now)
		if err != nil || !ok {
			return true, err
		}
		if who == nil && !needSum {
			return fn(raw, nil)
		}
		var sum tasks.Summary
		if err := json.Unmarshal(raw, &sum); err != nil {
			return false, err
		}
		if who != nil {
			if !who.Trusted() {
				return false, nil
			}
			if _, err := trust.Find(st, who, trust.Need{Scope: trust.ScopeTaskClaim, Labels: sum.Labels}, now); err != nil {
				if _, isRej := IsRejection(err); isRej {
					return true, nil
				}
				return false, err
			}
		}
		return fn(raw, &sum)
	})
}

// MineFilter returns a test for task list rows: does the acting identity
// hold the task's lease now (task list --mine)?
func (s *Service) MineFilter() (func(*tasks.Summary) bool, error) {
	me, err := s.Actor("")
	if err != nil {
		return nil, err
	}
	now := s.now()
	return func(sum *tasks.Summary) bool { return Holds(sum, me.Name, now) }, nil
}
