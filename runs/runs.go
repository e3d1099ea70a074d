package runs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/tasks"
)

// OpRecord is the op type this package folds.
const OpRecord = "run.record"

// Kind is the record kind run records are stored under, keyed by run id.
const Kind = "run"

// ErrBadRun means a run record's body is out of range.
var ErrBadRun = errors.New("invalid run record")

// Outcomes of a run.
const (
	// Exited: the agent ended by itself (any exit status).
	Exited = "exited"
	// TimedOut: the manifest's timeout stopped it.
	TimedOut = "timed-out"
	// Stopped: the daemon stopped it (daemon stop, shutdown).
	Stopped = "stopped"
	// Abandoned: the daemon that ran it died; on restart its process was
	// gone, so how it ended is unknown.
	Abandoned = "abandoned"
	// Adopted: a restarted daemon found it still running and watched it
	// to its end; not its parent, it cannot know the exit status.
	Adopted = "adopted"
)

// Outcomes lists every outcome.
var Outcomes = []string{Exited, TimedOut, Stopped, Abandoned, Adopted}

// Tokens is the model usage an agent reported, where it reports it.
type Tokens struct {
	Input  int64 `json:"input"`
	Output int64 `json:"output"`
}

// RecordBody is the body of run.record. The task is the op's task; the
// epoch is the lease epoch the run worked under.
type RecordBody struct {
	Run      string `json:"run"`
	Agent    string `json:"agent"`    // identity the run acted as
	Manifest string `json:"manifest"` // .covenant/agents/<manifest>.toml
	Epoch    uint64 `json:"epoch"`
	// Command is the hex SHA-256 of the argv (JSON array) that ran.
	Command string `json:"command"`
	Outcome string `json:"outcome"`
	// ExitCode is the exit status (128+n for signal n); absent when the
	// outcome is abandoned or adopted.
	ExitCode *int   `json:"exit_code,omitempty"`
	Signal   string `json:"signal,omitempty"`
	// Started is when the process started, RFC 3339 in UTC.
	Started      string  `json:"started"`
	DurationMS   int64   `json:"duration_ms"`
	CPUMS        int64   `json:"cpu_ms"`
	MaxRSS       int64   `json:"max_rss"`
	OutputSHA256 string  `json:"output_sha256,omitempty"`
	OutputBytes  int64   `json:"output_bytes"`
	Tokens       *Tokens `json:"tokens,omitempty"`
	// Credits is the cost the agent reported, in millionths of a US dollar
	// (budgets and receipts count it, package receipts).
	Credits int64 `json:"credits,omitempty"`
	// Branch is the run's branch (covenant/<task>), Base the commit it
	// started from, Head its tip at the end and Commits the commits on it
	// since Base, newest first.
	Branch  string   `json:"branch,omitempty"`
	Base    string   `json:"base,omitempty"`
	Head    string   `json:"head,omitempty"`
	Commits []string `json:"commits,omitempty"`
	// Sandbox is the confinement backend the agent ran under.
	Sandbox string `json:"sandbox,omitempty"`
	// Validation is the manifest's validation command's result, when it
	// ran (after an exit 0).
	Validation *Validation `json:"validation,omitempty"`
	// Failed says the run failed although the agent may have exited 0:
	// the tool reported an error in its output, or the validation failed.
	Failed bool `json:"failed,omitempty"`
	// Note says what else happened (a stop, the final message's absence).
	Note string `json:"note,omitempty"`
}

// Validation is the evidence of a validation command run.
type Validation struct {
	Command      string `json:"command"` // hex SHA-256 of its argv as JSON
	ExitCode     int    `json:"exit_code"`
	TimedOut     bool   `json:"timed_out,omitempty"`
	DurationMS   int64  `json:"duration_ms"`
	OutputSHA256 string `json:"output_sha256"`
	OutputBytes  int64  `json:"output_bytes"`
}

// Succeeded reports whether the run succeeded: it exited 0 by itself, the
// tool reported no error and the validation, if any, passed.
func (b *RecordBody) Succeeded() bool {
	return b.Outcome == Exited && b.ExitCode != nil && *b.ExitCode == 0 && !b.Failed
}

// CutShort reports whether the run's work was cut short (the daemon
// stopped it, or died under it): the task is dispatched again, whereas a
// run that ended by itself or timed out, in whatever state it left the
// task, is not repeated until someone else acts on the task.
func (b *RecordBody) CutShort() bool {
	return b.Outcome == Stopped || b.Outcome == Abandoned
}

var (
	runRE    = &lazyre.Regexp{Expr: `^run-[0-9a-f]{16}$`}
	hexRE    = &lazyre.Regexp{Expr: `^[0-9a-f]{64}$`}
	commitRE = &lazyre.Regexp{Expr: `^[0-9a-f]{40}$`}
)

// MaxCommits bounds the commits a record lists.
const MaxCommits = 1000

// Check validates the body.
func (b *RecordBody) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadRun, fmt.Sprintf(format, args...))
	}
	switch {
	case !runRE.MatchString(b.Run):
		return bad("run id %q (want run- and 16 hex digits)", b.Run)
	case strings.TrimSpace(b.Agent) == "" || len(b.Agent) > 64:
		return bad("agent identity %q", b.Agent)
	case b.Manifest == "" || len(b.Manifest) > 64 || strings.ContainsAny(b.Manifest, "/\\ "):
		return bad("manifest name %q", b.Manifest)
	case b.Epoch == 0:
		return bad("a run works under a lease epoch")
	case !hexRE.MatchString(b.Command):
		return bad("command digest %q is not a hex SHA-256", b.Command)
	case !has(Outcomes, b.Outcome):
		return bad("outcome %q (want %s)", b.Outcome, strings.Join(Outcomes, ", "))
	case (b.Outcome == Abandoned || b.Outcome == Adopted) != (b.ExitCode == nil):
		return bad("an exit status is known exactly when the outcome is not abandoned or adopted")
	case b.ExitCode != nil && (*b.ExitCode < 0 || *b.ExitCode > 255):
		return bad("exit status %d", *b.ExitCode)
	case b.DurationMS < 0 || b.CPUMS < 0 || b.MaxRSS < 0 || b.OutputBytes < 0:
		return bad("negative duration, CPU time, memory or output size")
	case b.OutputSHA256 != "" && !hexRE.MatchString(b.OutputSHA256):
		return bad("output digest %q", b.OutputSHA256)
	case b.Tokens != nil && (b.Tokens.Input < 0 || b.Tokens.Output < 0):
		return bad("negative token counts")
	case b.Credits < 0:
		return bad("negative credits")
	case len(b.Commits) > MaxCommits:
		return bad("%d commits (at most %d)", len(b.Commits), MaxCommits)
	case len(b.Note) > 4096:
		return bad("note longer than 4 KiB")
	case len(b.Sandbox) > 32:
		return bad("sandbox name %q", b.Sandbox)
	}
	if v := b.Validation; v != nil && (!hexRE.MatchString(v.Command) || v.ExitCode < 0 || v.ExitCode > 255 || v.DurationMS < 0 ||
		v.OutputBytes < 0 || (v.OutputSHA256 != "" && !hexRE.MatchString(v.OutputSHA256))) {
		return bad("validation evidence out of range")
	}
	if _, err := time.Parse(time.RFC3339, b.Started); err != nil {
		return bad("started %q is not an RFC 3339 time", b.Started)
	}
	for _, c := range append([]string{b.Base, b.Head}, b.Commits...) {
		if c != "" && !commitRE.MatchString(c) {
			return bad("%q is not a commit id", c)
		}
	}
	if b.Branch != "" && !strings.HasPrefix(b.Branch, "covenant/") {
		return bad("branch %q is not a covenant/<task> branch", b.Branch)
	}
	return nil
}

// Record is the folded state of one run.
type Record struct {
	RecordBody
	Task string    `json:"task"`
	By   tasks.Ref `json:"by"` // the daemon that signed it
	At   time.Time `json:"at"`
	Op   string    `json:"op"`
}

// NewID returns a fresh run id.
func NewID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "run-" + hex.EncodeToString(b[:])
}

// Summary is the one line a task's history shows for a record.
func (b *RecordBody) Summary() string {
	s := b.Run + " by " + b.Agent + ": " + b.Outcome
	if b.ExitCode != nil {
		s += fmt.Sprintf(" (exit %d)", *b.ExitCode)
	}
	if v := b.Validation; v != nil {
		s += fmt.Sprintf(", validation exit %d", v.ExitCode)
	}
	if b.Failed {
		s += ", failed"
	}
	if n := len(b.Commits); n > 0 {
		s += fmt.Sprintf(", %d commit(s)", n)
	}
	return s
}

func has(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
