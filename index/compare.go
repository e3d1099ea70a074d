package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	bolt "go.etcd.io/bbolt"
)

// Folded is a state folded from the feeds alone (verify --full), to be
// compared with what the index holds.
type Folded struct {
	State    *tasks.MemState
	Workflow *tasks.Workflow
	// Log is every op the fold took in, in fold order.
	Log []LogCheck
	// Feed are the feed-level findings (shape, signatures, causal bounds).
	Feed []ledger.Finding
	// Records lists every record a family stored, "kind/key" to JSON.
	Records map[string][]byte
}

// LogCheck is what the index's op log must say about one op.
type LogCheck struct {
	Order    string // total-order key
	Commit   string
	Rejected string // rejection kind, "" when accepted
}

// Mismatch is one place where the index differs from the fold of the feeds.
type Mismatch struct {
	What   string `json:"what"` // task, list, ready, actor, principal, grant, record, posting, log, finding, meta
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Compare checks every row the index answers reads from (tasks, the task
// list, the ready queue, actors, identities, grants, family records, the
// op log, the findings and the counts) against want, and returns where
// they differ, in bucket and key order. Rows are compared as canonical
// JSON, so only a difference in meaning counts.
func (ix *Index) Compare(want *Folded) ([]Mismatch, error) {
	var out []Mismatch
	err := ix.view(func(tx *bolt.Tx) error {
		out = out[:0]
		c := comparer{tx: tx}
		st := want.State
		byOrder := make(map[string]*tasks.Task, len(st.Tasks))
		ready := map[string]*tasks.Task{}
		for _, t := range st.Tasks {
			byOrder[t.Order] = t
			if want.Workflow != nil && ReadyEligible(want.Workflow, t) {
				ready[string(readyKey(t))] = t
			}
		}
		c.bucket(bTasks, "task", len(st.Tasks), func(k string) (any, bool) { t, ok := st.Tasks[k]; return t, ok }, keysOf(st.Tasks), nil)
		c.bucket(bList, "list", len(byOrder), func(k string) (any, bool) {
			t, ok := byOrder[k]
			if !ok {
				return nil, false
			}
			return t.Summarize(), true
		}, keysOf(byOrder), nil)
		c.bucket(bReady, "ready", len(ready), func(k string) (any, bool) {
			t, ok := ready[k]
			if !ok {
				return nil, false
			}
			return t.Summarize(), true
		}, keysOf(ready), func(k string, v []byte) ([]byte, string) {
			t := ready[k]
			want := readyValue(t, nil)
			if len(v) < len(want) || !bytes.Equal(v[:len(want)], want) {
				return nil, "lease expiry differs"
			}
			return v[len(want):], ""
		})
		c.bucket(bActors, "actor", len(st.Actors), func(k string) (any, bool) { a, ok := st.Actors[k]; return a, ok }, keysOf(st.Actors), nil)
		c.bucket(bPrinc, "principal", len(st.Principals), func(k string) (any, bool) { p, ok := st.Principals[k]; return p, ok }, keysOf(st.Principals), nil)
		c.bucket(bGrants, "grant", len(st.Grants), func(k string) (any, bool) { g, ok := st.Grants[k]; return g, ok }, keysOf(st.Grants), nil)
		c.bucket(bRecords, "record", len(want.Records), func(k string) (any, bool) {
			raw, ok := want.Records[k]
			return json.RawMessage(raw), ok
		}, keysOf(want.Records), nil)
		c.postings(st.PostingKeys())
		c.log(want)
		c.findings(want)
		c.meta(want)
		out = c.out
		return nil
	})
	return out, err
}

// postings compares the posting keys (fold.Postings) with the fold's.
func (c *comparer) postings(want map[string]struct{}) {
	seen := 0
	if b := c.tx.Bucket(bPostings); b != nil {
		b.ForEach(func(k, _ []byte) error {
			if _, ok := want[string(k)]; ok {
				seen++
			} else {
				c.add("posting", strings.ReplaceAll(string(k), "\x00", " "), "in the index, not in the fold of the feeds")
			}
			return nil
		})
	}
	if seen != len(want) {
		var missing []string
		for k := range want {
			if b := c.tx.Bucket(bPostings); b == nil || !hasKey(b, []byte(k)) {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		for _, k := range missing {
			c.add("posting", strings.ReplaceAll(k, "\x00", " "), "in the fold of the feeds, not in the index")
		}
	}
}

func hasKey(b *bolt.Bucket, k []byte) bool {
	got, _ := b.Cursor().Seek(k)
	return bytes.Equal(got, k)
}

func keysOf[V any](m map[string]V) func(func(string)) {
	return func(fn func(string)) {
		for k := range m {
			fn(k)
		}
	}
}

type comparer struct {
	tx  *bolt.Tx
	out []Mismatch
}

func (c *comparer) add(what, key, format string, args ...any) {
	c.out = append(c.out, Mismatch{What: what, Key: key, Reason: fmt.Sprintf(format, args...)})
}

// bucket compares a bucket with n expected rows; get returns the expected
// value of a key, each enumerates the expected keys; strip, if set, splits a stored value into the JSON part
// (or gives a reason it already differs).
func (c *comparer) bucket(name []byte, what string, n int, get func(string) (any, bool), each func(func(string)), strip func(string, []byte) ([]byte, string)) {
	b := c.tx.Bucket(name)
	seen := 0
	if b != nil {
		b.ForEach(func(k, v []byte) error {
			key := string(k)
			w, ok := get(key)
			if !ok {
				c.add(what, key, "in the index, not in the fold of the feeds")
				return nil
			}
			seen++
			if strip != nil {
				var why string
				if v, why = strip(key, v); why != "" {
					c.add(what, key, "%s", why)
					return nil
				}
			}
			if !sameJSON(v, w) {
				c.add(what, key, "differs from the fold of the feeds")
			}
			return nil
		})
	}
	if seen == n {
		return
	}
	// Some expected rows are missing: name them (rare, so a second pass).
	have := map[string]bool{}
	if b != nil {
		b.ForEach(func(k, _ []byte) error { have[string(k)] = true; return nil })
	}
	var missing []string
	each(func(k string) {
		if !have[k] {
			missing = append(missing, k)
		}
	})
	sort.Strings(missing)
	for _, k := range missing {
		c.add(what, k, "in the fold of the feeds, missing from the index")
	}
}

// sameJSON reports whether a stored row means the same as want.
func sameJSON(stored []byte, want any) bool {
	raw, ok := want.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(want); err != nil {
			return false
		}
	}
	if bytes.Equal(stored, raw) {
		return true
	}
	a, err := oplog.Canonicalize(stored)
	if err != nil {
		return false
	}
	b, err := oplog.Canonicalize(raw)
	return err == nil && bytes.Equal(a, b)
}

func (c *comparer) log(want *Folded) {
	b := c.tx.Bucket(bLog)
	exp := make(map[string]*LogCheck, len(want.Log))
	for i := range want.Log {
		exp[want.Log[i].Order] = &want.Log[i]
	}
	seen := map[string]bool{}
	if b != nil {
		b.ForEach(func(k, v []byte) error {
			key := string(k)
			w, ok := exp[key]
			if !ok {
				c.add("log", key, "an op the fold of the feeds does not have")
				return nil
			}
			seen[key] = true
			var le LogEntry
			if err := json.Unmarshal(v, &le); err != nil {
				c.add("log", key, "row does not decode")
				return nil
			}
			rej := ""
			if le.Rejected != nil {
				rej = le.Rejected.Kind
			}
			switch {
			case le.Op != w.Commit:
				c.add("log", key, "names commit %s, the feeds have %s", le.Op, w.Commit)
			case rej != w.Rejected:
				c.add("log", key, "op %s: the index says %s, the fold of the feeds %s", w.Commit, verdict(rej), verdict(w.Rejected))
			}
			return nil
		})
	}
	for _, w := range want.Log {
		if !seen[w.Order] {
			c.add("log", w.Order, "op %s is missing from the index", w.Commit)
		}
	}
}

func verdict(kind string) string {
	if kind == "" {
		return "accepted"
	}
	return "rejected (" + kind + ")"
}

// findings compares the findings the incremental verify reports.
func (c *comparer) findings(want *Folded) {
	exp := map[string]string{}
	for _, w := range want.Log {
		if w.Rejected != "" {
			exp["fold/"+w.Order] = w.Rejected
		}
	}
	for _, f := range want.Feed {
		exp["feed/"+f.Feed+"/"+f.Kind+"/"+f.Commit] = f.Kind
	}
	seen := map[string]bool{}
	if b := c.tx.Bucket(bFindings); b != nil {
		b.ForEach(func(k, v []byte) error {
			key := string(k)
			kind, ok := exp[key]
			var f ledger.Finding
			if err := json.Unmarshal(v, &f); err != nil || !ok || f.Kind != kind {
				c.add("finding", key, "a finding the verification of the feeds does not make")
				return nil
			}
			seen[key] = true
			return nil
		})
	}
	var missing []string
	for k := range exp {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		c.add("finding", k, "%s: missing from the index, so an incremental verify would not report it", exp[k])
	}
}

func (c *comparer) meta(want *Folded) {
	var m Meta
	if b := c.tx.Bucket(bMeta); b != nil {
		if v := b.Get(bMeta); v != nil {
			if err := json.Unmarshal(v, &m); err != nil {
				c.add("meta", "", "does not decode")
				return
			}
		}
	}
	rejected := 0
	for _, w := range want.Log {
		if w.Rejected != "" {
			rejected++
		}
	}
	if m.Ops != len(want.Log) || m.Rejected != rejected || m.Tasks != len(want.State.Tasks) {
		c.add("meta", "", "counts %d ops, %d rejected, %d tasks; the fold of the feeds %d, %d, %d",
			m.Ops, m.Rejected, m.Tasks, len(want.Log), rejected, len(want.State.Tasks))
	}
}
