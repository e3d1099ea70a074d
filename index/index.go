// Package index keeps the derived, local-only state under .git/covenant/:
// folded tasks and actors, the op log in fold order and, per feed, how far it
// has been verified. It is never committed and never a source of truth: it
// records the feed heads and config digest it was folded from, catches up
// incrementally when they move (also when plain git moved them), and is
// rebuilt from scratch when that is not possible.
//
// It folds through a fold.Registry given in its Source, and imports fold,
// gitstore, ledger, oplog, tasks and trust (whose records it keeps in
// buckets of their own, with the task list and ready queue).
package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
	bolt "go.etcd.io/bbolt"
)

// FormatVersion changes whenever the fold or the index layout changes, and
// forces a rebuild.
const FormatVersion = 11

var (
	// ErrNotFound means no task has that id or prefix.
	ErrNotFound = errors.New("no such task")
	// ErrAmbiguous means a prefix names more than one task.
	ErrAmbiguous = errors.New("ambiguous task id prefix")
)

var (
	bMeta      = []byte("meta")
	bTasks     = []byte("tasks")
	bList      = []byte("list")
	bActors    = []byte("actors")
	bLog       = []byte("log")
	bReady     = []byte("ready")
	bPrinc     = []byte("principals")
	bGrants    = []byte("grants")
	bFindings  = []byte("findings")
	bRecords   = []byte("records")  // fold.Records of families the index does not know
	bPostings  = []byte("postings") // fold.Postings: fold.PostingKey -> empty
	allBuckets = [][]byte{bMeta, bTasks, bList, bActors, bLog, bReady, bPrinc, bGrants, bFindings, bRejected, bRecords, bAt, bSeen, bWitness, bPostings}
)

// Meta records what the index was folded from.
type Meta struct {
	Version    int                   `json:"version"`
	Config     string                `json:"config"`
	Feeds      map[string]ledger.Pos `json:"feeds"`
	Last       string                `json:"last"`
	MaxLamport uint64                `json:"max_lamport"`
	Ops        int                   `json:"ops"`
	Rejected   int                   `json:"rejected"`
	Tasks      int                   `json:"tasks"`
	// Folded is, per feed, the highest seq the fold has taken in.
	Folded map[string]uint64 `json:"folded,omitempty"`
}

// LogEntry is one op as `git covenant log` shows it.
type LogEntry struct {
	Order    string            `json:"order"`
	Op       string            `json:"op"`
	Feed     string            `json:"feed"`
	Type     string            `json:"type"`
	Task     string            `json:"task,omitempty"`
	Actor    tasks.Ref         `json:"actor"`
	Time     time.Time         `json:"time"`
	Lamport  uint64            `json:"lamport"`
	Seq      uint64            `json:"seq"`
	Epoch    uint64            `json:"epoch,omitempty"`
	Rejected *RejectionSummary `json:"rejected,omitempty"`
}

// RejectionSummary says why the fold ignored an op.
type RejectionSummary struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// Index is an open index database.
type Index struct {
	db      *bolt.DB
	heal    Healer
	healed  bool
	closers []func()

	// The write transaction UpdateDeferred left open, guarded by pmu;
	// hasPending lets reads skip pmu when there is none.
	pmu        sync.Mutex
	pending    *bolt.Tx
	pendingN   int
	hasPending atomic.Bool
}

// Open opens (creating if needed, unless readOnly) the index at path.
func Open(path string, readOnly bool) (ix *Index, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			ix, err = nil, fmt.Errorf("open index %s: %w: %v", path, ErrDamaged, p)
		}
	}()
	f, err := openLocked(path, readOnly, OpenTimeout)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o644, &bolt.Options{
		Timeout:  OpenTimeout,
		ReadOnly: readOnly,
		NoSync:   true, // derived data: rebuilt if ever damaged
		// The freelist is kept in the file (no NoFreelistSync): without it
		// bbolt rebuilds the freelist on every read-write open by walking
		// and checking every page, which makes each write O(index size).
		OpenFile: func(string, int, os.FileMode) (*os.File, error) { return f, nil },
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	// A file cut short (a full disk, a copy interrupted, a careless edit)
	// can still open: bbolt reads the zeros past its end as empty space
	// on a page, so a lookup there finds nothing instead of failing. The
	// meta page says how far the file must reach.
	if fi, serr := f.Stat(); serr == nil {
		var need int64
		if verr := db.View(func(tx *bolt.Tx) error { need = tx.Size(); return nil }); verr == nil && fi.Size() < need {
			db.Close()
			return nil, fmt.Errorf("open index %s: %w: the file is %d bytes, its pages reach %d", path, ErrDamaged, fi.Size(), need)
		}
	}
	ix = &Index{db: db}
	if !readOnly && !ix.hasBuckets() {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	return ix, nil
}

// OpenTimeout bounds how long Open waits for another process's use of
// the index to end (a writer's session, or readers while writing).
var OpenTimeout = 30 * time.Second

// openLocked opens the index file and takes its lock (shared to read,
// exclusive to write) before bbolt does, polling every millisecond or
// few: bbolt itself polls every 50 ms, which made every read that met a
// writer's session (and every writer that met a reader) wait that long.
// bbolt then takes the same lock on the same open file, which succeeds
// at once.
func openLocked(path string, readOnly bool, timeout time.Duration) (*os.File, error) {
	flag, how := os.O_RDWR|os.O_CREATE, syscall.LOCK_EX
	if readOnly {
		flag, how = os.O_RDONLY, syscall.LOCK_SH
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	wait := 500 * time.Microsecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			if err == syscall.EWOULDBLOCK {
				return nil, fmt.Errorf("another process has held it for %s", timeout)
			}
			return nil, err
		}
		time.Sleep(wait)
		if wait < 5*time.Millisecond {
			wait *= 2
		}
	}
}

// Meta returns what the index was folded from; a new index has an empty Meta.
func (ix *Index) Meta() (*Meta, error) {
	m := &Meta{Feeds: map[string]ledger.Pos{}}
	err := ix.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bMeta)
		if b == nil {
			return nil
		}
		if v := b.Get(bMeta); v != nil {
			return json.Unmarshal(v, m)
		}
		return nil
	})
	if m.Feeds == nil {
		m.Feeds = map[string]ledger.Pos{}
	}
	return m, err
}

// Fresh reports whether the index was folded from exactly these feed heads
// and config digest.
func (m *Meta) Fresh(heads map[string]string, config string) bool {
	if m.Version != FormatVersion || m.Config != config || len(m.Feeds) != len(heads) {
		return false
	}
	for k, h := range heads {
		if p, ok := m.Feeds[k]; !ok || p.Tip != h {
			return false
		}
	}
	return true
}

// Task returns a task by id or unique id prefix.
func (ix *Index) Task(idOrPrefix string) (*tasks.Task, error) {
	raw, err := ix.TaskJSON(idOrPrefix)
	if err != nil {
		return nil, err
	}
	var t tasks.Task
	return &t, json.Unmarshal(raw, &t)
}

// TaskJSON returns the stored JSON of a task by id or unique id prefix.
func (ix *Index) TaskJSON(idOrPrefix string) ([]byte, error) {
	var out []byte
	err := ix.view(func(tx *bolt.Tx) error {
		id, v, err := lookupTask(tx.Bucket(bTasks), idOrPrefix)
		if err != nil {
			return err
		}
		out = append([]byte(nil), v...)
		return validRow([]byte(id), v)
	})
	return out, err
}

// lookupTask finds a task by id or unique id prefix in the tasks bucket.
func lookupTask(b *bolt.Bucket, idOrPrefix string) (id string, raw []byte, err error) {
	if b == nil {
		return "", nil, fmt.Errorf("%w: %s", ErrNotFound, idOrPrefix)
	}
	if v := b.Get([]byte(idOrPrefix)); v != nil {
		return idOrPrefix, v, nil
	}
	prefix := []byte(idOrPrefix)
	if !strings.HasPrefix(idOrPrefix, "tk-") {
		prefix = []byte("tk-" + idOrPrefix)
	}
	c := b.Cursor()
	var matches []string
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		matches = append(matches, string(k))
		raw = v
		if len(matches) > 5 {
			break
		}
	}
	switch {
	case len(matches) == 0 || len(idOrPrefix) < 4:
		return "", nil, fmt.Errorf("%w: %s", ErrNotFound, idOrPrefix)
	case len(matches) > 1:
		return "", nil, fmt.Errorf("%w: %s matches %s", ErrAmbiguous, idOrPrefix, strings.Join(matches, ", "))
	}
	return matches[0], raw, nil
}

// EachSummary calls fn with the JSON row of every task, in creation order.
// The rows are read and checked first, so a damaged index never shows half
// a list.
func (ix *Index) EachSummary(fn func(raw []byte) error) error { return ix.eachRow(bList, fn) }

// EachLog calls fn with every op in fold order.
func (ix *Index) EachLog(fn func(raw []byte) error) error { return ix.eachRow(bLog, fn) }

func (ix *Index) eachRow(bucket []byte, fn func(raw []byte) error) error {
	return ix.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		// Every row is checked before fn sees any of them. The rows are
		// the transaction's own mapping (no copies), valid until it ends,
		// gathered in fixed chunks (a growing slice of 100,000 rows would
		// be copied at every doubling).
		var chunks []rowChunk
		if err := b.ForEach(func(k, v []byte) error {
			if len(chunks) == 0 || len(chunks[len(chunks)-1].rows) == rowChunkLen {
				chunks = append(chunks, rowChunk{keys: make([][]byte, 0, rowChunkLen), rows: make([][]byte, 0, rowChunkLen)})
			}
			c := &chunks[len(chunks)-1]
			c.keys, c.rows = append(c.keys, k), append(c.rows, v)
			return nil
		}); err != nil {
			return err
		}
		if err := checkRows(chunks); err != nil {
			return err
		}
		for _, c := range chunks {
			for _, r := range c.rows {
				if err := fn(r); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Actors returns every actor the feeds and config know.
func (ix *Index) Actors() ([]*trust.Actor, error) {
	out := []*trust.Actor{}
	err := ix.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bActors)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var a trust.Actor
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, &a)
			return nil
		})
	})
	return out, err
}

// Actor returns one actor; an unknown key gives an untrusted empty actor.
func (ix *Index) Actor(keyID string) (*trust.Actor, error) {
	a := &trust.Actor{KeyID: keyID}
	err := ix.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bActors); b != nil {
			if v := b.Get([]byte(keyID)); v != nil {
				return json.Unmarshal(v, a)
			}
		}
		return nil
	})
	return a, err
}

// EachReady calls fn with the lease expiry (unix seconds, 0 for none) and
// the JSON row of each task in the ready queue (highest priority, then
// oldest, first) until fn returns false.
func (ix *Index) EachReady(fn func(leaseUntil int64, row []byte) (bool, error)) error {
	// fn runs after the transaction (its errors are the caller's, not
	// damage), so the rows are copied out: first gathered as the mapping's
	// own bytes in fixed chunks, checked over all cores as eachRow does,
	// then copied into one buffer (one copy per row was a quarter of
	// `task ready` at 100,000 tasks, the serial check 40%).
	var untils []int64
	var rows [][]byte
	err := ix.view(func(tx *bolt.Tx) error {
		untils, rows = untils[:0], rows[:0]
		var chunks []rowChunk
		size := 0
		if err := eachReady(tx, func(until int64, row []byte) (bool, error) {
			if len(chunks) == 0 || len(chunks[len(chunks)-1].rows) == rowChunkLen {
				chunks = append(chunks, rowChunk{rows: make([][]byte, 0, rowChunkLen)})
			}
			c := &chunks[len(chunks)-1]
			c.rows = append(c.rows, row)
			untils = append(untils, until)
			size += len(row)
			return true, nil
		}); err != nil {
			return err
		}
		for i := range chunks {
			c := &chunks[i]
			c.keys = make([][]byte, len(c.rows))
			for j := range c.keys {
				c.keys[j] = []byte("ready")
			}
		}
		if err := checkRows(chunks); err != nil {
			return err
		}
		buf := make([]byte, 0, size)
		for _, c := range chunks {
			for _, r := range c.rows {
				buf = append(buf, r...)
				rows = append(rows, buf[len(buf)-len(r):len(buf):len(buf)])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, row := range rows {
		if more, err := fn(untils[i], row); err != nil || !more {
			return err
		}
	}
	return nil
}

// Principals returns every named identity.
func (ix *Index) Principals() ([]*trust.Principal, error) {
	out := []*trust.Principal{}
	err := ix.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bPrinc)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var p trust.Principal
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			out = append(out, &p)
			return nil
		})
	})
	return out, err
}

// Grants returns every capability grant, by id.
func (ix *Index) Grants() ([]*trust.Grant, error) {
	out := []*trust.Grant{}
	err := ix.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bGrants)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var g trust.Grant
			if err := json.Unmarshal(v, &g); err != nil {
				return err
			}
			out = append(out, &g)
			return nil
		})
	})
	return out, err
}

// State returns a read-only view of the folded trust state, for checks
// made outside the fold (cap check).
func (ix *Index) State() trust.State { return &viewState{ix} }

type viewState struct{ ix *Index }

func (v *viewState) Actor(k string) (*trust.Actor, error) { return v.ix.Actor(k) }
func (v *viewState) PutActor(*trust.Actor) error          { return errReadOnly }
func (v *viewState) Principal(name string) (*trust.Principal, error) {
	var out *trust.Principal
	err := v.ix.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bPrinc); b != nil {
			if raw := b.Get([]byte(name)); raw != nil {
				out = &trust.Principal{}
				return json.Unmarshal(raw, out)
			}
		}
		return nil
	})
	return out, err
}
func (v *viewState) PutPrincipal(*trust.Principal) error { return errReadOnly }
func (v *viewState) Grant(id string) (*trust.Grant, error) {
	var out *trust.Grant
	err := v.ix.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bGrants); b != nil {
			if raw := b.Get([]byte(id)); raw != nil {
				out = &trust.Grant{}
				return json.Unmarshal(raw, out)
			}
		}
		return nil
	})
	return out, err
}
func (v *viewState) PutGrant(*trust.Grant) error { return errReadOnly }

// Record reads a fold.Records record (a family's state the index does not
// know, such as provenance anchors).
func (v *viewState) Record(kind, key string, val any) (bool, error) {
	ok := false
	err := v.ix.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bRecords); b != nil {
			if raw := b.Get([]byte(kind + "/" + key)); raw != nil {
				ok = true
				return json.Unmarshal(raw, val)
			}
		}
		return nil
	})
	return ok, err
}
func (v *viewState) PutRecord(string, string, any) error { return errReadOnly }

var (
	errReadOnly = errors.New("index view is read-only")
	errNoFold   = errors.New("index: no fold registry in the source")
)

// EachRecord calls fn with every record of a kind that a family stored
// through fold.Records, in key order.
func (ix *Index) EachRecord(kind string, fn func(key string, raw []byte) error) error {
	prefix := []byte(kind + "/")
	return ix.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRecords)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := fn(string(k[len(prefix):]), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Findings returns the problems the fold and feed verification recorded.
func (ix *Index) Findings() ([]ledger.Finding, error) {
	out := []ledger.Finding{}
	err := ix.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bFindings)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var f ledger.Finding
			if err := json.Unmarshal(v, &f); err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	})
	return out, err
}

// LogEntryOf returns the op log entry of an op by its commit id; nil if the
// log has none.
func (ix *Index) LogEntryOf(commit string) (*LogEntry, error) {
	var out *LogEntry
	err := ix.EachLog(func(raw []byte) error {
		if out != nil || !bytes.Contains(raw, []byte(commit)) {
			return nil
		}
		var le LogEntry
		if err := json.Unmarshal(raw, &le); err != nil {
			return err
		}
		if le.Op == commit {
			out = &le
		}
		return nil
	})
	return out, err
}

// hasBuckets reports whether every bucket exists already, so that opening
// an index for writing commits no transaction of its own.
func (ix *Index) hasBuckets() bool {
	ok := true
	ix.view(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			ok = ok && tx.Bucket(b) != nil
		}
		return nil
	})
	return ok
}

// EachLogAfter calls fn with every op whose fold-order key sorts after
// after ("" for all), in fold order, each row checked first; fn's rows are
// copies. It is how a stream of new ops (the HTTP gateway's events) reads
// only what is new.
func (ix *Index) EachLogAfter(after string, fn func(raw []byte) error) error {
	var rows [][]byte
	err := ix.view(func(tx *bolt.Tx) error {
		rows = rows[:0]
		b := tx.Bucket(bLog)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
			if err := validRow(k, v); err != nil {
				return err
			}
			rows = append(rows, append([]byte(nil), v...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// LastLogKey is the fold-order key of the last op ("" if none).
func (ix *Index) LastLogKey() (string, error) {
	var last string
	err := ix.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bLog); b != nil {
			if k, _ := b.Cursor().Last(); k != nil {
				last = string(k)
			}
		}
		return nil
	})
	return last, err
}

// Records is a read transaction over the family records and postings
// (fold.Records, fold.Postings), for a search that reads several in one
// consistent view. Byte slices it returns are valid only inside the view.
type Records struct{ recs, post *bolt.Bucket }

// ViewRecords calls fn with the records and postings as of one read
// transaction.
func (ix *Index) ViewRecords(fn func(r *Records) error) error {
	return ix.view(func(tx *bolt.Tx) error {
		return fn(&Records{recs: tx.Bucket(bRecords), post: tx.Bucket(bPostings)})
	})
}

// Get returns the raw record kind/key, nil if there is none.
func (r *Records) Get(kind, key string) []byte {
	if r.recs == nil {
		return nil
	}
	return r.recs.Get([]byte(kind + "/" + key))
}

// EachPrefix calls fn with every record of kind whose key starts with
// prefix, in key order, until fn returns false: a prefix lookup that
// reads only the matching keys.
func (r *Records) EachPrefix(kind, prefix string, fn func(key string, raw []byte) (bool, error)) error {
	if r.recs == nil {
		return nil
	}
	return eachPrefix(r.recs, kind+"/", prefix, func(key string, v []byte) (bool, error) { return fn(key, v) })
}

// Postings calls fn with each key that term occurs in for kind, in key
// order, until fn returns false.
func (r *Records) Postings(kind, term string, fn func(key string) (bool, error)) error {
	if r.post == nil {
		return nil
	}
	return eachPrefix(r.post, kind+"\x00"+term+"\x00", "", func(key string, _ []byte) (bool, error) { return fn(key) })
}

// CountPostings returns how many keys term occurs in for kind.
func (r *Records) CountPostings(kind, term string) (int, error) {
	n := 0
	err := r.Postings(kind, term, func(string) (bool, error) { n++; return true, nil })
	return n, err
}

// HasPosting reports whether term occurs in key for kind.
func (r *Records) HasPosting(kind, term, key string) bool {
	if r.post == nil {
		return false
	}
	// A cursor, not Get: a posting's value is empty.
	want := []byte(fold.PostingKey(kind, term, key))
	k, _ := r.post.Cursor().Seek(want)
	return bytes.Equal(k, want)
}

func eachPrefix(b *bolt.Bucket, base, prefix string, fn func(key string, v []byte) (bool, error)) error {
	full := []byte(base + prefix)
	c := b.Cursor()
	for k, v := c.Seek(full); k != nil && bytes.HasPrefix(k, full); k, v = c.Next() {
		more, err := fn(string(k[len(base):]), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
