package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/attest/checkpoint"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

// State is what the fold reads and writes. Task returns nil for an unknown
// id; Actor returns an untrusted empty actor for an unknown key.
type State interface {
	trust.State
	Task(id string) (*Task, error)
	PutTask(*Task) error
}

// folder applies one op; its fields are what every rule needs.
type folder struct {
	st    State
	wf    *Workflow
	e     *oplog.Entry
	op    *oplog.Op
	actor *trust.Actor
	who   Ref
	at    time.Time
	grant *trust.Grant // the grant that authorizes the op, counted on success
}

// scopes maps task op types to the capability they need; task.review
// needs review.<gate>.
var scopes = map[string]string{
	OpCreate: trust.ScopeTaskCreate, OpClaim: trust.ScopeTaskClaim, OpHeartbeat: trust.ScopeTaskClaim,
	OpRelease: trust.ScopeTaskClaim, OpMove: trust.ScopeTaskMove, OpHandoff: trust.ScopeTaskHandoff,
	OpLink: trust.ScopeTaskLink, OpCheck: trust.ScopeTaskCheck, OpEscalate: trust.ScopeTaskEscalate,
	OpResolve: trust.ScopeResolve, OpComment: trust.ScopeTaskComment,
}

// authorize finds the grant for the op's scope on a task with these labels.
func (f *folder) authorize(labels []string) error {
	scope, ok := scopes[f.op.Type]
	if f.op.Type == OpReview {
		var b struct {
			Gate string `json:"gate"`
		}
		json.Unmarshal(f.op.Body, &b)
		scope, ok = ReviewScope(b.Gate), true
	}
	if !ok {
		return oplog.Reject(oplog.KindInvalidBody, "unknown op type %s", f.op.Type)
	}
	g, err := trust.Find(f.st, f.actor, trust.Need{Scope: scope, Labels: labels}, f.at)
	f.grant = g
	return err
}

// Apply folds one verified op into state under a workflow. It returns a
// *oplog.Rejection for an op the fold ignores, and leaves state unchanged
// then: every rule is checked before anything is changed.
func Apply(st State, wf *Workflow, e *oplog.Entry) error {
	op := e.Op
	if strings.HasPrefix(op.Type, "actor.") || strings.HasPrefix(op.Type, "identity.") || strings.HasPrefix(op.Type, "cap.") {
		return trust.Apply(st, e)
	}
	actor, err := trust.Authorize(st, op)
	if err != nil {
		return err
	}
	if op.Type == checkpoint.OpType {
		// An audit-root checkpoint needs only a trusted actor; it changes
		// no task, but its body must have the right shape.
		if op.Task != "" {
			return oplog.Reject(oplog.KindInvalidBody, "%s names a task", op.Type)
		}
		if _, err := checkpoint.Parse(op.Body); err != nil {
			return oplog.Reject(oplog.KindInvalidBody, "%s %v", op.Type, err)
		}
		return nil
	}
	f := &folder{st: st, wf: wf, e: e, op: op, actor: actor, who: Ref{Name: actor.Name, Key: actor.KeyID}, at: op.When()}
	if op.Type == OpCreate {
		if err := f.create(); err != nil {
			return err
		}
		return trust.Use(st, f.grant)
	}
	if op.Task == "" {
		return oplog.Reject(oplog.KindInvalidBody, "%s names no task", op.Type)
	}
	t, err := f.task(op.Task)
	if err != nil {
		return err
	}
	if err := f.authorize(t.Labels); err != nil {
		return err
	}
	ev := Event{Op: e.Commit, Type: op.Type, Actor: f.who, Time: f.at, Lamport: op.Lamport, Epoch: op.Epoch}
	var touched []*Task
	switch op.Type {
	case OpClaim:
		ev.Summary, err = f.claim(t)
	case OpHeartbeat:
		ev.Summary, err = f.heartbeat(t)
	case OpRelease:
		ev.Summary, err = f.release(t)
	case OpMove:
		ev.Summary, touched, err = f.move(t)
	case OpHandoff:
		ev.Summary, err = f.handoff(t)
	case OpLink:
		ev.Summary, touched, err = f.link(t)
	case OpReview:
		ev.Summary, err = f.review(t)
	case OpCheck:
		ev.Summary, err = f.check(t)
	case OpEscalate:
		ev.Summary, err = f.escalate(t)
	case OpResolve:
		ev.Summary, err = f.resolve(t)
	case OpComment:
		ev.Summary, err = f.comment(t)
	default:
		return oplog.Reject(oplog.KindInvalidBody, "unknown op type %s", op.Type)
	}
	if err != nil {
		return err
	}
	t.UpdatedAt = f.at
	t.History = append(t.History, ev)
	for _, o := range touched {
		if err := st.PutTask(o); err != nil {
			return err
		}
	}
	if err := trust.Use(st, f.grant); err != nil {
		return err
	}
	return st.PutTask(t)
}

func (f *folder) task(id string) (*Task, error) {
	t, err := f.st.Task(id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, oplog.Reject(oplog.KindNotFound, "no task %s", id)
	}
	return t, nil
}

func (f *folder) body(v any) error {
	dec := json.NewDecoder(bytes.NewReader(f.op.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return oplog.Reject(oplog.KindInvalidBody, "%s body: %v", f.op.Type, err)
	}
	return nil
}

func (f *folder) create() error {
	op := f.op
	var b CreateBody
	if err := f.body(&b); err != nil {
		return err
	}
	if err := b.Check(); err != nil {
		return oplog.Reject(oplog.KindInvalidBody, "%v", err)
	}
	if err := f.authorize(b.Labels); err != nil {
		return err
	}
	if want := NewID(op.Actor, op.Seq); op.Task != want {
		return oplog.Reject(oplog.KindInvalidBody, "task.create names id %s, derived id is %s", op.Task, want)
	}
	if old, err := f.st.Task(op.Task); err != nil {
		return err
	} else if old != nil {
		return oplog.Reject(oplog.KindDuplicate, "task %s exists", op.Task)
	}
	if b.FailureModes == nil {
		b.FailureModes = []string{}
	}
	t := &Task{
		ID: op.Task, Title: b.Title, Body: b.Body, Labels: b.Labels, Priority: b.Priority, FailureModes: b.FailureModes,
		State: f.wf.Initial, CreatedBy: f.who, CreatedAt: f.at, UpdatedAt: f.at, Order: op.Key().String(),
		Leases: []LeaseRecord{}, Implementers: []string{}, Links: []Link{}, LinkedFrom: []Link{},
		Gates: map[string]*GateRecord{}, Comments: []Comment{},
		History: []Event{{Op: f.e.Commit, Type: op.Type, Actor: f.who, Time: f.at, Lamport: op.Lamport, Summary: "created: " + b.Title}},
	}
	return f.st.PutTask(t)
}

// actingOn checks that an op on a task respects its lease: while a lease is
// active only its holder, under its epoch, may act; an op that carries an
// epoch must carry the current one and come before that lease ended.
func (f *folder) actingOn(t *Task) error {
	op, at := f.op, f.at
	if op.Epoch != 0 && op.Epoch != t.Epoch {
		holder := ""
		if t.Lease.ActiveAt(at) {
			holder = ", held by " + t.Lease.Holder
		}
		return oplog.Reject(oplog.KindStaleEpoch, "op on %s carries lease epoch %d, superseded by epoch %d%s", t.ID, op.Epoch, t.Epoch, holder)
	}
	if t.Lease.ActiveAt(at) {
		if t.Lease.Key != op.Actor {
			return leaseHeld(t)
		}
		if op.Epoch != t.Lease.Epoch {
			return oplog.Reject(oplog.KindStaleEpoch, "op on %s by the lease holder carries epoch %d, current epoch is %d", t.ID, op.Epoch, t.Lease.Epoch)
		}
		return nil
	}
	if op.Epoch != 0 {
		if t.Lease != nil {
			return oplog.Reject(oplog.KindLeaseExpired, "lease epoch %d on %s expired at %s", op.Epoch, t.ID, t.Lease.ExpiresAt.Format(time.RFC3339))
		}
		return oplog.Reject(oplog.KindLeaseExpired, "lease epoch %d on %s is no longer held", op.Epoch, t.ID)
	}
	return nil
}

// epochCurrent refuses an op that carries a superseded epoch, for ops that
// anyone may make (reviews, comments, links).
func (f *folder) epochCurrent(t *Task) error {
	if f.op.Epoch != 0 && f.op.Epoch != t.Epoch {
		return oplog.Reject(oplog.KindStaleEpoch, "op on %s carries lease epoch %d, superseded by epoch %d", t.ID, f.op.Epoch, t.Epoch)
	}
	return nil
}

func leaseHeld(t *Task) error {
	return oplog.Reject(oplog.KindLeaseHeld, "task %s is leased to %s (epoch %d) until %s", t.ID, t.Lease.Holder, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339))
}

func (f *folder) open(t *Task) error {
	if f.wf.IsFinal(t.State) {
		return oplog.Reject(oplog.KindIllegal, "task %s is %s", t.ID, t.State)
	}
	return nil
}

// endLease closes the current lease in the lease history.
func (f *folder) endLease(t *Task) {
	if t.Lease == nil {
		return
	}
	for i := range t.Leases {
		if t.Leases[i].Epoch == t.Lease.Epoch && t.Leases[i].EndedAt == nil {
			end := f.at
			if t.Lease.ExpiresAt.Before(end) {
				end = t.Lease.ExpiresAt
			}
			t.Leases[i].EndedAt = &end
		}
	}
	t.Lease = nil
}

func (f *folder) claim(t *Task) (string, error) {
	var b ClaimBody
	if err := f.body(&b); err != nil {
		return "", err
	}
	if b.TTLSeconds <= 0 || b.TTLSeconds > MaxTTLSeconds {
		return "", oplog.Reject(oplog.KindInvalidBody, "lease ttl %ds out of range (1s to 7 days)", b.TTLSeconds)
	}
	if err := f.open(t); err != nil {
		return "", err
	}
	if !has(f.wf.ClaimFrom, t.State) {
		return "", oplog.Reject(oplog.KindIllegal, "task %s is %s; tasks can be claimed in %s", t.ID, t.State, strings.Join(f.wf.ClaimFrom, ", "))
	}
	if t.Lease.ActiveAt(f.at) && t.Lease.Key != f.op.Actor {
		return "", leaseHeld(t)
	}
	if f.op.Epoch != t.Epoch+1 {
		return "", oplog.Reject(oplog.KindStaleEpoch, "claim of %s carries epoch %d, next epoch is %d", t.ID, f.op.Epoch, t.Epoch+1)
	}
	prev := ""
	if t.Lease != nil && t.Lease.Key != f.op.Actor {
		prev = fmt.Sprintf(", after %s's lease (epoch %d) expired", t.Lease.Holder, t.Lease.Epoch)
	}
	f.endLease(t)
	t.Epoch = f.op.Epoch
	t.Lease = &Lease{Holder: f.who.Name, Key: f.who.Key, Epoch: f.op.Epoch, AcquiredAt: f.at, ExpiresAt: f.at.Add(time.Duration(b.TTLSeconds) * time.Second)}
	t.Leases = append(t.Leases, LeaseRecord{Lease: *t.Lease})
	if !has(t.Implementers, f.who.Key) {
		t.Implementers = append(t.Implementers, f.who.Key)
	}
	if f.before(t.State, f.wf.ClaimTo) {
		t.State = f.wf.ClaimTo
	}
	return fmt.Sprintf("claimed (epoch %d, until %s)%s", f.op.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339), prev), nil
}

// before reports whether state a is declared before state b.
func (f *folder) before(a, b string) bool {
	ia, ib := -1, -1
	for i, s := range f.wf.States {
		if s == a {
			ia = i
		}
		if s == b {
			ib = i
		}
	}
	return ia < ib
}

func (f *folder) heartbeat(t *Task) (string, error) {
	var b ClaimBody
	if err := f.body(&b); err != nil {
		return "", err
	}
	if b.TTLSeconds <= 0 || b.TTLSeconds > MaxTTLSeconds {
		return "", oplog.Reject(oplog.KindInvalidBody, "lease ttl %ds out of range (1s to 7 days)", b.TTLSeconds)
	}
	if err := f.actingOn(t); err != nil {
		return "", err
	}
	if !t.Lease.ActiveAt(f.at) || f.op.Epoch == 0 {
		return "", oplog.Reject(oplog.KindLeaseExpired, "no active lease on %s to extend", t.ID)
	}
	t.Lease.ExpiresAt = f.at.Add(time.Duration(b.TTLSeconds) * time.Second)
	for i := range t.Leases {
		if t.Leases[i].Epoch == t.Lease.Epoch {
			t.Leases[i].ExpiresAt = t.Lease.ExpiresAt
		}
	}
	return "heartbeat, until " + t.Lease.ExpiresAt.Format(time.RFC3339), nil
}

func (f *folder) release(t *Task) (string, error) {
	if err := f.actingOn(t); err != nil {
		return "", err
	}
	if !t.Lease.ActiveAt(f.at) {
		return "", oplog.Reject(oplog.KindIllegal, "task %s has no active lease to release", t.ID)
	}
	f.endLease(t)
	return "released", nil
}

func (f *folder) move(t *Task) (string, []*Task, error) {
	var b MoveBody
	if err := f.body(&b); err != nil {
		return "", nil, err
	}
	if err := f.actingOn(t); err != nil {
		return "", nil, err
	}
	if b.To == f.wf.Escalated && f.wf.Escalated != "" {
		return "", nil, oplog.Reject(oplog.KindIllegal, "use task escalate to move a task to %s", b.To)
	}
	tr, ok := f.wf.Transition(t.State, b.To)
	if !ok {
		next := f.wf.Next(t.State)
		if len(next) == 0 {
			return "", nil, oplog.Reject(oplog.KindIllegal, "cannot move %s from %s to %s: no moves leave %s", t.ID, t.State, b.To, t.State)
		}
		return "", nil, oplog.Reject(oplog.KindIllegal, "cannot move %s from %s to %s; allowed: %s", t.ID, t.State, b.To, strings.Join(next, ", "))
	}
	if len(tr.Roles) > 0 && !has(tr.Roles, f.actor.Role) {
		return "", nil, oplog.Reject(oplog.KindUnauthorized, "moving %s to %s needs role %s; %s is %s", t.ID, b.To, strings.Join(tr.Roles, " or "), f.who.Name, f.actor.Role)
	}
	var missing []string
	for _, g := range tr.Gates {
		if rec := t.Gates[g]; rec == nil || !rec.Satisfied {
			why := "no evidence recorded"
			if rec != nil {
				why = rec.Reason
				if why == "" && rec.Verdict != "" {
					why = "latest verdict is " + rec.Verdict
				}
				if why == "" && rec.Check != nil {
					why = fmt.Sprintf("latest check exited %d", rec.Check.ExitCode)
				}
			}
			missing = append(missing, g+" ("+why+")")
		}
	}
	if len(missing) > 0 {
		return "", nil, oplog.Reject(oplog.KindIllegal, "cannot move %s to %s: gate(s) not satisfied: %s", t.ID, b.To, strings.Join(missing, "; "))
	}
	from := t.State
	t.State = b.To
	var touched []*Task
	if f.wf.IsFinal(b.To) {
		f.endLease(t)
		for _, l := range t.Links {
			if l.Kind != "blocks" {
				continue
			}
			o, err := f.st.Task(l.Task)
			if err != nil {
				return "", nil, err
			}
			if o != nil && o.OpenBlockers > 0 {
				o.OpenBlockers--
				touched = append(touched, o)
			}
		}
	}
	s := from + " -> " + b.To
	if b.Note != "" {
		s += ": " + b.Note
	}
	return s, touched, nil
}

func (f *folder) handoff(t *Task) (string, error) {
	var h Handoff
	if err := f.body(&h); err != nil {
		return "", err
	}
	if err := h.Check(); err != nil {
		return "", oplog.Reject(oplog.KindInvalidBody, "%v", err)
	}
	if err := f.actingOn(t); err != nil {
		return "", err
	}
	if err := f.open(t); err != nil {
		return "", err
	}
	h.Op, h.By, h.At = f.e.Commit, &f.who, f.at
	t.Handoff = &h
	t.Handoffs++
	if !h.KeepLease {
		f.endLease(t)
	}
	return h.Summary, nil
}

func (f *folder) link(t *Task) (string, []*Task, error) {
	var b LinkBody
	if err := f.body(&b); err != nil {
		return "", nil, err
	}
	if !has(LinkKinds, b.Kind) {
		return "", nil, oplog.Reject(oplog.KindInvalidBody, "link kind %q (want %s)", b.Kind, strings.Join(LinkKinds, ", "))
	}
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

func (f *folder) gate(name, kind string) (*Gate, error) {
	g, ok := f.wf.Gate(name)
	if !ok {
		names := []string{}
		for _, g := range f.wf.Gates {
			names = append(names, g.Name)
		}
		return nil, oplog.Reject(oplog.KindInvalidBody, "no gate %q in the workflow (gates: %s)", name, strings.Join(names, ", "))
	}
	if g.Kind != kind {
		return nil, oplog.Reject(oplog.KindInvalidBody, "gate %q is a %s gate", name, g.Kind)
	}
	return g, nil
}

func (f *folder) review(t *Task) (string, error) {
	var b ReviewBody
	if err := f.body(&b); err != nil {
		return "", err
	}
	g, err := f.gate(b.Gate, "approval")
	if err != nil {
		return "", err
	}
	if b.Verdict != "approve" && b.Verdict != "reject" {
		return "", oplog.Reject(oplog.KindInvalidBody, "verdict %q (want approve or reject)", b.Verdict)
	}
	if err := f.epochCurrent(t); err != nil {
		return "", err
	}
	if err := f.open(t); err != nil {
		return "", err
	}
	rec := &GateRecord{Gate: g.Name, Kind: g.Kind, Op: f.e.Commit, By: f.who, At: f.at, Verdict: b.Verdict, Note: b.Note, Satisfied: b.Verdict == "approve"}
	if rec.Satisfied && g.Independent && has(t.Implementers, f.who.Key) {
		rec.Satisfied = false
		rec.Reason = f.who.Name + " worked on the task; " + g.Name + " needs approval by someone else"
	}
	t.Gates[g.Name] = rec
	return b.Gate + " " + b.Verdict + ": " + b.Note, nil
}

func (f *folder) check(t *Task) (string, error) {
	var b CheckBody
	if err := f.body(&b); err != nil {
		return "", err
	}
	g, err := f.gate(b.Gate, "check")
	if err != nil {
		return "", err
	}
	if len(b.Check.Command) == 0 || !strings.HasPrefix(b.Check.OutputDigest, "sha256:") || b.Check.DurationMS < 0 {
		return "", oplog.Reject(oplog.KindInvalidBody, "check needs a command, a duration and a sha256 output digest")
	}
	if err := f.epochCurrent(t); err != nil {
		return "", err
	}
	if err := f.open(t); err != nil {
		return "", err
	}
	c := b.Check
	t.Gates[g.Name] = &GateRecord{Gate: g.Name, Kind: g.Kind, Op: f.e.Commit, By: f.who, At: f.at, Check: &c, Satisfied: c.ExitCode == 0}
	return fmt.Sprintf("%s: %s exited %d in %dms", b.Gate, strings.Join(c.Command, " "), c.ExitCode, c.DurationMS), nil
}

func (f *folder) escalate(t *Task) (string, error) {
	var b EscalateBody
	if err := f.body(&b); err != nil {
		return "", err
	}
	if !has(EscalationKinds, b.Kind) {
		return "", oplog.Reject(oplog.KindInvalidBody, "escalation kind %q (want %s)", b.Kind, strings.Join(EscalationKinds, ", "))
	}
	if strings.TrimSpace(b.Reason) == "" {
		return "", oplog.Reject(oplog.KindInvalidBody, "an escalation needs a reason")
	}
	if f.wf.Escalated == "" {
		return "", oplog.Reject(oplog.KindIllegal, "the workflow has no escalated state")
	}
	if err := f.actingOn(t); err != nil {
		return "", err
	}
	if err := f.open(t); err != nil {
		return "", err
	}
	if t.State == f.wf.Escalated {
		return "", oplog.Reject(oplog.KindIllegal, "task %s is already escalated", t.ID)
	}
	t.Escalation = &Escalation{Op: f.e.Commit, Kind: b.Kind, Reason: b.Reason, By: f.who, At: f.at, From: t.State}
	t.Escalations++
	t.State = f.wf.Escalated
	return b.Kind + ": " + b.Reason, nil
}

func (f *folder) resolve(t *Task) (string, error) {
	var b ResolveBody
	if err := f.body(&b); err != nil {
		return "", err
	}
	if strings.TrimSpace(b.Decision) == "" {
		return "", oplog.Reject(oplog.KindInvalidBody, "a resolution needs a decision")
	}
	if f.actor.Role != "human" {
		return "", oplog.Reject(oplog.KindUnauthorized, "only a human identity can resolve an escalation (%s is %s)", f.who.Name, f.actor.Role)
	}
	if t.State != f.wf.Escalated || t.Escalation == nil {
		return "", oplog.Reject(oplog.KindIllegal, "task %s is not escalated", t.ID)
	}
	at, who := f.at, f.who
	t.Escalation.Decision, t.Escalation.Resolved, t.Escalation.ResAt = b.Decision, &who, &at
	t.State = t.Escalation.From
	return "resolved: " + b.Decision, nil
}

func (f *folder) comment(t *Task) (string, error) {
	var b CommentBody
	if err := f.body(&b); err != nil {
		return "", err
	}
	if strings.TrimSpace(b.Text) == "" || len(b.Text) > 16<<10 {
		return "", oplog.Reject(oplog.KindInvalidBody, "a comment must be 1 byte to 16 KiB")
	}
	if err := f.epochCurrent(t); err != nil {
		return "", err
	}
	t.Comments = append(t.Comments, Comment{Op: f.e.Commit, By: f.who, At: f.at, Text: b.Text})
	return b.Text, nil
}

// ReviewScope is the capability an approval gate needs: the gate's own name
// when it is already review.<something> (review.code), else review.<gate>.
func ReviewScope(gate string) string {
	if strings.HasPrefix(gate, trust.ScopeReviewPrefix) {
		return gate
	}
	return trust.ScopeReviewPrefix + gate
}
