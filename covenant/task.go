package covenant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/redact"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// DefaultTTL is the lease length when none is given.
const DefaultTTL = 2 * time.Hour

// ErrBadInput means a value given by the user is out of range.
var ErrBadInput = errors.New("invalid input")

// CreateTask writes a task.create op and returns the new task as folded.
// The body's Check, the one the fold runs, refuses bad input before
// anything else.
func (s *Service) CreateTask(ctx context.Context, b tasks.CreateBody) (*tasks.Task, error) {
	if err := b.Check(); err != nil {
		return nil, err
	}
	w, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: tasks.OpCreate, NewTask: true, Body: b, Summary: b.Title}}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return w.Task(w.Entries[0].Op.Task), nil
}

// ResolveID turns an id or unique prefix into a full task id.
func (s *Service) ResolveID(ctx context.Context, idOrPrefix string) (string, error) {
	t, err := s.Task(ctx, idOrPrefix)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// Task returns one task by id or unique prefix.
func (s *Service) Task(ctx context.Context, idOrPrefix string) (*tasks.Task, error) {
	var t *tasks.Task
	err := s.read(ctx, func(ix *index.Index) (err error) {
		t, err = ix.Task(idOrPrefix)
		return err
	})
	return t, err
}

// taskOp writes one op on an existing task (named by id or prefix),
// computed by plan from its state, and returns the task as folded.
func (s *Service) taskOp(ctx context.Context, idOrPrefix string, plan func(tx *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error)) (*tasks.Task, error) {
	w, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		id, err := tx.ResolveTask(idOrPrefix)
		if err != nil {
			return nil, err
		}
		t, err := tx.Task(id)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, fmt.Errorf("%w: %s", index.ErrNotFound, id)
		}
		d, err := plan(tx, t, me, s.now())
		if err != nil {
			return nil, err
		}
		d.Task = id
		return []Draft{d}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return w.Tasks[0], nil
}

// heldEpoch is the epoch to act under: the lease's if the actor holds an
// active one, else none.
func heldEpoch(t *tasks.Task, me *trust.Actor, now time.Time) uint64 {
	if t.Lease.HeldBy(me.Name) && t.Lease.ActiveAt(now) {
		return t.Lease.Epoch
	}
	return 0
}

// StartRequest asks to claim a task under a lease.
type StartRequest struct {
	// Task is an id or unique prefix; "" claims the top of the ready queue.
	Task string
	// Label, without Task, only takes a ready task with this label.
	Label string
	// TTL is the lease length; 0 means DefaultTTL.
	TTL time.Duration
	// Via names a remote: the claim is kept only if its lease marker can
	// be pushed there first (see StartTaskVia). Needs Task.
	Via string
}

// StartTask claims a task under a lease, records it as the task this
// working tree works on, and returns the task as folded.
func (s *Service) StartTask(ctx context.Context, req StartRequest) (*tasks.Task, error) {
	if req.TTL == 0 {
		req.TTL = DefaultTTL
	}
	if err := checkTTL(req.TTL); err != nil {
		return nil, err
	}
	var t *tasks.Task
	var err error
	switch {
	case req.Task == "" && req.Via != "":
		return nil, fmt.Errorf("%w: --via needs a task id", ErrBadInput)
	case req.Task == "":
		t, err = s.startNext(ctx, req.Label, req.TTL)
	case req.Label != "":
		return nil, fmt.Errorf("%w: a label only applies without a task id", ErrBadInput)
	case req.Via != "":
		t, err = s.startVia(ctx, req.Task, req.TTL, req.Via)
	default:
		t, err = s.taskOp(ctx, req.Task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
			return claimDraft(t, req.TTL), nil
		})
	}
	if err != nil {
		return nil, err
	}
	return t, s.setCurrent(t)
}

func claimDraft(t *tasks.Task, ttl time.Duration) Draft {
	return Draft{Type: tasks.OpClaim, Task: t.ID, Epoch: t.Epoch + 1, Body: tasks.ClaimBody{TTLSeconds: int64(ttl / time.Second)}, Summary: t.Title}
}

// HandoffRequest records a handoff on a task.
type HandoffRequest struct {
	Task    string
	Handoff tasks.Handoff
	// Files are working-tree paths (relative to its top) to pin to
	// their blobs, added to Handoff.Files.
	Files []string
}

// HandoffTask records a handoff artifact: the files pinned, the commits
// made under the task and HEAD filled in, checked against its schema.
func (s *Service) HandoffTask(ctx context.Context, req HandoffRequest) (*tasks.Task, error) {
	h := req.Handoff
	for _, p := range req.Files {
		fr, err := s.pinFile("handoff --file", p)
		if errors.Is(err, redact.ErrSecret) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%w: --file %s: %v", ErrBadInput, p, err)
		}
		h.Files = append(h.Files, fr)
	}
	t, err := s.Task(ctx, req.Task)
	if err != nil {
		return nil, err
	}
	commits, err := s.taskCommits(ctx, t)
	if err != nil {
		return nil, err
	}
	for _, ci := range commits {
		h.Commits = append(h.Commits, ci.Hash)
	}
	if h.Head, h.Branch, err = s.headInfo(); err != nil {
		return nil, err
	}
	if err := h.Check(); err != nil {
		return nil, err
	}
	return s.taskOp(ctx, t.ID, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpHandoff, Epoch: heldEpoch(t, me, now), Body: h, Summary: h.Summary}, nil
	})
}

// MoveRequest moves a task to another workflow state; To "" means the
// workflow's success state.
type MoveRequest struct {
	Task string
	To   string
	Note string
}

// MoveTask moves a task to another workflow state.
func (s *Service) MoveTask(ctx context.Context, req MoveRequest) (*tasks.Task, error) {
	wf, err := s.Workflow()
	if err != nil {
		return nil, err
	}
	to := req.To
	if to == "" {
		to = wf.Done()
	}
	if !contains(wf.States, to) {
		return nil, fmt.Errorf("%w: %q is not a state of the workflow (states: %s)", ErrBadInput, to, strings.Join(wf.States, ", "))
	}
	return s.taskOp(ctx, req.Task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpMove, Epoch: heldEpoch(t, me, now), Body: tasks.MoveBody{To: to, Note: req.Note}, Summary: t.State + " -> " + to}, nil
	})
}

// LeaseRequest names a task and a lease length (heartbeat).
type LeaseRequest struct {
	Task string
	TTL  time.Duration // 0 means DefaultTTL
}

// Heartbeat extends the actor's lease on a task.
func (s *Service) Heartbeat(ctx context.Context, req LeaseRequest) (*tasks.Task, error) {
	ttl := req.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if err := checkTTL(ttl); err != nil {
		return nil, err
	}
	return s.taskOp(ctx, req.Task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		if heldEpoch(t, me, now) == 0 {
			return Draft{}, noLease(t, me, now)
		}
		return Draft{Type: tasks.OpHeartbeat, Epoch: t.Lease.Epoch, Body: tasks.ClaimBody{TTLSeconds: int64(ttl / time.Second)}, Summary: t.Title}, nil
	})
}

// Release gives the actor's lease back.
func (s *Service) Release(ctx context.Context, task string) (*tasks.Task, error) {
	return s.taskOp(ctx, task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		if heldEpoch(t, me, now) == 0 {
			return Draft{}, noLease(t, me, now)
		}
		return Draft{Type: tasks.OpRelease, Epoch: t.Lease.Epoch, Body: struct{}{}, Summary: t.Title}, nil
	})
}

// ErrNeverClaimed means the actor acted under a lease on a task it never
// claimed (as opposed to a lease it held that is gone).
var ErrNeverClaimed = errors.New("you never claimed it")

// noLease explains why the actor holds no lease it could act under: the
// task is leased to someone else, the actor's own lease expired or was
// given up, or the actor never claimed the task.
func noLease(t *tasks.Task, me *trust.Actor, now time.Time) error {
	switch {
	case t.Lease != nil && !t.Lease.HeldBy(me.Name) && t.Lease.ActiveAt(now):
		return oplog.Reject(oplog.KindLeaseHeld, "task %s is leased to %s (epoch %d) until %s", t.ID, t.Lease.Holder, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339))
	case t.Lease != nil && t.Lease.HeldBy(me.Name):
		return oplog.Reject(oplog.KindLeaseExpired, "your lease on %s (epoch %d) expired at %s", t.ID, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339))
	case contains(t.Implementers, me.Name):
		return oplog.Reject(oplog.KindLeaseExpired, "you hold no lease on %s any more (it was released, handed off or taken over)", t.ID)
	default:
		return fmt.Errorf("you hold no lease on %s: %w", t.ID, ErrNeverClaimed)
	}
}

// LinkRequest links one task to another.
type LinkRequest struct {
	Task  string
	Kind  string // one of tasks.LinkKinds
	Other string
}

// LinkTasks records that one task blocks, parents, relates to or was
// discovered from another.
func (s *Service) LinkTasks(ctx context.Context, req LinkRequest) (*tasks.Task, error) {
	b := tasks.LinkBody{Kind: req.Kind, Other: req.Other}
	if err := b.Check(); err != nil {
		return nil, err
	}
	return s.taskOp(ctx, req.Task, func(tx *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		other, err := tx.ResolveTask(req.Other)
		if err != nil {
			return Draft{}, err
		}
		if other == t.ID {
			return Draft{}, fmt.Errorf("%w: a task cannot link to itself", ErrBadInput)
		}
		b.Other = other
		return Draft{Type: tasks.OpLink, Body: b, Summary: req.Kind + " " + other}, nil
	})
}

// ReviewRequest records a verdict on an approval gate.
type ReviewRequest struct {
	Task    string
	Gate    string
	Verdict string // approve or reject
	Note    string
}

// Review records an approval or rejection for an approval gate.
func (s *Service) Review(ctx context.Context, req ReviewRequest) (*tasks.Task, error) {
	b := tasks.ReviewBody{Gate: req.Gate, Verdict: req.Verdict, Note: req.Note}
	if err := b.Check(); err != nil {
		return nil, err
	}
	wf, err := s.Workflow()
	if err != nil {
		return nil, err
	}
	g, _ := wf.Gate(req.Gate)
	return s.taskOp(ctx, req.Task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		// An approval that can never open an independent gate is refused,
		// not recorded: the fold would not count it at the move.
		if g != nil && g.Kind == "approval" && g.Independent && req.Verdict == "approve" && contains(t.Implementers, me.Name) {
			return Draft{}, oplog.Reject(oplog.KindNotIndependent, "%s held the lease on %s, so its approval cannot satisfy %s, which needs someone who never did", me.Name, t.ID, req.Gate)
		}
		return Draft{Type: tasks.OpReview, Body: b, Summary: req.Gate + " " + req.Verdict}, nil
	})
}

// CheckRequest records the evidence of a command run for a check gate.
type CheckRequest struct {
	Task   string
	Gate   string
	Check  tasks.Check
	Output []byte // rides along as the artifact output.txt
}

// RecordCheck records the evidence of a command run for a check gate, with
// its output as an artifact. An empty Check.Head is filled with HEAD.
func (s *Service) RecordCheck(ctx context.Context, req CheckRequest) (*tasks.Task, error) {
	if req.Check.Head == "" {
		req.Check.Head, _, _ = s.headInfo()
	}
	return s.taskOp(ctx, req.Task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpCheck, Epoch: heldEpoch(t, me, now), Body: tasks.CheckBody{Gate: req.Gate, Evidence: req.Check},
			Summary: fmt.Sprintf("%s exit %d", req.Gate, req.Check.ExitCode), Artifacts: map[string][]byte{"output.txt": req.Output}}, nil
	})
}

// EscalateRequest asks a human for something.
type EscalateRequest struct {
	Task   string
	Kind   string // one of tasks.EscalationKinds
	Reason string
}

// Escalate moves a task to the escalated state, recording what is needed.
func (s *Service) Escalate(ctx context.Context, req EscalateRequest) (*tasks.Task, error) {
	b := tasks.EscalateBody{Kind: req.Kind, Reason: req.Reason}
	if err := b.Check(); err != nil {
		return nil, err
	}
	return s.taskOp(ctx, req.Task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpEscalate, Epoch: heldEpoch(t, me, now), Body: b, Summary: req.Kind}, nil
	})
}

// Resolve answers an escalation (human identities only).
func (s *Service) Resolve(ctx context.Context, task, decision string) (*tasks.Task, error) {
	b := tasks.ResolveBody{Decision: decision}
	if err := b.Check(); err != nil {
		return nil, err
	}
	return s.taskOp(ctx, task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpResolve, Body: b, Summary: decision}, nil
	})
}

// Comment adds a comment to a task.
func (s *Service) Comment(ctx context.Context, task, text string) (*tasks.Task, error) {
	b := tasks.CommentBody{Text: text}
	if err := b.Check(); err != nil {
		return nil, err
	}
	return s.taskOp(ctx, task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpComment, Body: b, Summary: text}, nil
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > tasks.MaxTTLSeconds*time.Second {
		return fmt.Errorf("%w: lease ttl %s out of range (1s to 168h)", ErrBadInput, ttl)
	}
	if ttl%time.Second != 0 {
		return fmt.Errorf("%w: lease ttl %s must be whole seconds", ErrBadInput, ttl)
	}
	return nil
}

// IsRejection reports whether err is the fold refusing an op, and its kind.
func IsRejection(err error) (string, bool) {
	r, ok := oplog.AsRejection(err)
	if !ok {
		return "", false
	}
	return r.Kind, true
}

// AcceptCommits signs a task.accept: code commits carrying the task's
// lease trailer that no op of the lease holder named are accepted by the
// acting identity (who must never have held the task's lease, unless a
// trust root), so a stale-lease-commit finding on a shared branch is
// resolved without rewriting history. Commits are full ids of commits in
// this repository.
func (s *Service) AcceptCommits(ctx context.Context, task string, commits []string, reason string) (*tasks.Task, error) {
	b := tasks.AcceptBody{Reason: reason}
	for _, c := range commits {
		h, err := gitstore.ParseHash(c)
		if err == nil {
			_, err = s.store().ReadCommit(h)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not a commit here (give full commit ids): %v", ErrBadInput, c, err)
		}
		b.Commits = append(b.Commits, h.String())
	}
	if err := b.Check(); err != nil {
		return nil, err
	}
	return s.taskOp(ctx, task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpAccept, Body: b, Summary: fmt.Sprintf("accept %d commit(s)", len(b.Commits))}, nil
	})
}
