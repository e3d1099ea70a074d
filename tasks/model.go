package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// Priorities, lowest first.
var Priorities = []string{"low", "medium", "high", "critical"}

// DefaultPriority is given to tasks created without --priority.
const DefaultPriority = "medium"

// CheckPriority validates a priority name.
func CheckPriority(p string) error {
	for _, q := range Priorities {
		if p == q {
			return nil
		}
	}
	return fmt.Errorf("%w %q (want one of %s)", ErrBadPriority, p, strings.Join(Priorities, ", "))
}

// PriorityRank orders priorities, higher is more urgent.
func PriorityRank(p string) int {
	for i, q := range Priorities {
		if p == q {
			return i
		}
	}
	return -1
}

var labelRE = &lazyre.Regexp{Expr: `^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$`}

// NormalizeLabels validates labels and returns them sorted and unique.
func NormalizeLabels(in []string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, l := range in {
		if !labelRE.MatchString(l) {
			return nil, fmt.Errorf("%w %q: use letters, digits and . _ : / -", ErrBadLabel, l)
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out, nil
}

var idRE = &lazyre.Regexp{Expr: `^tk-[0-9a-f]{12}$`}

var stateRE = &lazyre.Regexp{Expr: `^[a-z][a-z0-9_]{0,31}$`}

// NewID derives a task id from the creating op's actor and sequence number,
// so ids are unique without coordination and cannot be chosen freely.
func NewID(actor string, seq uint64) string {
	sum := sha256.Sum256([]byte("covenant-task\x00" + actor + "\x00" + strconv.FormatUint(seq, 10)))
	return "tk-" + hex.EncodeToString(sum[:6])
}

// ValidID reports whether s has the form of a task id.
func ValidID(s string) bool { return idRE.MatchString(s) }

// Ref names an actor by identity name and key id.
type Ref struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// Lease is a time-limited claim on a task.
type Lease struct {
	Holder     string    `json:"holder"`
	Key        string    `json:"key"`
	Epoch      uint64    `json:"epoch"`
	AcquiredAt time.Time `json:"acquired_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// ActiveAt reports whether the lease still holds at t.
func (l *Lease) ActiveAt(t time.Time) bool { return l != nil && t.Before(l.ExpiresAt) }

// HeldBy reports whether the lease belongs to the named identity, whichever
// of its keys claimed it: leases survive key rotation.
func (l *Lease) HeldBy(name string) bool { return l != nil && l.Holder == name }

// LeaseRecord is one lease in a task's past, for fencing code commits.
type LeaseRecord struct {
	Lease
	EndedAt *time.Time `json:"ended_at,omitempty"` // released, handed off or superseded
	// Vouched are the code commits the holder's ops under this lease named
	// while it was live (handoff commits and head, check head).
	Vouched []string `json:"vouched,omitempty"`
}

// Link is a typed edge between tasks.
type Link struct {
	Kind string `json:"kind"` // blocks, parent-of, relates-to, discovered-from
	Task string `json:"task"`
}

// Comment is a note on a task.
type Comment struct {
	Op   string    `json:"op"`
	By   Ref       `json:"by"`
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// GateRecord is the latest evidence for one gate.
type GateRecord struct {
	Gate      string    `json:"gate"`
	Kind      string    `json:"kind"`
	Satisfied bool      `json:"satisfied"`
	Op        string    `json:"op"`
	By        Ref       `json:"by"`
	At        time.Time `json:"at"`
	Verdict   string    `json:"verdict,omitempty"` // approval gates: approve or reject
	Note      string    `json:"note,omitempty"`
	Check     *Check    `json:"check,omitempty"`  // check gates
	Reason    string    `json:"reason,omitempty"` // why it does not count, if it does not
	Stale     bool      `json:"stale,omitempty"`  // an approval cleared by rework
}

// Escalation asks a human for something an agent may not decide.
type Escalation struct {
	Op       string     `json:"op"`
	Kind     string     `json:"kind"` // credentials, destructive, production, decision
	Reason   string     `json:"reason"`
	By       Ref        `json:"by"`
	At       time.Time  `json:"at"`
	From     string     `json:"from"` // state to return to
	Decision string     `json:"decision,omitempty"`
	Resolved *Ref       `json:"resolved_by,omitempty"`
	ResAt    *time.Time `json:"resolved_at,omitempty"`
}

// FileRef pins a file to the blob it had.
type FileRef struct {
	Path string `json:"path"`
	Blob string `json:"blob"`
}

// Validation is the state of the checks when a handoff was made.
type Validation struct {
	Status string `json:"status"` // passed, failed, not-run
	Note   string `json:"note,omitempty"`
}

// Handoff is the structured artifact a worker leaves for the next session.
type Handoff struct {
	Summary    string     `json:"summary"`
	Next       []string   `json:"next"`
	Questions  []string   `json:"questions"`
	Files      []FileRef  `json:"files"`
	Validation Validation `json:"validation"`
	Commits    []string   `json:"commits"`
	Head       string     `json:"head,omitempty"`   // commit checked out when it was made
	Branch     string     `json:"branch,omitempty"` // branch checked out when it was made
	KeepLease  bool       `json:"keep_lease,omitempty"`

	Op string    `json:"op,omitempty"` // filled by the fold
	By *Ref      `json:"by,omitempty"` // filled by the fold
	At time.Time `json:"at,omitzero"`  // filled by the fold
}

// Event is one op in a task's history.
type Event struct {
	Op      string    `json:"op"`
	Type    string    `json:"type"`
	Actor   Ref       `json:"actor"`
	Time    time.Time `json:"time"`
	Lamport uint64    `json:"lamport"`
	Epoch   uint64    `json:"epoch,omitempty"`
	Summary string    `json:"summary,omitempty"`
}

// Task is the folded state of one task.
type Task struct {
	ID           string                 `json:"id"`
	Title        string                 `json:"title"`
	Body         string                 `json:"body"`
	Labels       []string               `json:"labels"`
	Priority     string                 `json:"priority"`
	FailureModes []string               `json:"failure_modes"`
	State        string                 `json:"state"`
	CreatedBy    Ref                    `json:"created_by"`
	CreatedAt    time.Time              `json:"created_at"`
	UpdatedAt    time.Time              `json:"updated_at"`
	Lease        *Lease                 `json:"lease"`
	Epoch        uint64                 `json:"epoch"` // highest lease epoch granted so far
	Leases       []LeaseRecord          `json:"leases"`
	Implementers []string               `json:"implementers"` // identities that ever held a lease
	Links        []Link                 `json:"links"`        // outgoing
	LinkedFrom   []Link                 `json:"linked_from"`  // incoming
	OpenBlockers int                    `json:"open_blockers"`
	Gates        map[string]*GateRecord `json:"gates"`
	Escalation   *Escalation            `json:"escalation"` // open or latest
	Escalations  int                    `json:"escalations"`
	Comments     []Comment              `json:"comments"`
	Handoff      *Handoff               `json:"handoff"`
	Handoffs     int                    `json:"handoffs"`
	Questions    []Question             `json:"questions"`          // asked in handoffs, open until answered
	Accepted     []AcceptedCommit       `json:"accepted,omitempty"` // code commits accepted by task.accept
	History      []Event                `json:"history"`
	Order        string                 `json:"order"` // total-order key of the creating op
}

// Summary is the row `task list` prints.
type Summary struct {
	ID           string    `json:"id"`
	Title        string    `json:"title"`
	State        string    `json:"state"`
	Priority     string    `json:"priority"`
	Labels       []string  `json:"labels"`
	Lease        *Lease    `json:"lease"`
	OpenBlockers int       `json:"open_blockers"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Summarize returns the list row of a task.
func (t *Task) Summarize() Summary {
	return Summary{ID: t.ID, Title: t.Title, State: t.State, Priority: t.Priority, Labels: t.Labels, Lease: t.Lease,
		OpenBlockers: t.OpenBlockers, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}
