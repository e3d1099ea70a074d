package tasks

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// Op types this package folds.
const (
	OpCreate    = "task.create"
	OpClaim     = "task.claim"
	OpHeartbeat = "task.heartbeat"
	OpRelease   = "task.release"
	OpMove      = "task.move"
	OpHandoff   = "task.handoff"
	OpLink      = "task.link"
	OpReview    = "task.review"
	OpCheck     = "task.check"
	OpEscalate  = "task.escalate"
	OpResolve   = "task.resolve"
	OpComment   = "task.comment"
)

// CreateBody is the body of task.create.
type CreateBody struct {
	Title        string   `json:"title"`
	Body         string   `json:"body,omitempty"`
	Labels       []string `json:"labels,omitempty"`
	Priority     string   `json:"priority"`
	FailureModes []string `json:"failure_modes,omitempty"`
}

// Check validates a create body, normalizing labels.
func (b *CreateBody) Check() error {
	b.Title = strings.TrimSpace(b.Title)
	if b.Title == "" {
		return ErrEmptyTitle
	}
	if utf8.RuneCountInString(b.Title) > 200 {
		return fmt.Errorf("%w: task title is %d characters long (limit 200)", ErrBadInput, utf8.RuneCountInString(b.Title))
	}
	if strings.ContainsAny(b.Title, "\n\r") {
		return fmt.Errorf("%w: task title must be one line", ErrBadInput)
	}
	if len(b.Body) > 64<<10 {
		return fmt.Errorf("%w: task body is %d bytes long (limit 64 KiB)", ErrBadInput, len(b.Body))
	}
	if b.Priority == "" {
		b.Priority = DefaultPriority
	}
	if err := CheckPriority(b.Priority); err != nil {
		return err
	}
	labels, err := NormalizeLabels(b.Labels)
	if err != nil {
		return err
	}
	b.Labels = labels
	for _, f := range b.FailureModes {
		if strings.TrimSpace(f) == "" || len(f) > 1024 {
			return fmt.Errorf("%w: a failure mode is empty or longer than 1 KiB", ErrBadInput)
		}
	}
	return nil
}

// MoveBody is the body of task.move.
type MoveBody struct {
	To   string `json:"to"`
	Note string `json:"note,omitempty"`
}

// Check accepts any target state: the workflow decides in the fold.
func (b *MoveBody) Check() error { return nil }

// LinkKinds are the allowed link kinds.
var LinkKinds = []string{"blocks", "parent-of", "relates-to", "discovered-from"}

// LinkBody is the body of task.link; the op's task is the link's source.
type LinkBody struct {
	Kind  string `json:"kind"`
	Other string `json:"other"`
}

// Check validates the link kind and that the other task is named.
func (b *LinkBody) Check() error {
	if !has(LinkKinds, b.Kind) {
		return fmt.Errorf("%w: link kind %q (want %s)", ErrBadInput, b.Kind, strings.Join(LinkKinds, ", "))
	}
	if b.Other == "" {
		return fmt.Errorf("%w: a link names the other task", ErrBadInput)
	}
	return nil
}

// ReviewBody is the body of task.review.
type ReviewBody struct {
	Gate    string `json:"gate"`
	Verdict string `json:"verdict"` // approve or reject
	Note    string `json:"note"`
}

// Check validates the verdict.
func (b *ReviewBody) Check() error {
	if b.Verdict != "approve" && b.Verdict != "reject" {
		return fmt.Errorf("%w: verdict %q (want approve or reject)", ErrBadInput, b.Verdict)
	}
	return nil
}

// Scope is the capability a review of this gate needs.
func (b *ReviewBody) Scope() string { return ReviewScope(b.Gate) }

// Check is recorded evidence of a command run.
type Check struct {
	Command      []string `json:"command"`
	ExitCode     int      `json:"exit_code"`
	DurationMS   int64    `json:"duration_ms"`
	OutputDigest string   `json:"output_digest"` // sha256:<hex> of the combined output
	OutputBytes  int64    `json:"output_bytes"`
	Head         string   `json:"head,omitempty"` // commit the command ran on
}

// CheckBody is the body of task.check.
type CheckBody struct {
	Gate     string `json:"gate"`
	Evidence Check  `json:"check"`
}

// Check requires a command, a duration and a sha256 output digest.
func (b *CheckBody) Check() error {
	if len(b.Evidence.Command) == 0 || !strings.HasPrefix(b.Evidence.OutputDigest, "sha256:") || b.Evidence.DurationMS < 0 {
		return fmt.Errorf("%w: check needs a command, a duration and a sha256 output digest", ErrBadInput)
	}
	return nil
}

// EscalationKinds are the allowed escalation kinds.
var EscalationKinds = []string{"credentials", "destructive", "production", "decision"}

// EscalateBody is the body of task.escalate.
type EscalateBody struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// Check validates the kind and requires a reason.
func (b *EscalateBody) Check() error {
	if !has(EscalationKinds, b.Kind) {
		return fmt.Errorf("%w: escalation kind %q (want %s)", ErrBadInput, b.Kind, strings.Join(EscalationKinds, ", "))
	}
	if strings.TrimSpace(b.Reason) == "" {
		return fmt.Errorf("%w: an escalation needs a reason", ErrBadInput)
	}
	return nil
}

// ResolveBody is the body of task.resolve.
type ResolveBody struct {
	Decision string `json:"decision"`
}

// Check requires a decision.
func (b *ResolveBody) Check() error {
	if strings.TrimSpace(b.Decision) == "" {
		return fmt.Errorf("%w: a resolution needs a decision", ErrBadInput)
	}
	return nil
}

// CommentBody is the body of task.comment.
type CommentBody struct {
	Text string `json:"text"`
}

// Check bounds the text: 1 byte to 16 KiB, not only white space.
func (b *CommentBody) Check() error {
	if strings.TrimSpace(b.Text) == "" || len(b.Text) > 16<<10 {
		return fmt.Errorf("%w: a comment must be 1 byte to 16 KiB", ErrBadInput)
	}
	return nil
}

// ClaimBody is the body of task.claim.
type ClaimBody struct {
	TTLSeconds int64 `json:"ttl_seconds"`
}

// Check bounds the lease length.
func (b *ClaimBody) Check() error {
	if b.TTLSeconds <= 0 || b.TTLSeconds > MaxTTLSeconds {
		return fmt.Errorf("%w: lease ttl %ds out of range (1s to 7 days)", ErrBadInput, b.TTLSeconds)
	}
	return nil
}

// ReleaseBody is the body of task.release: empty.
type ReleaseBody struct{}

// Check accepts the empty body.
func (b *ReleaseBody) Check() error { return nil }

// MaxTTL bounds a lease's length.
const MaxTTLSeconds = 7 * 24 * 3600

var hexRE = &lazyre.Regexp{Expr: `^[0-9a-f]{40}$`}

// ValidationStatuses are the allowed values of Validation.Status.
var ValidationStatuses = []string{"passed", "failed", "not-run"}

// Check validates a handoff artifact against its schema.
func (h *Handoff) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadHandoff, fmt.Sprintf(format, args...))
	}
	h.Summary = strings.TrimSpace(h.Summary)
	if h.Summary == "" {
		return bad("summary is empty")
	}
	if len(h.Summary) > 16<<10 {
		return bad("summary is longer than 16 KiB")
	}
	if h.Next == nil {
		h.Next = []string{}
	}
	if h.Questions == nil {
		h.Questions = []string{}
	}
	if h.Files == nil {
		h.Files = []FileRef{}
	}
	if h.Commits == nil {
		h.Commits = []string{}
	}
	for _, lists := range [][]string{h.Next, h.Questions} {
		for _, s := range lists {
			if strings.TrimSpace(s) == "" {
				return bad("empty next step or question")
			}
		}
	}
	for _, f := range h.Files {
		if f.Path == "" || strings.HasPrefix(f.Path, "/") || strings.Contains(f.Path, "..") {
			return bad("file path %q must be relative to the repository", f.Path)
		}
		if !hexRE.MatchString(f.Blob) {
			return bad("file %s: blob %q is not an object name", f.Path, f.Blob)
		}
	}
	for _, c := range h.Commits {
		if !hexRE.MatchString(c) {
			return bad("commit %q is not an object name", c)
		}
	}
	if h.Head != "" && !hexRE.MatchString(h.Head) {
		return bad("head %q is not an object name", h.Head)
	}
	ok := false
	for _, s := range ValidationStatuses {
		ok = ok || h.Validation.Status == s
	}
	if !ok {
		return bad("validation status %q (want passed, failed or not-run)", h.Validation.Status)
	}
	if h.Op != "" || h.By != nil || !h.At.IsZero() {
		return bad("op, by and at are filled in by the fold")
	}
	return nil
}
