package provenance

import (
	"errors"
	"strings"
)

// PredicateType is the in-toto test-result predicate this package writes.
const PredicateType = "https://in-toto.io/attestation/test-result/v0.1"

// NotesRef is where provenance bundles live.
const NotesRef = "refs/notes/covenant"

// Results of a validation command, as the test-result predicate names them.
const (
	Passed = "PASSED"
	Failed = "FAILED"
)

var (
	// ErrCommand means the validation command could not be started.
	ErrCommand = errors.New("validation command did not run")
	// ErrNoCommit means the commit to record does not exist.
	ErrNoCommit = errors.New("no such commit")
)

// Predicate is the in-toto test-result predicate (result, configuration)
// with a "covenant" extension object.
type Predicate struct {
	Result        string       `json:"result"`
	Configuration []Descriptor `json:"configuration"`
	Covenant      Extension    `json:"covenant"`
}

// Descriptor is an in-toto resource descriptor naming a test configuration.
type Descriptor struct {
	Name string `json:"name"`
}

// Extension binds the evidence to git-covenant's state.
type Extension struct {
	Version       int      `json:"version"`
	Actor         Actor    `json:"actor"`
	Task          string   `json:"task,omitempty"`
	LeaseEpoch    uint64   `json:"leaseEpoch,omitempty"`
	TransitionOps []string `json:"transitionOps,omitempty"`
	RecordedAt    string   `json:"recordedAt"`
	Evidence      Evidence `json:"evidence"`
}

// Actor names the signer.
type Actor struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// Evidence is what running the validation command showed.
type Evidence struct {
	Command      []string `json:"command"`
	ExitCode     int      `json:"exitCode"`
	DurationMs   int64    `json:"durationMs"`
	StartedAt    string   `json:"startedAt"`
	OutputSHA256 string   `json:"outputSha256"`
	OutputBytes  int64    `json:"outputBytes"`
	// OutputTail is the last bytes of the output (at most TailBytes), so a
	// failure can be read from the note alone.
	OutputTail string `json:"outputTail,omitempty"`
}

// TailBytes caps the output kept in a note.
const TailBytes = 2048

// CommandLine renders argv as one line, quoting words with spaces.
func CommandLine(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
