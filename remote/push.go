package remote

import (
	"fmt"
	"sort"
	"strings"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/ledger"
)

// RefUpdate is a ref sync pushed to the remote.
type RefUpdate struct {
	Ref  string `json:"ref"`
	Name string `json:"name,omitempty"` // the feed's actor
	From string `json:"from,omitempty"` // absent for a ref new on the remote
	To   string `json:"to"`
}

// pushSet lists the local refs the remote lacks or has an older version
// of: feeds (never one that is quarantined, refused or broken here, never
// one the remote holds a diverging version of) and notes.
func (e *Engine) pushSet(staged *Staged, skip map[string]bool, broken map[string]bool) ([]RefUpdate, error) {
	st := e.Store
	heads, err := st.FeedHeads()
	if err != nil {
		return nil, err
	}
	forks, err := ledger.Forks(st, heads)
	if err != nil {
		return nil, err
	}
	var out []RefUpdate
	keys := make([]string, 0, len(heads))
	for k := range heads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l := heads[k]
		if skip[k] || broken[k] || forks[k] != nil || !ledger.ValidKeyID(k) {
			continue
		}
		u := RefUpdate{Ref: gitstore.FeedRef(k), To: l.String(), Name: e.names[k]}
		r, ok := staged.Feeds[k]
		switch {
		case !ok:
		case r == l:
			continue
		default:
			if class, _ := classify(st, l, true, r); class != classBehind {
				continue
			}
			u.From = r.String()
		}
		out = append(out, u)
	}
	local, ok, err := st.ReadRef(NotesRef)
	if err != nil {
		return nil, err
	}
	if ok && local != staged.Notes && !staged.NotesBad {
		u := RefUpdate{Ref: NotesRef, To: local.String()}
		anc := staged.Notes.IsZero()
		if !anc {
			u.From = staged.Notes.String()
			if anc, err = reachable(st, staged.Notes, local); err != nil {
				return nil, err
			}
		}
		if anc {
			out = append(out, u)
		}
	}
	return out, nil
}

// pushOutcome classifies a finished push.
type pushOutcome int

const (
	pushed      pushOutcome = iota
	pushRetry               // the remote moved: fetch again and retry
	pushNoAtoms             // the remote does not support --atomic
)

// push sends updates with explicit refspecs, never forced, atomically when
// the remote supports it. A ref the remote moved meanwhile is refused by
// git (not a fast-forward, or the remote's compare-and-swap failed), and
// the caller fetches again and retries; nothing is ever overwritten.
func (e *Engine) push(updates []RefUpdate, atomic bool, extra ...string) (pushOutcome, string, error) {
	args := []string{"push", "--porcelain", "--recurse-submodules=no"}
	if atomic {
		args = append(args, "--atomic")
	}
	args = append(args, extra...)
	args = append(args, e.Remote)
	for _, u := range updates {
		args = append(args, u.To+":"+u.Ref)
	}
	res, err := e.Git.run(args...)
	if err != nil {
		return 0, "", err
	}
	if res.code == 0 {
		return pushed, "", nil
	}
	if strings.Contains(string(res.stderr), "does not support --atomic") {
		return pushNoAtoms, "", nil
	}
	var reasons []string
	retry := false
	for _, line := range strings.Split(string(res.stdout), "\n") {
		if !strings.HasPrefix(line, "!\t") {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) < 3 || strings.Contains(f[2], "atomic push failed") {
			continue
		}
		reasons = append(reasons, f[1]+" "+f[2])
		if retriable(f[2]) {
			retry = true
		} else {
			return 0, "", fmt.Errorf("%w: git push refused %s", ErrGit, strings.Join(reasons, "; "))
		}
	}
	if retry {
		return pushRetry, strings.Join(reasons, "; "), nil
	}
	return 0, "", res.err(args)
}

// retriable reports whether a refusal means the remote ref moved since it
// was fetched, rather than a hook or policy saying no.
func retriable(summary string) bool {
	for _, s := range []string{"fetch first", "non-fast-forward", "stale info", "failed to update ref", "cannot lock ref", "incorrect old value", "failed to lock", "atomic transaction failed"} {
		if strings.Contains(summary, s) {
			return true
		}
	}
	return false
}
