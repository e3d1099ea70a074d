package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
	bolt "go.etcd.io/bbolt"
)

// Tx is a write transaction over the index. It implements the fold's state
// (tasks.State, and fold.Records for every other family), caching decoded
// records and writing each changed one once, at Commit.
type Tx struct {
	btx      *bolt.Tx
	Meta     *Meta
	Workflow *tasks.Workflow
	tasks    map[string]*tasks.Task
	actors   map[string]*trust.Actor
	dirtyT   map[string]bool
	dirtyA   map[string]bool
	// principals and grants, cached and written back at flush
	princ  map[string]*trust.Principal
	grants map[string]*trust.Grant
	dirtyP map[string]bool
	dirtyG map[string]bool
	// records of families the index does not know, as JSON, by kind/key
	recs   map[string][]byte
	dirtyR map[string]bool
	// postings added by this transaction's ops (fold.Postings), written
	// at flush in key order
	post []kv
	fold *fold.Registry
	// witness tells time witnesses among ops (Source.Witness); store
	// resolves their heads
	witness func(*oplog.Entry) ([]string, bool)
	store   *gitstore.Store
	fresh   bool // buckets were just emptied: skip reads
	// causal data: clocks of applied ops, seen-vectors of feeds that moved;
	// overrun lists cut-offs set by ops folded in this transaction whose
	// key had ops after them folded already.
	overrun []trust.CutFor
	atKV    []kv
	atMem   map[string][]byte
	seen    map[string]map[string]uint64
}

// appendFill is how full bbolt fills pages when it splits nodes of a
// bucket written in key order: the op log and the task list always (their
// keys are fold order, which only grows), and every bucket while a rebuild
// writes it from empty. bbolt's default, 0.5, would leave those pages half
// empty and double the pages `task list` reads.
const appendFill = 0.9

func newTx(btx *bolt.Tx, m *Meta) *Tx {
	for _, name := range [][]byte{bList, bLog} {
		if b := btx.Bucket(name); b != nil && btx.Writable() {
			b.FillPercent = appendFill
		}
	}
	return &Tx{btx: btx, Meta: m, tasks: map[string]*tasks.Task{}, actors: map[string]*trust.Actor{},
		dirtyT: map[string]bool{}, dirtyA: map[string]bool{},
		princ: map[string]*trust.Principal{}, grants: map[string]*trust.Grant{}, dirtyP: map[string]bool{}, dirtyG: map[string]bool{},
		recs: map[string][]byte{}, dirtyR: map[string]bool{}, seen: map[string]map[string]uint64{}, atMem: map[string][]byte{}}
}

// Task implements tasks.State.
func (tx *Tx) Task(id string) (*tasks.Task, error) {
	if t, ok := tx.tasks[id]; ok {
		return t, nil
	}
	if tx.fresh {
		return nil, nil
	}
	v := tx.btx.Bucket(bTasks).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var t tasks.Task
	if err := json.Unmarshal(v, &t); err != nil {
		return nil, err
	}
	tx.tasks[id] = &t
	return &t, nil
}

// ResolveTask turns a task id or unique id prefix into the task's id, from
// the state the transaction sees.
func (tx *Tx) ResolveTask(idOrPrefix string) (string, error) {
	if _, ok := tx.tasks[idOrPrefix]; ok {
		return idOrPrefix, nil
	}
	id, _, err := lookupTask(tx.btx.Bucket(bTasks), idOrPrefix)
	return id, err
}

// PutTask implements tasks.State.
func (tx *Tx) PutTask(t *tasks.Task) error {
	tx.tasks[t.ID] = t
	tx.dirtyT[t.ID] = true
	return nil
}

// Actor implements trust.Actors.
func (tx *Tx) Actor(keyID string) (*trust.Actor, error) {
	if a, ok := tx.actors[keyID]; ok {
		return a, nil
	}
	a := &trust.Actor{KeyID: keyID}
	if !tx.fresh {
		if v := tx.btx.Bucket(bActors).Get([]byte(keyID)); v != nil {
			if err := json.Unmarshal(v, a); err != nil {
				return nil, err
			}
		}
	}
	tx.actors[keyID] = a
	return a, nil
}

// PutActor implements trust.Actors.
func (tx *Tx) PutActor(a *trust.Actor) error {
	tx.actors[a.KeyID] = a
	tx.dirtyA[a.KeyID] = true
	return nil
}

// Principal implements trust.State.
func (tx *Tx) Principal(name string) (*trust.Principal, error) {
	if p, ok := tx.princ[name]; ok {
		return p, nil
	}
	if tx.fresh {
		return nil, nil
	}
	v := tx.btx.Bucket(bPrinc).Get([]byte(name))
	if v == nil {
		return nil, nil
	}
	var p trust.Principal
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, err
	}
	tx.princ[name] = &p
	return &p, nil
}

// PutPrincipal implements trust.State.
func (tx *Tx) PutPrincipal(p *trust.Principal) error {
	tx.princ[p.Name] = p
	tx.dirtyP[p.Name] = true
	return nil
}

// Grant implements trust.State.
func (tx *Tx) Grant(id string) (*trust.Grant, error) {
	if g, ok := tx.grants[id]; ok {
		return g, nil
	}
	if tx.fresh {
		return nil, nil
	}
	v := tx.btx.Bucket(bGrants).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var g trust.Grant
	if err := json.Unmarshal(v, &g); err != nil {
		return nil, err
	}
	tx.grants[id] = &g
	return &g, nil
}

// PutGrant implements trust.State.
func (tx *Tx) PutGrant(g *trust.Grant) error {
	tx.grants[g.ID] = g
	tx.dirtyG[g.ID] = true
	return nil
}

// Record implements fold.Records.
func (tx *Tx) Record(kind, key string, v any) (bool, error) {
	k := kind + "/" + key
	raw, ok := tx.recs[k]
	if !ok && !tx.fresh {
		raw = tx.btx.Bucket(bRecords).Get([]byte(k))
		ok = raw != nil
	}
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// PutRecord implements fold.Records.
func (tx *Tx) PutRecord(kind, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	k := kind + "/" + key
	tx.recs[k] = raw
	tx.dirtyR[k] = true
	return nil
}

// AddPostings implements fold.Postings.
func (tx *Tx) AddPostings(kind, key string, terms []string) error {
	for _, t := range terms {
		tx.post = append(tx.post, kv{[]byte(fold.PostingKey(kind, t, key)), []byte{}})
	}
	return nil
}

// AddFinding records a problem found while verifying or folding.
func (tx *Tx) AddFinding(key string, f any) error {
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return tx.btx.Bucket(bFindings).Put([]byte(key), raw)
}

// Apply folds one entry and logs it. A rejection is recorded in the log and
// returned; other errors abort the transaction.
func (tx *Tx) Apply(e *oplog.Entry) (rejection *oplog.Rejection, err error) {
	if tx.fold == nil {
		return nil, errNoFold
	}
	applyErr := tx.fold.Apply(tx, e)
	if applyErr != nil {
		r, ok := oplog.AsRejection(applyErr)
		if !ok {
			return nil, applyErr
		}
		rejection = r
		tx.Meta.Rejected++
	}
	op := e.Op
	if rejection == nil {
		for _, c := range trust.CutsOf(tx, e) {
			if tx.Meta.Folded[c.Key] > c.Seq {
				tx.overrun = append(tx.overrun, c)
			}
		}
	}
	if tx.Meta.Folded == nil {
		tx.Meta.Folded = map[string]uint64{}
	}
	tx.Meta.Folded[e.Feed] = max(tx.Meta.Folded[e.Feed], op.Seq)
	actor, err := tx.Actor(op.Actor)
	if err != nil {
		return nil, err
	}
	le := LogEntry{Order: op.Key().String(), Op: e.Commit, Feed: e.Feed, Type: op.Type, Task: op.Task,
		Actor: tasks.Ref{Name: actor.Name, Key: op.Actor}, Time: op.When(), Lamport: op.Lamport, Seq: op.Seq, Epoch: op.Epoch}
	if rejection != nil {
		le.Rejected = &RejectionSummary{Kind: rejection.Kind, Reason: rejection.Reason}
		if err := tx.AddFinding("fold/"+le.Order, ledger.Finding{Kind: rejection.Kind, Feed: e.Feed, Commit: e.Commit, Op: op.Type, Reason: rejection.Reason}); err != nil {
			return nil, err
		}
	}
	raw, err := json.Marshal(le)
	if err != nil {
		return nil, err
	}
	if err := tx.btx.Bucket(bLog).Put([]byte(le.Order), raw); err != nil {
		return nil, err
	}
	if rejection != nil {
		if err := tx.noteRejected(&le, raw); err != nil {
			return nil, err
		}
	}
	tx.Meta.Ops++
	tx.Meta.Last = le.Order
	ak, av := atKey(e.Feed, op.Seq), atValue(op)
	tx.atKV = append(tx.atKV, kv{ak, av})
	tx.atMem[string(ak)] = av
	// Only an accepted op moves the clock the writer starts from.
	if rejection == nil && op.Lamport > tx.Meta.MaxLamport {
		tx.Meta.MaxLamport = op.Lamport
	}
	return rejection, nil
}

// flush writes changed records and the meta. Each bucket's writes go in key
// order: bbolt keeps a transaction's inserts in one in-memory node per page
// until commit, so inserting many keys in random order (a rebuild writing
// every task) shifts that node's entries on every insert, which is
// quadratic; in key order every insert appends.
func (tx *Tx) flush() error {
	var tasksKV, listKV, readyKV, actorsKV []kv
	tb := tx.btx.Bucket(bTasks)
	for id := range tx.dirtyT {
		t := tx.tasks[id]
		raw, err := json.Marshal(t)
		if err != nil {
			return err
		}
		if tb.Get([]byte(id)) == nil {
			tx.Meta.Tasks++
		}
		tasksKV = append(tasksKV, kv{[]byte(id), raw})
		row, err := json.Marshal(t.Summarize())
		if err != nil {
			return err
		}
		listKV = append(listKV, kv{[]byte(t.Order), row})
		if tx.Workflow != nil && ReadyEligible(tx.Workflow, t) {
			readyKV = append(readyKV, kv{readyKey(t), readyValue(t, row)})
		} else {
			readyKV = append(readyKV, kv{readyKey(t), nil})
		}
	}
	for k := range tx.dirtyA {
		raw, err := json.Marshal(tx.actors[k])
		if err != nil {
			return err
		}
		actorsKV = append(actorsKV, kv{[]byte(k), raw})
	}
	for _, w := range []struct {
		bucket []byte
		kvs    []kv
	}{{bTasks, tasksKV}, {bList, listKV}, {bReady, readyKV}, {bActors, actorsKV}} {
		if err := putSorted(tx.btx.Bucket(w.bucket), w.kvs); err != nil {
			return err
		}
	}
	pb, gb := tx.btx.Bucket(bPrinc), tx.btx.Bucket(bGrants)
	for k := range tx.dirtyP {
		raw, err := json.Marshal(tx.princ[k])
		if err != nil {
			return err
		}
		if err := pb.Put([]byte(k), raw); err != nil {
			return err
		}
	}
	for k := range tx.dirtyG {
		raw, err := json.Marshal(tx.grants[k])
		if err != nil {
			return err
		}
		if err := gb.Put([]byte(k), raw); err != nil {
			return err
		}
	}
	var recsKV []kv
	for k := range tx.dirtyR {
		recsKV = append(recsKV, kv{[]byte(k), tx.recs[k]})
	}
	if err := putSorted(tx.btx.Bucket(bRecords), recsKV); err != nil {
		return err
	}
	if err := putSorted(tx.btx.Bucket(bPostings), tx.post); err != nil {
		return err
	}
	tx.post = nil
	tx.dirtyT, tx.dirtyA, tx.dirtyP, tx.dirtyG, tx.dirtyR = map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	if err := tx.flushCausal(); err != nil {
		return err
	}
	m, err := json.Marshal(tx.Meta)
	if err != nil {
		return err
	}
	return tx.btx.Bucket(bMeta).Put(bMeta, m)
}

// kv is a pending write; a nil value deletes the key.
type kv struct{ k, v []byte }

// putSorted applies kvs to b in key order.
func putSorted(b *bolt.Bucket, kvs []kv) error {
	sort.Slice(kvs, func(i, j int) bool { return bytes.Compare(kvs[i].k, kvs[j].k) < 0 })
	for _, e := range kvs {
		var err error
		if e.v == nil {
			err = b.Delete(e.k)
		} else {
			err = b.Put(e.k, e.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadyEligible reports whether a task belongs in the ready queue, lease
// aside (leases expire with the wall clock, so readers check them): not
// final, in a claimable state, and no unfinished blocker.
func ReadyEligible(wf *tasks.Workflow, t *tasks.Task) bool {
	if wf.IsFinal(t.State) || t.OpenBlockers > 0 {
		return false
	}
	for _, s := range wf.ClaimFrom {
		if s == t.State {
			return true
		}
	}
	return false
}

// readyKey orders the ready queue: highest priority first, then oldest.
func readyKey(t *tasks.Task) []byte {
	return []byte(fmt.Sprintf("%d/%s", 9-tasks.PriorityRank(t.Priority), t.Order))
}

// readyValue prefixes a ready row with its lease expiry (16 hex digits of
// unix seconds, 0 for none), so readers skip leased tasks without decoding.
func readyValue(t *tasks.Task, row []byte) []byte {
	var until int64
	if t.Lease != nil {
		until = t.Lease.ExpiresAt.Unix()
	}
	return append([]byte(fmt.Sprintf("%016x", until)), row...)
}

// EachReady calls fn with the lease expiry and JSON row of each task in the
// ready queue, in queue order, until fn returns false.
func (tx *Tx) EachReady(fn func(leaseUntil int64, row []byte) (bool, error)) error {
	return eachReady(tx.btx, fn)
}

func eachReady(btx *bolt.Tx, fn func(leaseUntil int64, row []byte) (bool, error)) error {
	b := btx.Bucket(bReady)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(v) < 16 {
			return damaged("malformed ready entry %q", k)
		}
		until, err := strconv.ParseInt(string(v[:16]), 16, 64)
		if err != nil {
			return damaged("malformed ready entry %q", k)
		}
		more, err := fn(until, v[16:])
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// LastOp returns the newest op of a type the fold accepted (its commit id),
// searching the op log backwards; "" if there is none.
func (tx *Tx) LastOp(opType string) (string, error) {
	b := tx.btx.Bucket(bLog)
	if b == nil {
		return "", nil
	}
	c := b.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		var le LogEntry
		if err := json.Unmarshal(v, &le); err != nil {
			return "", err
		}
		if le.Type == opType && le.Rejected == nil {
			return le.Op, nil
		}
	}
	return "", nil
}
