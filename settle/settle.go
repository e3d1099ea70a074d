package settle

import (
	"errors"
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/receipts"
	"github.com/git-covenant/git-covenant/tasks"
)

// Op types this package folds.
const (
	OpBatch  = "settle.batch"
	OpAnchor = "settle.anchor"
)

// Record kinds, in fold.Records.
const (
	// KindBatch is a batch, keyed by its id.
	KindBatch = "settle-batch"
	// KindBatched says which batch holds a receipt, keyed by receipt id.
	KindBatched = "settle-batched"
	// KindAnchor is an anchor of a batch root, keyed by batch id.
	KindAnchor = "settle-anchor"
)

// MaxBatch bounds the receipts of one batch op (its body lists their
// ids, and an op is at most 1 MiB); settle batch writes several ops for
// more.
const MaxBatch = 10000

// ErrBadBatch means a batch or anchor body is out of range.
var ErrBadBatch = errors.New("invalid settlement op")

// BatchBody is the body of settle.batch: the RFC 6962 root over the
// listed receipts' canonical bytes, in the order listed.
type BatchBody struct {
	Root     string   `json:"root"`
	Count    int      `json:"count"`
	First    string   `json:"first"`
	Last     string   `json:"last"`
	Receipts []string `json:"receipts"`
}

var hex64 = &lazyre.Regexp{Expr: `^[0-9a-f]{64}$`}

// Check validates the body on its own.
func (b *BatchBody) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadBatch, fmt.Sprintf(format, args...))
	}
	switch {
	case !hex64.MatchString(b.Root):
		return bad("root %q is not a hex SHA-256", b.Root)
	case b.Count < 1 || b.Count > MaxBatch:
		return bad("count %d (want 1 to %d)", b.Count, MaxBatch)
	case len(b.Receipts) != b.Count:
		return bad("count %d but %d receipts listed", b.Count, len(b.Receipts))
	case b.First != b.Receipts[0] || b.Last != b.Receipts[len(b.Receipts)-1]:
		return bad("range %s..%s is not the first and last receipt listed", b.First, b.Last)
	}
	seen := make(map[string]bool, len(b.Receipts))
	for _, id := range b.Receipts {
		if _, _, err := receipts.ParseID(id); err != nil {
			return bad("%v", err)
		}
		if seen[id] {
			return bad("receipt %s listed twice", id)
		}
		seen[id] = true
	}
	return nil
}

// BatchID names a batch by its root.
func BatchID(root string) string { return "bt-" + root[:16] }

var batchRE = &lazyre.Regexp{Expr: `^bt-[0-9a-f]{16}$`}

// CheckBatchID validates a batch id.
func CheckBatchID(id string) error {
	if !batchRE.MatchString(id) {
		return fmt.Errorf("%w: batch id %q (want bt- and 16 hex digits)", ErrBadBatch, id)
	}
	return nil
}

// Batch is the folded state of one batch.
type Batch struct {
	ID       string    `json:"id"`
	Root     string    `json:"root"`
	Count    int       `json:"count"`
	First    string    `json:"first"`
	Last     string    `json:"last"`
	Receipts []string  `json:"receipts"`
	By       tasks.Ref `json:"by"`
	At       time.Time `json:"at"`
	Op       string    `json:"op"`
}

// Batched is where a receipt sits: its batch and leaf index.
type Batched struct {
	Batch string `json:"batch"`
	Index int    `json:"index"`
}

// Proof is an inclusion proof of one receipt in one batch, complete
// enough to check with nothing but this file: the receipt's canonical
// bytes, its leaf index, the tree size, the audit path and the root.
type Proof struct {
	Receipt  string   `json:"receipt"`   // receipt id
	Canon    string   `json:"canonical"` // the receipt's canonical bytes, as a string
	Batch    string   `json:"batch"`
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	LeafHash string   `json:"leaf_hash"`
	Path     []string `json:"path"` // audit path, hex, from the leaf's sibling up
	Root     string   `json:"root"`
}

// Verify checks the proof on its own: the leaf hash is the canonical
// bytes' and the path leads from it to the root.
func (p *Proof) Verify() error {
	leaf := LeafHash([]byte(p.Canon))
	if Hex(leaf) != p.LeafHash {
		return fmt.Errorf("%w: receipt bytes hash to %s, the proof says %s", ErrProof, Hex(leaf), p.LeafHash)
	}
	root, err := Unhex(p.Root)
	if err != nil {
		return err
	}
	path := make([][]byte, len(p.Path))
	for i, h := range p.Path {
		if path[i], err = Unhex(h); err != nil {
			return err
		}
	}
	return VerifyInclusion(p.Index, p.Size, leaf, path, root)
}

// Leaves returns the leaf hashes of receipts, in order.
func Leaves(rs []receipts.Receipt) [][]byte {
	out := make([][]byte, len(rs))
	for i := range rs {
		out[i] = LeafHash(rs[i].Canonical())
	}
	return out
}
