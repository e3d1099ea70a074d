// Package exitcode is the one table of outcomes every front end reports:
// the CLI's exit statuses (git covenant help exit-codes) and, derived from
// them, the HTTP gateway's status codes. Classify decides which an error
// is, with a hint naming the fix; the CLI adds only what is its own
// (command-line mistakes, the daemon's errors), the gateway only its
// transport's (tokens, Host and Origin).
package exitcode

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/budget"
	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/hooks"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/internal/lazyre"
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
	OK           = 0
	Error        = 1
	Usage        = 2
	NotRepo      = 3
	NotFound     = 4
	Conflict     = 5
	Unauthorized = 6
	Key          = 7
	Invalid      = 8
	NotWritable  = 9
	VerifyFailed = 10
	Interrupted  = 130
)

// Table describes every status, in order.
var Table = []struct {
	Code       int
	Name, Desc string
}{
	{OK, "ok", "success; for verify: no findings"},
	{Error, "error", "an unexpected failure (I/O, a git error); the message says which"},
	{Usage, "usage", "bad command line: unknown flag, missing or malformed argument or value"},
	{NotRepo, "not-a-repository", "not inside a git repository, a bare repository where a working tree is needed, or no .covenant/config.toml (run 'git covenant init')"},
	{NotFound, "not-found", "no such task, identity, remote, message or quarantined feed version; no message to claim"},
	{Conflict, "conflict", "the state does not allow it: task leased by someone else, no lease of yours, stale lease epoch, expired lease, illegal transition, an approval by someone who held the lease, name taken, another process changed the ref or holds the lock, or the remote kept changing during sync"},
	{Unauthorized, "unauthorized", "the acting identity is not trusted or lacks the authority for the op"},
	{Key, "key", "no identity yet, or a key file that is missing, unreadable, malformed or readable by others"},
	{Invalid, "invalid-data", ".covenant/config.toml or other input data fails validation"},
	{NotWritable, "not-writable", "the repository cannot be written (no permission, a read-only file system, a full disk); the write wrote nothing, reads and verify still work"},
	{VerifyFailed, "verify-failed", "verification found problems; each is printed with its feed, commit and reason (sync: something that came in was refused; doctor: a check failed)"},
	{Interrupted, "interrupted", "interrupted (SIGINT or SIGTERM): the command stopped and cleaned up after itself (temporary worktrees, child processes, locks), nothing partial was written; a second signal quits without waiting"},
}

// Classify maps an error to its exit status and a hint ("" when the
// message says enough).
func Classify(err error) (int, string) {
	var lock interface{ LockFile() string }
	if kind, ok := covenant.IsRejection(err); ok {
		if m := reMessage.FindString(err.Error()); m != "" && (kind == oplog.KindLeaseHeld || kind == oplog.KindStaleEpoch || kind == oplog.KindLeaseExpired) {
			return Conflict, "see the message's current lease and state with 'git covenant a2a status " + m + "'"
		}
		switch kind {
		case oplog.KindUntrustedKey, oplog.KindRevokedKey, oplog.KindRotatedKey:
			return Unauthorized, ""
		case oplog.KindUnauthorized:
			return Unauthorized, unauthorizedHint(err.Error())
		case oplog.KindNotFound:
			return NotFound, ""
		case oplog.KindInvalidBody:
			return Usage, ""
		case oplog.KindLeaseHeld:
			return Conflict, "wait for the lease to expire, or ask its holder to hand off or release it"
		case oplog.KindNotIndependent:
			return Conflict, "ask someone who never held the task's lease to review it: git covenant --as <reviewer> task review <id> --gate <gate> approve --note <text>"
		case oplog.KindStaleApproval:
			return Conflict, "the task went back for rework since the approval; ask for a new review"
		case oplog.KindStaleEpoch, oplog.KindLeaseExpired:
			return Conflict, "your lease is gone; see 'git covenant task show <id>', then claim it again with 'git covenant task start <id>'"
		case oplog.KindIllegal:
			return Conflict, illegalHint(err.Error())
		}
		return Conflict, ""
	}
	switch {
	case errors.Is(err, covenant.ErrNotWritable):
		return NotWritable, "run it as a user who may write the repository's .git directory, or free space on its disk; reads work as they are"
	case errors.Is(err, context.Canceled):
		return Interrupted, ""
	case errors.Is(err, agents.ErrInvalid):
		return Invalid, "fix the manifest and run the command again; nothing was dispatched"
	case errors.Is(err, covenant.ErrNotRepository):
		return NotRepo, "run this inside a git repository (git init creates one)"
	case errors.Is(err, covenant.ErrBareNoConfig):
		return NotRepo, "a bare repository reads .covenant/config.toml from HEAD: run 'git covenant init' in a clone with a working tree and push it here"
	case errors.Is(err, covenant.ErrNotCovenant):
		return NotRepo, "run 'git covenant init' to start using git-covenant in this repository"
	case errors.Is(err, covenant.ErrBare), errors.Is(err, covenant.ErrUnsupportedRepository):
		return NotRepo, ""
	case errors.Is(err, covenant.ErrAmbiguous):
		return Usage, "give more characters of the task id"
	case errors.Is(err, covenant.ErrTaskNotFound):
		return NotFound, "list tasks with 'git covenant task list'"
	case errors.Is(err, identity.ErrNotFound):
		return NotFound, "list identities with 'git covenant id list'"
	case errors.Is(err, identity.ErrNoIdentity):
		return Key, "create one with 'git covenant id new <name>'"
	case errors.Is(err, identity.ErrInsecure), errors.Is(err, identity.ErrBadKey):
		return Key, ""
	case errors.Is(err, covenant.ErrNoSuchGrant):
		return NotFound, "list grants with 'git covenant cap list'"
	case errors.Is(err, covenant.ErrQuestionNotFound):
		return NotFound, "'git covenant task resume <id>' lists the open questions by number"
	case errors.Is(err, covenant.ErrNeverClaimed):
		return Conflict, "claim it first: git covenant task start <id>"
	case errors.Is(err, covenant.ErrMessageNotFound):
		return NotFound, "list messages with 'git covenant a2a status'"
	case errors.Is(err, covenant.ErrNoMessage):
		return NotFound, "see 'git covenant a2a inbox'"
	case errors.Is(err, mailbox.ErrBadMessage):
		return Usage, ""
	case errors.Is(err, covenant.ErrNothingReady):
		return NotFound, "see 'git covenant task ready' and 'git covenant task list'"
	case errors.Is(err, hooks.ErrForeignHook):
		return Conflict, ""
	case errors.Is(err, identity.ErrExists):
		return Conflict, "pick another name, or use the existing identity with --as"
	case errors.Is(err, safetext.ErrControl), errors.Is(err, safetext.ErrInvalidUTF8):
		return Usage, "text may hold printable characters, tabs and newlines only: no escape sequences, other control characters or invalid UTF-8 (docs/format.md, Text)"
	case errors.Is(err, redact.ErrSecret):
		return Usage, "remove the secret (git covenant ignore check - explains what the rules find), or set [secrets] on_hit = \"redact\""
	case errors.Is(err, covenant.ErrNoMemory):
		return NotFound, "list memories with 'git covenant memory list --all'"
	case errors.Is(err, identity.ErrBadName), errors.Is(err, identity.ErrBadRole),
		errors.Is(err, tasks.ErrEmptyTitle), errors.Is(err, tasks.ErrBadPriority),
		errors.Is(err, tasks.ErrBadLabel), errors.Is(err, tasks.ErrBadHandoff),
		errors.Is(err, covenant.ErrBadInput), errors.Is(err, tasks.ErrBadInput):
		return Usage, ""
	case errors.Is(err, config.ErrInvalid):
		return Invalid, "fix the file and run the command again; nothing was written"
	case errors.Is(err, covenant.ErrUntrusted):
		return Unauthorized, "ask a trust root to run: git covenant id register <name> --key '<your public key>' --role <role> (git covenant id show prints your key)"
	case errors.As(err, &lock):
		return Conflict, "if no git or git-covenant process is using " + lock.LockFile() + ", remove it"
	case errors.Is(err, covenant.ErrRefConflict), errors.Is(err, covenant.ErrRefLocked), errors.Is(err, covenant.ErrBusy):
		return Conflict, "another process changed the repository at the same time; run the command again"
	case errors.Is(err, covenant.ErrFeedBroken):
		return VerifyFailed, ""
	case errors.Is(err, remote.ErrUnknownRemote):
		return NotFound, "name a remote of this repository (git remote -v lists them), or add one with git remote add"
	case errors.Is(err, remote.ErrBadRemoteName):
		return Usage, ""
	case errors.Is(err, remote.ErrNotQuarantined):
		return NotFound, "see 'git covenant quarantine list'"
	case errors.Is(err, remote.ErrRemoteMoved):
		return Conflict, "other clones kept pushing; run 'git covenant sync' again"
	case errors.Is(err, covenant.ErrNotAdmin):
		return Unauthorized, ""
	case errors.Is(err, covenant.ErrCannotRun):
		return Usage, "name a program on PATH, or give its path"
	case errors.Is(err, covenant.ErrBadRevision):
		return Usage, "name a commit or a range such as origin/main..HEAD"
	case errors.Is(err, agents.ErrNotFound):
		return NotFound, "list agents with 'git covenant agent list'"
	case errors.Is(err, agents.ErrExists):
		return Conflict, ""
	case errors.Is(err, agents.ErrUnknownTemplate):
		return Usage, ""
	case errors.Is(err, tokens.ErrNoSuchToken):
		return NotFound, "list tokens with 'git covenant token list'"
	case errors.Is(err, tokens.ErrNameTaken):
		return Conflict, ""
	case errors.Is(err, tokens.ErrRefused):
		return Unauthorized, "create a token with 'git covenant token create --name <n> --scope <s>'"
	case errors.Is(err, tokens.ErrBadToken):
		return Usage, ""
	case errors.Is(err, tokens.ErrFile):
		return Invalid, ""
	case errors.Is(err, budget.ErrResumed):
		return Conflict, "see 'git covenant budget checkpoints'"
	case errors.Is(err, budget.ErrExhausted):
		return Conflict, "see 'git covenant budget status'; raise it with 'git covenant budget set', or wait for the refill"
	case errors.Is(err, budget.ErrBadBudget):
		return Usage, ""
	case errors.Is(err, settle.ErrProof):
		return VerifyFailed, ""
	case errors.Is(err, settle.ErrBadBatch), errors.Is(err, receipts.ErrBadID):
		return Usage, ""
	}
	return Error, ""
}

// The hints below read the reason of a rejection, whose wording the fold
// (tasks, trust) owns; cmd/git-covenant/testdata/bad_input.txtar pins each.
var (
	reLacks   = &lazyre.Regexp{Expr: `^(\S+) lacks (\S+): (.*)$`}
	reRole    = &lazyre.Regexp{Expr: `^moving (\S+) to (\S+) needs role `}
	reIllegal = &lazyre.Regexp{Expr: `^cannot move (\S+) from \S+ to \S+; allowed: ([^,]+)`}
	reGates   = &lazyre.Regexp{Expr: `^cannot move (\S+) to \S+: gate\(s\) not satisfied`}
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
var reMessage = &lazyre.Regexp{Expr: `msg-[0-9a-f]{12}`}

func illegalHint(reason string) string {
	if m := reIllegal.FindStringSubmatch(reason); m != nil {
		return "move it through the allowed states, e.g. git covenant task move " + m[1] + " " + m[2] + " ('git covenant workflow show' prints the lifecycle)"
	}
	if m := reGates.FindStringSubmatch(reason); m != nil {
		return "record what the gates need: git covenant task review " + m[1] + " --gate <gate> approve --note <text>, or git covenant task check " + m[1] + " --gate <gate> -- <command>"
	}
	return ""
}

// HTTPStatus is the HTTP status of an exit status, for the gateway.
func HTTPStatus(code int) int {
	switch code {
	case OK:
		return http.StatusOK
	case Usage:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Unauthorized:
		return http.StatusForbidden
	case Interrupted, NotWritable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Name is an exit status's name in Table ("error" for one not in it).
func Name(code int) string {
	for _, e := range Table {
		if e.Code == code {
			return e.Name
		}
	}
	return "error"
}
