package remote

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/ledger"
)

// MaxAttempts bounds how often sync fetches again because the remote moved
// while it pushed.
var MaxAttempts = 5

// Engine syncs one repository with one remote.
type Engine struct {
	Store  *gitstore.Store
	Git    *Git
	Remote string
	// Source is what the fold reads; its Heads are set by the engine.
	Source index.Source
	// Lock takes the covenant writer lock; Index returns the index open
	// for writing (only called with the lock held; the caller owns it and
	// closes it, if at all, in unlock).
	Lock  func() (unlock func(), err error)
	Index func() (*index.Index, error)
	Now   func() time.Time
	// Me is the acting identity's key id, if there is one: sync reports
	// its ops that the fold ignores once the remote's feeds are in.
	Me string

	names map[string]string // actor names by key id, for reports

	claimPull *pulled // the last PullForClaim's round, for PushClaim

	// beforePush, if set, runs before every push attempt (tests make the
	// remote move there).
	beforePush func()
}

// SyncReport is what a sync did.
type SyncReport struct {
	Remote      string           `json:"remote"`
	URL         string           `json:"url"`
	Received    []FeedUpdate     `json:"received"`
	Sent        []RefUpdate      `json:"sent"`
	Quarantined []Quarantine     `json:"quarantined"`
	Held        []Held           `json:"held"` // incoming ops dated too far ahead: not folded yet
	Notes       NotesReport      `json:"notes"`
	Lost        []index.LogEntry `json:"lost"` // Me's ops the fold now ignores
	Findings    []ledger.Finding `json:"findings"`
	Attempts    int              `json:"attempts"`
}

// NotesReport says what happened to refs/notes/covenant.
type NotesReport struct {
	Received string `json:"received,omitempty"` // fast-forward or merged
	Sent     bool   `json:"sent"`
	// Kept counts local notes the remote's side lacked or had other
	// lines for: a union never adopts a deletion.
	Kept int `json:"kept,omitempty"`
	// Ignored says what of the remote's notes ref was not taken (not a
	// commit, entries that are not notes).
	Ignored []string `json:"ignored,omitempty"`
}

func appendNew(list, more []string) []string {
	seen := map[string]bool{}
	for _, s := range list {
		seen[s] = true
	}
	for _, s := range more {
		if !seen[s] {
			seen[s] = true
			list = append(list, s)
		}
	}
	return list
}

// OK reports whether the sync found nothing wrong with what came in.
func (r *SyncReport) OK() bool { return len(r.Findings) == 0 }

// Sync fetches the remote's feeds and notes into staging, verifies and
// applies them, merges notes, and pushes what the remote lacks. If the
// remote moved while pushing, it starts again from the fetch, at most
// MaxAttempts times.
func (e *Engine) Sync() (*SyncReport, error) {
	url, err := e.remoteURL()
	if err != nil {
		return nil, err
	}
	rep := &SyncReport{Remote: e.Remote, URL: url, Received: []FeedUpdate{}, Sent: []RefUpdate{}, Quarantined: []Quarantine{}, Held: []Held{},
		Lost: []index.LogEntry{}, Findings: []ledger.Finding{}}
	var lostBefore map[string]bool
	atomic := true
	for attempt := 1; ; attempt++ {
		rep.Attempts = attempt
		p, err := e.pull(rep)
		if err != nil {
			return nil, err
		}
		if lostBefore == nil {
			lostBefore = p.lostBefore
		}
		rep.Lost = rep.Lost[:0]
		for _, le := range p.lostAfter {
			if !lostBefore[le.Order] {
				rep.Lost = append(rep.Lost, le)
			}
		}
		updates, err := e.pushSet(p.staged, p.skip, p.broken)
		if err != nil {
			return nil, err
		}
		if len(updates) == 0 {
			return rep, nil
		}
		if e.beforePush != nil {
			e.beforePush()
		}
		out, why, err := e.push(updates, atomic)
		if err != nil {
			return nil, err
		}
		switch out {
		case pushed:
			rep.Sent = append(rep.Sent, updates...)
			for _, u := range updates {
				if u.Ref == NotesRef {
					rep.Notes.Sent = true
				}
			}
			return rep, nil
		case pushNoAtoms:
			atomic = false
		}
		if attempt >= MaxAttempts {
			return rep, fmt.Errorf("%w: %d attempts, last refused: %s", ErrRemoteMoved, attempt, why)
		}
	}
}

// pulled is what one fetch-and-apply round left for the push.
type pulled struct {
	staged       *Staged
	skip, broken map[string]bool
	lostBefore   map[string]bool
	lostAfter    []index.LogEntry
}

// pull fetches into staging and applies what verifies, under the writer
// lock (so staging has one writer and a lock file found there is stale).
func (e *Engine) pull(rep *SyncReport, extra ...string) (*pulled, error) {
	unlock, err := e.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := fetch(e.Store, e.Git, e.Remote, extra...); err != nil {
		return nil, err
	}
	ix, err := e.Index()
	if err != nil {
		return nil, err
	}
	if err := e.catchUp(ix); err != nil {
		return nil, err
	}
	known := map[gitstore.Hash]bool{}
	if m, err := ix.Meta(); err != nil {
		return nil, err
	} else {
		for _, pos := range m.Feeds {
			if h, err := gitstore.ParseHash(pos.Head); err == nil {
				known[h] = true
			}
		}
	}
	staged, err := readStaged(e.Store, e.Remote, known)
	if err != nil {
		return nil, err
	}
	p := &pulled{staged: staged, broken: map[string]bool{}, lostBefore: map[string]bool{}}
	if e.Me != "" {
		before, err := ix.RejectedOps("", e.Me)
		if err != nil {
			return nil, err
		}
		for _, le := range before {
			p.lostBefore[le.Order] = true
		}
	}
	in, err := e.applyStaged(ix, staged)
	if err != nil {
		return nil, err
	}
	p.skip = in.skip
	rep.Received = append(rep.Received, in.received...)
	rep.Quarantined = append(rep.Quarantined, in.quarantined...)
	for _, h := range in.held {
		dup := false
		for _, o := range rep.Held {
			dup = dup || o.Commit == h.Commit
		}
		if !dup {
			rep.Held = append(rep.Held, h)
		}
	}
	rep.Findings = mergeFindings(rep.Findings, in.findings)
	got, err := mergeNotes(e.Store, e.Remote, staged.Notes, e.Now())
	if err != nil {
		return nil, fmt.Errorf("merge notes: %w", err)
	}
	if got.did != "" {
		rep.Notes.Received = got.did
	}
	rep.Notes.Kept += got.kept
	rep.Notes.Ignored = appendNew(rep.Notes.Ignored, got.ignored)
	staged.NotesBad = got.bad
	// What is broken here is not pushed; names are for the report.
	if err := e.catchUp(ix); err != nil {
		return nil, err
	}
	m, err := ix.Meta()
	if err != nil {
		return nil, err
	}
	for k, pos := range m.Feeds {
		if pos.Broken != nil {
			p.broken[k] = true
		}
	}
	actors, err := ix.Actors()
	if err != nil {
		return nil, err
	}
	e.names = map[string]string{}
	for _, a := range actors {
		e.names[a.KeyID] = a.Name
	}
	for i := range rep.Quarantined {
		rep.Quarantined[i].Name = e.names[rep.Quarantined[i].Feed]
	}
	if e.Me != "" {
		if p.lostAfter, err = ix.RejectedOps("", e.Me); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// mergeFindings appends fs to have, leaving out repeats (a retry reads the
// same staged feeds again).
func mergeFindings(have, fs []ledger.Finding) []ledger.Finding {
	seen := map[string]bool{}
	for _, f := range have {
		seen[f.String()] = true
	}
	for _, f := range fs {
		if !seen[f.String()] {
			seen[f.String()] = true
			have = append(have, f)
		}
	}
	sort.SliceStable(have, func(i, j int) bool { return have[i].Feed < have[j].Feed })
	return have
}

// catchUp brings the index up to date with the feeds, skipping the write
// transaction when it already is.
func (e *Engine) catchUp(ix *index.Index) error {
	m, err := ix.Meta()
	if err != nil {
		return err
	}
	heads, err := index.Heads(e.Store)
	if err != nil {
		return err
	}
	if m.Fresh(heads, e.Source.Config) {
		return nil
	}
	_, err = ix.Update(e.Source, false, nil)
	return err
}

// remoteURL finds the remote's URL in the repository's own config file
// without starting git; a remote defined elsewhere (global config,
// includes) is asked of git.
func (e *Engine) remoteURL() (string, error) {
	if err := CheckName(e.Remote); err != nil {
		return "", err
	}
	if url := configURL(filepath.Join(e.Store.CommonDir, "config"), e.Remote); url != "" {
		return url, nil
	}
	return e.Git.URL(e.Remote)
}

// configURL reads remote.<name>.url from a git config file, or "".
func configURL(path, name string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			in = line == `[remote "`+name+`"]`
			continue
		}
		if !in {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "url") {
			v = strings.TrimSpace(v)
			if strings.ContainsAny(v, "\"\\;#") { // quoting or escapes: let git read it
				return ""
			}
			return v
		}
	}
	return ""
}
