package covenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/mailbox"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/redact"
	"github.com/git-covenant/git-covenant/trust"
)

// The mailbox between identities (package mailbox, ADR 0016): the service
// plans each op against caught-up state and the fold checks it again.

var (
	// ErrNoMessage means the inbox has no message to claim.
	ErrNoMessage = errors.New("no message to claim")
	// ErrMessageNotFound means no message has the id or prefix.
	ErrMessageNotFound = errors.New("no such message")
)

// DefaultMessageTTL is the lease length of a2a recv when none is given.
const DefaultMessageTTL = 10 * time.Minute

// MessageView is a message with its state now under the repository's
// mailbox policy.
type MessageView struct {
	*mailbox.Message
	Status mailbox.Status `json:"status"`
	// Duplicate: a send whose idempotency key this sender had used; the
	// message is the first one, and nothing was written.
	Duplicate bool `json:"duplicate,omitempty"`
	// Redacted names the secrets this command took out of the text it
	// wrote (rule, field, line; never the secret).
	Redacted []redact.Finding `json:"redacted,omitempty"`
}

// scrub redacts the secrets in the text a mailbox op carries, before it is
// signed, and says on the log what it took out and where.
func (s *Service) scrub(field, text string, found *[]redact.Finding) string {
	out, fs := redact.String(field, text)
	for _, f := range fs {
		s.logf("redacted: %s", f)
	}
	*found = append(*found, fs...)
	return out
}

// SendRequest asks to send a message.
type SendRequest struct {
	To, Kind, Body string
	Task           string // id or unique prefix
	Deadline       time.Time
	IdempotencyKey string
}

func (s *Service) mailboxPolicy() (mailbox.Policy, error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return mailbox.Policy{}, err
	}
	return cfg.MailboxPolicy(), nil
}

func (s *Service) view(m *mailbox.Message) (*MessageView, error) {
	p, err := s.mailboxPolicy()
	if err != nil {
		return nil, err
	}
	return &MessageView{Message: m, Status: m.StatusAt(s.now(), p)}, nil
}

// SendMessage writes an a2a.send op. A key this sender already used
// returns the first message and writes nothing.
func (s *Service) SendMessage(ctx context.Context, req SendRequest) (*MessageView, error) {
	var found []redact.Finding
	b := mailbox.SendBody{To: req.To, Kind: req.Kind, Body: s.scrub("body", req.Body, &found), IdempotencyKey: req.IdempotencyKey}
	if !req.Deadline.IsZero() {
		if !req.Deadline.After(s.now()) {
			return nil, fmt.Errorf("%w: the deadline %s is not in the future", ErrBadInput, req.Deadline.UTC().Format(time.RFC3339))
		}
		b.Deadline = oplog.FormatTime(req.Deadline)
	}
	if err := b.Check(); err != nil {
		return nil, err
	}
	var first string
	w, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		if req.Task != "" {
			id, err := tx.ResolveTask(req.Task)
			if err != nil {
				return nil, err
			}
			b.Task = id
		}
		if b.IdempotencyKey != "" {
			if ok, err := tx.Record(mailbox.KindIdem, mailbox.IdemKey(me.Name, b.IdempotencyKey), &first); err != nil || ok {
				return nil, err
			}
		}
		return []Draft{{Type: mailbox.OpSend, Body: b, Summary: fmt.Sprintf("%s to %s", b.Kind, b.To)}}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	id := first
	if id == "" {
		e := lastOf(w, mailbox.OpSend)
		if e == nil {
			return nil, fmt.Errorf("send: nothing was written")
		}
		id = mailbox.NewID(e.Op.Actor, e.Op.Seq)
	}
	v, err := s.Message(ctx, id)
	if err != nil {
		return nil, err
	}
	v.Duplicate = first != ""
	if !v.Duplicate {
		v.Redacted = found
	}
	return v, nil
}

func lastOf(w *Written, typ string) *oplog.Entry {
	for i := len(w.Entries) - 1; i >= 0; i-- {
		if w.Entries[i].Op.Type == typ {
			return w.Entries[i]
		}
	}
	return nil
}

// Message returns one message by id or unique prefix, with its state now.
func (s *Service) Message(ctx context.Context, idOrPrefix string) (*MessageView, error) {
	var found []*mailbox.Message
	err := s.EachRecord(ctx, mailbox.Kind, func(key string, raw []byte) error {
		if key != idOrPrefix && (len(idOrPrefix) < 6 || !strings.HasPrefix(key, idOrPrefix)) {
			return nil
		}
		var m mailbox.Message
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if key == idOrPrefix {
			found = []*mailbox.Message{&m}
			return errStop
		}
		found = append(found, &m)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrMessageNotFound, idOrPrefix)
	case 1:
		return s.view(found[0])
	}
	return nil, fmt.Errorf("%w: %s names %d messages", ErrAmbiguous, idOrPrefix, len(found))
}

var errStop = errors.New("stop")

// MessageFilter selects messages; empty fields match all.
type MessageFilter struct {
	To, From string
	// Open keeps messages that are queued or in flight now.
	Open bool
}

// Messages lists messages matching f, oldest first, with their state now.
func (s *Service) Messages(ctx context.Context, f MessageFilter) ([]*MessageView, error) {
	p, err := s.mailboxPolicy()
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []*MessageView{}
	err = s.EachRecord(ctx, mailbox.Kind, func(_ string, raw []byte) error {
		var m mailbox.Message
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if (f.To != "" && m.To != f.To) || (f.From != "" && m.From.Name != f.From) {
			return nil
		}
		v := &MessageView{Message: &m, Status: m.StatusAt(now, p)}
		if f.Open && v.Status.State != mailbox.Queued && v.Status.State != mailbox.InFlight {
			return nil
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].SentAt.Equal(out[j].SentAt) {
			return out[i].SentAt.Before(out[j].SentAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Inbox lists the open messages to the acting identity.
func (s *Service) Inbox(ctx context.Context) ([]*MessageView, error) {
	me, err := s.Actor("")
	if err != nil {
		return nil, err
	}
	return s.Messages(ctx, MessageFilter{To: me.Name, Open: true})
}

// RecvMessage claims the oldest claimable message to the acting identity
// under a lease of ttl (0: DefaultMessageTTL), counting an attempt.
func (s *Service) RecvMessage(ctx context.Context, ttl time.Duration) (*MessageView, error) {
	if ttl == 0 {
		ttl = DefaultMessageTTL
	}
	if ttl < time.Second || ttl > mailbox.MaxTTL {
		return nil, fmt.Errorf("%w: lease ttl %s must be 1s to 168h", ErrBadInput, ttl)
	}
	inbox, err := s.Inbox(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.mailboxPolicy()
	if err != nil {
		return nil, err
	}
	var id string
	_, err = s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		for _, v := range inbox {
			var m mailbox.Message
			if ok, err := tx.Record(mailbox.Kind, v.ID, &m); err != nil {
				return nil, err
			} else if !ok || !m.StatusAt(s.now(), p).Claimable {
				continue
			}
			id = m.ID
			return []Draft{{Type: mailbox.OpClaim, Epoch: m.Epoch + 1,
				Body: mailbox.ClaimBody{Message: m.ID, TTLSeconds: int64(ttl / time.Second)}, Summary: m.Kind + " from " + m.From.Name}}, nil
		}
		return nil, ErrNoMessage
	}, nil)
	if err != nil {
		return nil, err
	}
	return s.Message(ctx, id)
}

// messageOp writes one op on a message named by id or prefix, planned
// from its state, and returns the message as folded.
func (s *Service) messageOp(ctx context.Context, idOrPrefix string, found []redact.Finding, plan func(m *mailbox.Message, me *trust.Actor) (Draft, error)) (*MessageView, error) {
	v, err := s.Message(ctx, idOrPrefix)
	if err != nil {
		return nil, err
	}
	_, err = s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		var m mailbox.Message
		if ok, err := tx.Record(mailbox.Kind, v.ID, &m); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("%w: %s", ErrMessageNotFound, v.ID)
		}
		d, err := plan(&m, me)
		return []Draft{d}, err
	}, nil)
	if err != nil {
		return nil, err
	}
	v, err = s.Message(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	v.Redacted = found
	return v, nil
}

// RespondMessage records the result of a message under the acting
// identity's lease on it.
func (s *Service) RespondMessage(ctx context.Context, idOrPrefix, result string) (*MessageView, error) {
	var found []redact.Finding
	result = s.scrub("result", result, &found)
	return s.messageOp(ctx, idOrPrefix, found, func(m *mailbox.Message, me *trust.Actor) (Draft, error) {
		b := mailbox.RespondBody{Message: m.ID, Result: result}
		if err := b.Check(); err != nil {
			return Draft{}, err
		}
		epoch := uint64(0)
		if m.Lease.HeldBy(me.Name) {
			epoch = m.Epoch
		}
		return Draft{Type: mailbox.OpRespond, Epoch: epoch, Body: b, Summary: "result for " + m.ID}, nil
	})
}

// RepairMessage requeues (fail false) or force-errors a message, naming
// the lease it repairs by its epoch: the fold refuses any other.
func (s *Service) RepairMessage(ctx context.Context, idOrPrefix, reason string, epoch uint64, fail bool) (*MessageView, error) {
	typ, verb := mailbox.OpRequeue, "requeue"
	if fail {
		typ, verb = mailbox.OpError, "force-error"
	}
	var found []redact.Finding
	reason = s.scrub("reason", reason, &found)
	return s.messageOp(ctx, idOrPrefix, found, func(m *mailbox.Message, _ *trust.Actor) (Draft, error) {
		b := mailbox.RepairBody{Message: m.ID, Reason: reason}
		if err := b.Check(); err != nil {
			return Draft{}, err
		}
		return Draft{Type: typ, Epoch: epoch, Body: b, Summary: verb + " " + m.ID}, nil
	})
}

// AckMessage records that the sender accepts a message's result.
func (s *Service) AckMessage(ctx context.Context, idOrPrefix string) (*MessageView, error) {
	return s.messageOp(ctx, idOrPrefix, nil, func(m *mailbox.Message, _ *trust.Actor) (Draft, error) {
		return Draft{Type: mailbox.OpAck, Body: mailbox.AckBody{Message: m.ID}, Summary: "ack " + m.ID}, nil
	})
}

// CancelMessage withdraws a message the acting identity sent that is not
// answered yet (a2a.cancel).
func (s *Service) CancelMessage(ctx context.Context, idOrPrefix, reason string) (*MessageView, error) {
	var found []redact.Finding
	reason = s.scrub("reason", reason, &found)
	return s.messageOp(ctx, idOrPrefix, found, func(m *mailbox.Message, _ *trust.Actor) (Draft, error) {
		b := mailbox.CancelBody{Message: m.ID, Reason: reason}
		if err := b.Check(); err != nil {
			return Draft{}, err
		}
		return Draft{Type: mailbox.OpCancel, Body: b, Summary: "cancel " + m.ID}, nil
	})
}
