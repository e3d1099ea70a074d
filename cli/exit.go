package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/budget"
	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/hooks"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/mailbox"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/receipts"
	"github.com/git-covenant/git-covenant/redact"
	"github.com/git-covenant/git-covenant/remote"
	"github.com/git-covenant/git-covenant/safetext"
	"github.com/git-covenant/git-covenant/settle"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/tokens"
)

// Exit statuses. They are part of the interface: scripts and hooks rely on
// them, so they never change meaning.
const (
	ExitOK           = 0
	ExitError        = 1
	ExitUsage        = 2
	ExitNotRepo      = 3
	ExitNotFound     = 4
	ExitConflict     = 5
	ExitUnauthorized = 6
	ExitKey          = 7
	ExitInvalid      = 8
	ExitVerifyFailed = 10
	ExitInterrupted  = 130
)

var exitTable = []struct {
	code int
	name string
	desc string
}{
	{ExitOK, "ok", "success; for verify: no findings"},
	{ExitError, "error", "an unexpected failure (I/O, a git error); the message says which"},
	{ExitUsage, "usage", "bad command line: unknown flag, missing or malformed argument or value"},
	{ExitNotRepo, "not-a-repository", "not inside a git repository, a bare repository where a working tree is needed, or no .covenant/config.toml (run 'git covenant init')"},
	{ExitNotFound, "not-found", "no such task, identity, remote, message or quarantined feed version; no message to claim"},
	{ExitConflict, "conflict", "the state does not allow it: task leased by someone else, no lease of yours, stale lease epoch, expired lease, illegal transition, an approval by someone who held the lease, name taken, another process changed the ref or holds the lock, or the remote kept changing during sync"},
	{ExitUnauthorized, "unauthorized", "the acting identity is not trusted or lacks the authority for the op"},
	{ExitKey, "key", "no identity yet, or a key file that is missing, unreadable, malformed or readable by others"},
	{ExitInvalid, "invalid-data", ".covenant/config.toml or other input data fails validation"},
	{ExitVerifyFailed, "verify-failed", "verification found problems; each is printed with its feed, commit and reason (sync: something that came in was refused; doctor: a check failed)"},
	{ExitInterrupted, "interrupted", "interrupted (SIGINT or SIGTERM): the command stopped and cleaned up after itself (temporary worktrees, child processes, locks), nothing partial was written; a second signal quits without waiting"},
}

func exitCodesText() string {
	var b strings.Builder
	b.WriteString("Exit statuses of git covenant:\n\n")
	for _, e := range exitTable {
		fmt.Fprintf(&b, "  %3d  %-17s %s\n", e.code, e.name, e.desc)
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

// classify maps an error to its exit status and a hint.
func classify(err error) (int, string) {
	var ue usageError
	var vf verifyFailed
	var lock interface{ LockFile() string }
	if kind, ok := covenant.IsRejection(err); ok {
		if m := reMessage.FindString(err.Error()); m != "" && (kind == oplog.KindLeaseHeld || kind == oplog.KindStaleEpoch || kind == oplog.KindLeaseExpired) {
			return ExitConflict, "see the message's current lease and state with 'git covenant a2a status " + m + "'"
		}
		switch kind {
		case oplog.KindUntrustedKey, oplog.KindRevokedKey, oplog.KindRotatedKey:
			return ExitUnauthorized, ""
		case oplog.KindUnauthorized:
			return ExitUnauthorized, unauthorizedHint(err.Error())
		case oplog.KindNotFound:
			return ExitNotFound, ""
		case oplog.KindInvalidBody:
			return ExitUsage, ""
		case oplog.KindLeaseHeld:
			return ExitConflict, "wait for the lease to expire, or ask its holder to hand off or release it"
		case oplog.KindNotIndependent:
			return ExitConflict, "ask someone who never held the task's lease to review it: git covenant --as <reviewer> task review <id> --gate <gate> approve --note <text>"
		case oplog.KindStaleApproval:
			return ExitConflict, "the task went back for rework since the approval; ask for a new review"
		case oplog.KindStaleEpoch, oplog.KindLeaseExpired:
			return ExitConflict, "your lease is gone; see 'git covenant task show <id>', then claim it again with 'git covenant task start <id>'"
		case oplog.KindIllegal:
			return ExitConflict, illegalHint(err.Error())
		}
		return ExitConflict, ""
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
	case errors.Is(err, covenant.ErrNotRepository):
		return ExitNotRepo, "run this inside a git repository (git init creates one)"
	case errors.Is(err, covenant.ErrBareNoConfig):
		return ExitNotRepo, "a bare repository reads .covenant/config.toml from HEAD: run 'git covenant init' in a clone with a working tree and push it here"
	case errors.Is(err, covenant.ErrNotCovenant):
		return ExitNotRepo, "run 'git covenant init' to start using git-covenant in this repository"
	case errors.Is(err, covenant.ErrBare), errors.Is(err, covenant.ErrUnsupportedRepository):
		return ExitNotRepo, ""
	case errors.Is(err, covenant.ErrAmbiguous):
		return ExitUsage, "give more characters of the task id"
	case errors.Is(err, covenant.ErrTaskNotFound):
		return ExitNotFound, "list tasks with 'git covenant task list'"
	case errors.Is(err, identity.ErrNotFound):
		return ExitNotFound, "list identities with 'git covenant id list'"
	case errors.Is(err, identity.ErrNoIdentity):
		return ExitKey, "create one with 'git covenant id new <name>'"
	case errors.Is(err, identity.ErrInsecure), errors.Is(err, identity.ErrBadKey):
		return ExitKey, ""
	case errors.Is(err, covenant.ErrNoSuchGrant):
		return ExitNotFound, "list grants with 'git covenant cap list'"
	case errors.Is(err, covenant.ErrQuestionNotFound):
		return ExitNotFound, "'git covenant task resume <id>' lists the open questions by number"
	case errors.Is(err, covenant.ErrNeverClaimed):
		return ExitConflict, "claim it first: git covenant task start <id>"
	case errors.Is(err, covenant.ErrMessageNotFound):
		return ExitNotFound, "list messages with 'git covenant a2a status'"
	case errors.Is(err, covenant.ErrNoMessage):
		return ExitNotFound, "see 'git covenant a2a inbox'"
	case errors.Is(err, mailbox.ErrBadMessage):
		return ExitUsage, ""
	case errors.Is(err, covenant.ErrNothingReady):
		return ExitNotFound, "see 'git covenant task ready' and 'git covenant task list'"
	case errors.Is(err, hooks.ErrForeignHook):
		return ExitConflict, ""
	case errors.Is(err, identity.ErrExists):
		return ExitConflict, "pick another name, or use the existing identity with --as"
	case errors.Is(err, safetext.ErrControl), errors.Is(err, safetext.ErrInvalidUTF8):
		return ExitUsage, "text may hold printable characters, tabs and newlines only: no escape sequences, other control characters or invalid UTF-8 (docs/format.md, Text)"
	case errors.Is(err, redact.ErrSecret):
		return ExitUsage, "remove the secret (git covenant ignore check - explains what the rules find), or set [secrets] on_hit = \"redact\""
	case errors.Is(err, covenant.ErrNoMemory):
		return ExitNotFound, "list memories with 'git covenant memory list --all'"
	case errors.Is(err, identity.ErrBadName), errors.Is(err, identity.ErrBadRole),
		errors.Is(err, tasks.ErrEmptyTitle), errors.Is(err, tasks.ErrBadPriority),
		errors.Is(err, tasks.ErrBadLabel), errors.Is(err, tasks.ErrBadHandoff),
		errors.Is(err, covenant.ErrBadInput), errors.Is(err, tasks.ErrBadInput):
		return ExitUsage, ""
	case errors.Is(err, config.ErrInvalid):
		return ExitInvalid, "fix the file and run the command again; nothing was written"
	case errors.Is(err, covenant.ErrUntrusted):
		return ExitUnauthorized, "ask a trust root to run: git covenant id register <name> --key '<your public key>' --role <role> (git covenant id show prints your key)"
	case errors.As(err, &lock):
		return ExitConflict, "if no git or git-covenant process is using " + lock.LockFile() + ", remove it"
	case errors.Is(err, covenant.ErrRefConflict), errors.Is(err, covenant.ErrBusy):
		return ExitConflict, "another process changed the repository at the same time; run the command again"
	case errors.Is(err, covenant.ErrFeedBroken):
		return ExitVerifyFailed, ""
	case errors.Is(err, remote.ErrUnknownRemote):
		return ExitNotFound, "name a remote of this repository (git remote -v lists them), or add one with git remote add"
	case errors.Is(err, remote.ErrBadRemoteName):
		return ExitUsage, ""
	case errors.Is(err, remote.ErrNotQuarantined):
		return ExitNotFound, "see 'git covenant quarantine list'"
	case errors.Is(err, remote.ErrRemoteMoved):
		return ExitConflict, "other clones kept pushing; run 'git covenant sync' again"
	case errors.Is(err, covenant.ErrNotAdmin):
		return ExitUnauthorized, ""
	case errors.Is(err, covenant.ErrCannotRun):
		return ExitUsage, "name a program on PATH, or give its path"
	case errors.Is(err, covenant.ErrBadRevision):
		return ExitUsage, "name a commit or a range such as origin/main..HEAD"
	case errors.Is(err, agents.ErrInvalid):
		return ExitInvalid, "fix the manifest and run 'git covenant agent check' again"
	case errors.Is(err, agents.ErrNotFound):
		return ExitNotFound, "list agents with 'git covenant agent list'"
	case errors.Is(err, agents.ErrExists):
		return ExitConflict, ""
	case errors.Is(err, agents.ErrUnknownTemplate):
		return ExitUsage, ""
	case errors.Is(err, tokens.ErrNoSuchToken):
		return ExitNotFound, "list tokens with 'git covenant token list'"
	case errors.Is(err, tokens.ErrNameTaken):
		return ExitConflict, ""
	case errors.Is(err, tokens.ErrRefused):
		return ExitUnauthorized, "create a token with 'git covenant token create --name <n> --scope <s>'"
	case errors.Is(err, tokens.ErrBadToken):
		return ExitUsage, ""
	case errors.Is(err, tokens.ErrFile):
		return ExitInvalid, ""
	case errors.Is(err, budget.ErrResumed):
		return ExitConflict, "see 'git covenant budget checkpoints'"
	case errors.Is(err, budget.ErrExhausted):
		return ExitConflict, "see 'git covenant budget status'; raise it with 'git covenant budget set', or wait for the refill"
	case errors.Is(err, budget.ErrBadBudget):
		return ExitUsage, ""
	case errors.Is(err, settle.ErrProof):
		return ExitVerifyFailed, ""
	case errors.Is(err, settle.ErrBadBatch), errors.Is(err, receipts.ErrBadID):
		return ExitUsage, ""
	case errors.Is(err, errNoProvenance):
		return ExitNotFound, "record some with: git covenant provenance record <commit> -- <command>"
	}
	return ExitError, ""
}

// The hints below read the reason of a rejection, whose wording the fold
// (tasks, trust) owns; cmd/git-covenant/testdata/bad_input.txtar pins each.
var (
	reLacks   = regexp.MustCompile(`^(\S+) lacks (\S+): (.*)$`)
	reRole    = regexp.MustCompile(`^moving (\S+) to (\S+) needs role `)
	reIllegal = regexp.MustCompile(`^cannot move (\S+) from \S+ to \S+; allowed: ([^,]+)`)
	reGates   = regexp.MustCompile(`^cannot move (\S+) to \S+: gate\(s\) not satisfied`)
)

// unauthorizedHint names the fix for a refusal for lack of authority: a
// grant for a missing capability, registration for an unknown identity, an
// identity with the right role for a move guarded by roles.
func unauthorizedHint(reason string) string {
	if m := reLacks.FindStringSubmatch(reason); m != nil {
		if m[3] == "unknown identity" {
			return "a trust root registers it first: git covenant id register " + m[1] + " --key <public key> --grant " + m[2]
		}
		return "ask a trust root (or a holder of a delegable grant) for it: git covenant cap grant " + m[1] + " " + m[2]
	}
	if m := reRole.FindStringSubmatch(reason); m != nil {
		return "a grant does not change a role: act as an identity with that role (git covenant --as <name> task move " + m[1] + " " + m[2] + "; git covenant trust show lists roles), or ask one to make the move"
	}
	if strings.HasPrefix(reason, "only a human identity can resolve") {
		return "a human identity resolves it: git covenant --as <human> task resolve <id> --decision <text>"
	}
	return ""
}

// illegalHint names the next step after a move the workflow refused.
// reMessage finds the message a mailbox rejection is about.
var reMessage = regexp.MustCompile(`msg-[0-9a-f]{12}`)

func illegalHint(reason string) string {
	if m := reIllegal.FindStringSubmatch(reason); m != nil {
		return "move it through the allowed states, e.g. git covenant task move " + m[1] + " " + m[2] + " ('git covenant workflow show' prints the lifecycle)"
	}
	if m := reGates.FindStringSubmatch(reason); m != nil {
		return "record what the gates need: git covenant task review " + m[1] + " --gate <gate> approve --note <text>, or git covenant task check " + m[1] + " --gate <gate> -- <command>"
	}
	return ""
}
