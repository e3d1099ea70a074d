package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/exitcode"
)

// Exit statuses (package exitcode holds the table; the gateway derives
// its HTTP statuses from it). They are part of the interface: scripts and
// hooks rely on them, so they never change meaning.
const (
	ExitOK           = exitcode.OK
	ExitError        = exitcode.Error
	ExitUsage        = exitcode.Usage
	ExitNotRepo      = exitcode.NotRepo
	ExitNotFound     = exitcode.NotFound
	ExitConflict     = exitcode.Conflict
	ExitUnauthorized = exitcode.Unauthorized
	ExitKey          = exitcode.Key
	ExitInvalid      = exitcode.Invalid
	ExitVerifyFailed = exitcode.VerifyFailed
	ExitInterrupted  = exitcode.Interrupted
)

func exitCodesText() string {
	var b strings.Builder
	b.WriteString("Exit statuses of git covenant:\n\n")
	for _, e := range exitcode.Table {
		fmt.Fprintf(&b, "  %3d  %-17s %s\n", e.Code, e.Name, e.Desc)
	}
	b.WriteString("\nEvery error prints one line 'git-covenant: error: ...' on stderr, often followed by\n'git-covenant: hint: ...'. Nothing is written when a command fails.\n")
	return b.String()
}

// usageError marks command-line mistakes.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// verifyFailed carries the verify exit status without an extra message.
type verifyFailed struct{ n int }

func (v verifyFailed) Error() string { return fmt.Sprintf("verification found %d problem(s)", v.n) }

// classify maps an error to its exit status and a hint: what is the
// CLI's own (command-line mistakes, the daemon's errors, verify's
// findings), then the shared table (package exitcode).
func classify(err error) (int, string) {
	var ue usageError
	var vf verifyFailed
	if _, ok := covenant.IsRejection(err); ok {
		return exitcode.Classify(err)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return ExitInterrupted, ""
	case errors.Is(err, daemon.ErrRunning):
		return ExitConflict, "stop it with 'git covenant daemon stop', or see 'git covenant daemon status'"
	case errors.Is(err, daemon.ErrNotRunning):
		return ExitNotFound, "start one with 'git covenant daemon start'"
	case errors.Is(err, daemon.ErrNoAgent):
		return ExitNotFound, "see the manifests in .covenant/agents/ ('git covenant agent list')"
	case errors.Is(err, daemon.ErrIdentity), errors.Is(err, daemon.ErrBadToken), errors.Is(err, daemon.ErrWrongTask):
		return ExitUnauthorized, ""
	case errors.Is(err, agents.ErrInvalid):
		return ExitInvalid, "fix the manifest and run the command again; nothing was dispatched"
	case errors.As(err, &vf):
		return ExitVerifyFailed, ""
	case strings.HasPrefix(err.Error(), "unknown command "): // cobra, at the top level
		return ExitUsage, "see 'git covenant help'"
	case errors.As(err, &ue):
		return ExitUsage, "see 'git covenant help' or add --help to the command"
	case errors.Is(err, errNoProvenance):
		return ExitNotFound, "record some with: git covenant provenance record <commit> -- <command>"
	}
	return exitcode.Classify(err)
}
