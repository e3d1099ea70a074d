package remote

import (
	"fmt"
	"strings"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/ledger"
)

// Ref namespaces sync reads and writes, besides the feeds
// (gitstore.FeedPrefix) and quarantine (ledger.QuarantinePrefix).
const (
	// IncomingPrefix is the staging namespace: what the last fetch saw on
	// each remote, refs/covenant/incoming/<remote>/{feeds/<key-id>,
	// leases/<task-id>, notes/covenant}. Nothing reads it as state.
	IncomingPrefix = "refs/covenant/incoming/"
	// LeasePrefix holds lease markers on a remote:
	// refs/covenant/leases/<task-id> points at the feed commit of the
	// claim a strong claim (task start --via) made.
	LeasePrefix = "refs/covenant/leases/"
	// RejectedPrefix remembers versions of an equivocating feed an admin
	// rejected: refs/covenant/rejected/<key-id>/<commit>. Sync does not
	// quarantine them again.
	RejectedPrefix = "refs/covenant/rejected/"
	// NotesRef is the provenance notes ref.
	NotesRef = "refs/notes/covenant"
)

var remoteNameRE = &lazyre.Regexp{Expr: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`}

// CheckName refuses remote names that cannot be part of a ref name.
func CheckName(name string) error {
	if !remoteNameRE.MatchString(name) || strings.Contains(name, "..") || strings.HasSuffix(name, ".lock") {
		return fmt.Errorf("%w %q: use letters, digits and . _ -", ErrBadRemoteName, name)
	}
	return nil
}

// stage is the staging namespace of one remote.
type stage string

func stageOf(remote string) stage { return stage(IncomingPrefix + remote + "/") }

func (s stage) feeds() string            { return string(s) + "feeds/" }
func (s stage) feed(key string) string   { return s.feeds() + key }
func (s stage) leases() string           { return string(s) + "leases/" }
func (s stage) lease(task string) string { return s.leases() + task }
func (s stage) notes() string            { return string(s) + "notes/covenant" }

// fetchSpecs are the refspecs sync fetches with: feeds (forced, so the
// staging ref mirrors the remote even when it was rewritten there) and
// notes (a pattern, since a missing exact source is an error on the
// command line).
func (s stage) fetchSpecs() []string {
	return []string{
		"+" + gitstore.FeedPrefix + "*:" + s.feeds() + "*",
		"+" + NotesRef + "*:" + string(s) + "notes/covenant*",
	}
}

// leaseSpec fetches one task's lease marker (a pattern: it may not exist).
func (s stage) leaseSpec(task string) string {
	return "+" + LeasePrefix + task + "*:" + s.leases() + task + "*"
}

// RejectedRef names the ref remembering a rejected feed version.
func RejectedRef(keyID string, version gitstore.Hash) string {
	return RejectedPrefix + keyID + "/" + version.String()
}

// keyed splits refs named <prefix><key-id>/<commit> by key.
func keyed(refs map[string]gitstore.Hash, prefix string) map[string][]gitstore.Hash {
	out := map[string][]gitstore.Hash{}
	for name, h := range refs {
		key, _, ok := strings.Cut(strings.TrimPrefix(name, prefix), "/")
		if ok && ledger.ValidKeyID(key) {
			out[key] = append(out[key], h)
		}
	}
	return out
}
