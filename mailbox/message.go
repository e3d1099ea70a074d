package mailbox

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/tasks"
)

// Op types this package folds.
const (
	OpSend    = "a2a.send"
	OpClaim   = "a2a.claim"
	OpRespond = "a2a.respond"
	OpRequeue = "a2a.requeue"
	OpError   = "a2a.error"
	OpAck     = "a2a.ack"
	OpCancel  = "a2a.cancel"
)

// Record kinds: messages by id, and the first message of each sender's
// idempotency key.
const (
	Kind     = "a2a.message"
	KindIdem = "a2a.idem"
)

// Message states, as folded. A reader asks Message.StatusAt for the state
// at a time, which also applies lease expiry, the retry policy and the
// deadline.
const (
	Queued        = "queued"
	InFlight      = "in_flight"
	ResultPending = "result_pending"
	Resolved      = "resolved"
	Failed        = "failed"
)

// States lists the states in lifecycle order.
var States = []string{Queued, InFlight, ResultPending, Resolved, Failed}

// Bounds on what a message carries.
const (
	MaxBody   = 64 << 10
	MaxReason = 4 << 10
	MaxKey    = 128
	// MaxTTL bounds one lease.
	MaxTTL = 7 * 24 * time.Hour
)

var (
	// ErrBadMessage means a mailbox op's body is out of range.
	ErrBadMessage = errors.New("invalid message")
	// ErrBadPolicy means the [mailbox] policy is out of range.
	ErrBadPolicy = errors.New("invalid mailbox policy")
)

var (
	idRE   = &lazyre.Regexp{Expr: `^msg-[0-9a-f]{12}$`}
	kindRE = &lazyre.Regexp{Expr: `^[a-z0-9][a-z0-9._/-]{0,63}$`}
	keyRE  = &lazyre.Regexp{Expr: `^[A-Za-z0-9._:/-]{1,128}$`}
)

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadMessage, fmt.Sprintf(format, args...))
}

// ValidID reports whether s is a message id.
func ValidID(s string) bool { return idRE.MatchString(s) }

// NewID derives a message's id from the op that sent it.
func NewID(actor string, seq uint64) string {
	sum := sha256.Sum256([]byte("covenant-message\x00" + actor + "\x00" + strconv.FormatUint(seq, 10)))
	return "msg-" + hex.EncodeToString(sum[:6])
}

// IdemKey is the record key of a sender's idempotency key: keys are per
// sending identity, whichever of its keys signed.
func IdemKey(sender, key string) string {
	sum := sha256.Sum256([]byte("covenant-idem\x00" + sender + "\x00" + key))
	return hex.EncodeToString(sum[:16])
}

// SendBody is the body of a2a.send.
type SendBody struct {
	To             string `json:"to"`
	Kind           string `json:"kind"`
	Body           string `json:"body"`
	Task           string `json:"task,omitempty"`
	Deadline       string `json:"deadline,omitempty"` // RFC 3339
	IdempotencyKey string `json:"idempotency_key,omitempty"`

	deadline *time.Time
}

// Check validates the recipient, kind, body, task, deadline and key.
func (b *SendBody) Check() error {
	if err := identity.CheckName(b.To); err != nil {
		return bad("recipient: %v", err)
	}
	if !kindRE.MatchString(b.Kind) {
		return bad("kind %q: use 1-64 lower-case letters, digits, '.', '_', '/' or '-'", b.Kind)
	}
	if strings.TrimSpace(b.Body) == "" || len(b.Body) > MaxBody {
		return bad("body must be 1 byte to 64 KiB")
	}
	if b.Task != "" && !tasks.ValidID(b.Task) {
		return bad("task %q is not a task id", b.Task)
	}
	if b.IdempotencyKey != "" && !keyRE.MatchString(b.IdempotencyKey) {
		return bad("idempotency key %q: use 1-128 letters, digits or ._:/-", b.IdempotencyKey)
	}
	b.deadline = nil
	if b.Deadline != "" {
		t, err := time.Parse(time.RFC3339, b.Deadline)
		if err != nil {
			return bad("deadline %q is not an RFC 3339 time", b.Deadline)
		}
		t = t.UTC()
		b.deadline = &t
	}
	return nil
}

// ClaimBody is the body of a2a.claim; the op carries the new lease epoch.
type ClaimBody struct {
	Message    string `json:"message"`
	TTLSeconds int64  `json:"ttl_seconds"`
}

// Check validates the message id and the lease length.
func (b *ClaimBody) Check() error {
	if !ValidID(b.Message) {
		return bad("%q is not a message id", b.Message)
	}
	if b.TTLSeconds <= 0 || b.TTLSeconds > int64(MaxTTL/time.Second) {
		return bad("lease ttl must be 1 second to 7 days")
	}
	return nil
}

// RespondBody is the body of a2a.respond, under the holder's epoch.
type RespondBody struct {
	Message string `json:"message"`
	Result  string `json:"result"`
}

// Check validates the message id and the result.
func (b *RespondBody) Check() error {
	if !ValidID(b.Message) {
		return bad("%q is not a message id", b.Message)
	}
	if strings.TrimSpace(b.Result) == "" || len(b.Result) > MaxBody {
		return bad("result must be 1 byte to 64 KiB")
	}
	return nil
}

// RepairBody is the body of a2a.requeue (Reason) and a2a.error (Error);
// the op names the lease it repairs by its epoch.
type RepairBody struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

// Check validates the message id and the reason.
func (b *RepairBody) Check() error {
	if !ValidID(b.Message) {
		return bad("%q is not a message id", b.Message)
	}
	if strings.TrimSpace(b.Reason) == "" || len(b.Reason) > MaxReason {
		return bad("a repair needs a reason of at most 4 KiB")
	}
	return nil
}

// CancelBody is the body of a2a.cancel: the sender withdraws a message
// not yet answered.
type CancelBody struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

// Check validates the message id and the reason.
func (b *CancelBody) Check() error {
	if !ValidID(b.Message) {
		return bad("%q is not a message id", b.Message)
	}
	if strings.TrimSpace(b.Reason) == "" || len(b.Reason) > MaxReason {
		return bad("a cancel needs a reason of at most 4 KiB")
	}
	return nil
}

// AckBody is the body of a2a.ack: the sender accepts the result.
type AckBody struct {
	Message string `json:"message"`
}

// Check validates the message id.
func (b *AckBody) Check() error {
	if !ValidID(b.Message) {
		return bad("%q is not a message id", b.Message)
	}
	return nil
}

// Outcome is a result or an error, with who recorded it.
type Outcome struct {
	Text  string    `json:"text"`
	By    tasks.Ref `json:"by"`
	At    time.Time `json:"at"`
	Op    string    `json:"op"`
	Epoch uint64    `json:"epoch,omitempty"`
}

// Event is one step of a message's history.
type Event struct {
	Type  string    `json:"type"`
	By    tasks.Ref `json:"by"`
	At    time.Time `json:"at"`
	Op    string    `json:"op"`
	Epoch uint64    `json:"epoch,omitempty"`
	Note  string    `json:"note,omitempty"`
}

// Message is the folded state of one message.
type Message struct {
	ID             string       `json:"id"`
	From           tasks.Ref    `json:"from"`
	To             string       `json:"to"`
	Kind           string       `json:"kind"`
	Body           string       `json:"body"`
	Task           string       `json:"task,omitempty"`
	Deadline       *time.Time   `json:"deadline,omitempty"`
	IdempotencyKey string       `json:"idempotency_key,omitempty"`
	SentAt         time.Time    `json:"sent_at"`
	Op             string       `json:"op"`
	State          string       `json:"state"`
	Epoch          uint64       `json:"epoch"`
	Lease          *tasks.Lease `json:"lease,omitempty"`
	Attempts       int          `json:"attempts"`
	Requeues       int          `json:"requeues"`
	Result         *Outcome     `json:"result,omitempty"`
	Error          *Outcome     `json:"error,omitempty"`
	// Cancelled: the sender withdrew the message (a2a.cancel); Error
	// holds its reason.
	Cancelled bool    `json:"cancelled,omitempty"`
	History   []Event `json:"history"`
}

// Status is a message's state at a time under a policy, and why when the
// time made it so.
type Status struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Claimable: the recipient may claim it now.
	Claimable bool `json:"claimable"`
}

// StatusAt is the message's state at now: a queued or in-flight message
// past its deadline is failed; an in-flight one whose lease expired is
// queued again (a retry) once the lease is MinLeaseAge old, or failed when
// it has used MaxAttempts.
func (m *Message) StatusAt(now time.Time, p Policy) Status {
	switch m.State {
	case Queued, InFlight:
	default:
		return Status{State: m.State}
	}
	if m.Deadline != nil && !now.Before(*m.Deadline) {
		return Status{State: Failed, Reason: "deadline " + m.Deadline.Format(time.RFC3339) + " passed"}
	}
	if m.State == Queued {
		return Status{State: Queued, Claimable: m.Attempts < p.MaxAttempts}
	}
	if m.Lease.ActiveAt(now) {
		return Status{State: InFlight}
	}
	if m.Attempts >= p.MaxAttempts {
		return Status{State: Failed, Reason: fmt.Sprintf("lease epoch %d expired after %d of %d attempts", m.Epoch, m.Attempts, p.MaxAttempts)}
	}
	if now.Before(m.Lease.AcquiredAt.Add(p.MinLeaseAge())) {
		return Status{State: InFlight, Reason: fmt.Sprintf("lease epoch %d expired; retried from %s", m.Epoch, m.Lease.AcquiredAt.Add(p.MinLeaseAge()).Format(time.RFC3339))}
	}
	return Status{State: Queued, Reason: fmt.Sprintf("lease epoch %d expired; retry %d of %d", m.Epoch, m.Attempts+1, p.MaxAttempts), Claimable: true}
}
