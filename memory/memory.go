package memory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/tasks"
)

// Op types this package folds.
const (
	OpAdd     = "memory.add"
	OpForget  = "memory.forget"
	OpRestore = "memory.restore"
	OpMark    = "memory.mark"
	OpPromote = "memory.promote"
)

// Kind is the record kind memories are stored under.
const Kind = "memory"

// ErrBadMemory means a memory op's body is out of range.
var ErrBadMemory = errors.New("invalid memory")

// Tiers, shortest-lived first: working notes for a task in progress,
// episodic accounts of what happened, and long-term project knowledge.
var Tiers = []string{"working", "episodic", "longterm"}

// MaxText bounds a memory's text.
const MaxText = 16 << 10

// Pin ties a memory to the blob a file had when it was written, so a reader
// can tell when the file has changed since.
type Pin struct {
	Path string `json:"path"`
	Blob string `json:"blob"`
}

// AddBody is the body of memory.add.
type AddBody struct {
	Tier string   `json:"tier"`
	Text string   `json:"text"`
	Task string   `json:"task,omitempty"`
	Pins []Pin    `json:"pins,omitempty"`
	Tags []string `json:"tags,omitempty"`
}

var (
	blobRE = &lazyre.Regexp{Expr: `^[0-9a-f]{40}$`}
	idRE   = &lazyre.Regexp{Expr: `^mem-[0-9a-f]{12}$`}
)

// Check validates the tier, text, task id, pins and tags, normalizing tags.
func (b *AddBody) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadMemory, fmt.Sprintf(format, args...))
	}
	if !has(Tiers, b.Tier) {
		return bad("tier %q (want %s)", b.Tier, strings.Join(Tiers, ", "))
	}
	if strings.TrimSpace(b.Text) == "" || len(b.Text) > MaxText {
		return bad("text must be 1 byte to 16 KiB")
	}
	if b.Task != "" && !tasks.ValidID(b.Task) {
		return bad("task %q is not a task id", b.Task)
	}
	for _, p := range b.Pins {
		if p.Path == "" || strings.HasPrefix(p.Path, "/") || strings.Contains(p.Path, "..") {
			return bad("pin path %q must be relative to the repository", p.Path)
		}
		if !blobRE.MatchString(p.Blob) {
			return bad("pin %s: blob %q is not an object name", p.Path, p.Blob)
		}
	}
	tags, err := tasks.NormalizeLabels(b.Tags)
	if err != nil {
		return bad("tag: %v", err)
	}
	if len(tags) == 0 {
		tags = nil
	}
	b.Tags = tags
	return nil
}

// ForgetBody is the body of memory.forget.
type ForgetBody struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Check requires a memory id and a reason.
func (b *ForgetBody) Check() error {
	if !idRE.MatchString(b.ID) {
		return fmt.Errorf("%w: %q is not a memory id", ErrBadMemory, b.ID)
	}
	if strings.TrimSpace(b.Reason) == "" {
		return fmt.Errorf("%w: forgetting needs a reason", ErrBadMemory)
	}
	return nil
}

// ChangeBody is the body of memory.restore (undo a forget), memory.mark
// (Stale true: the memory is marked stale, for instance because its pins
// drifted; false: the mark is cleared) and memory.promote (Tier: move the
// memory to a longer-lived tier).
type ChangeBody struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Stale  bool   `json:"stale,omitempty"`
	Tier   string `json:"tier,omitempty"`
}

// Check requires a memory id and a reason, and a tier only where one
// belongs (the fold checks which op it is).
func (b *ChangeBody) Check() error {
	if !idRE.MatchString(b.ID) {
		return fmt.Errorf("%w: %q is not a memory id", ErrBadMemory, b.ID)
	}
	if strings.TrimSpace(b.Reason) == "" {
		return fmt.Errorf("%w: a reason is needed", ErrBadMemory)
	}
	if b.Tier != "" && !has(Tiers, b.Tier) {
		return fmt.Errorf("%w: tier %q (want %s)", ErrBadMemory, b.Tier, strings.Join(Tiers, ", "))
	}
	return nil
}

// Change is one op that changed a memory after it was added.
type Change struct {
	Type   string    `json:"type"`
	Op     string    `json:"op"`
	By     tasks.Ref `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	Tier   string    `json:"tier,omitempty"` // memory.promote: the tier before
}

// Forgotten records who withdrew a memory, when and why.
type Forgotten struct {
	Op     string    `json:"op"`
	By     tasks.Ref `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Memory is the folded state of one memory.
type Memory struct {
	ID        string     `json:"id"`
	Tier      string     `json:"tier"`
	Text      string     `json:"text"`
	Task      string     `json:"task,omitempty"`
	Pins      []Pin      `json:"pins"`
	Tags      []string   `json:"tags"`
	By        tasks.Ref  `json:"by"`
	At        time.Time  `json:"at"`
	Op        string     `json:"op"`
	Forgotten *Forgotten `json:"forgotten,omitempty"`
	// Stale is set by memory.mark (for instance when its pins drifted).
	Stale *Forgotten `json:"stale,omitempty"`
	// Changes are the forget, restore, mark and promote ops, in order:
	// the original text always stays in the record and in history.
	Changes []Change `json:"changes,omitempty"`
}

// Live reports whether the memory is not forgotten.
func (m *Memory) Live() bool { return m.Forgotten == nil }

// Scope is the per-tier scope that writes memories of tier.
func Scope(tier string) string { return "memory." + tier }

// Search keeps two records per memory next to the memory itself, and a
// posting per term (fold.Postings, kind Kind, key the memory id):
//   - RankKind (key: the memory id): what ranking needs, as Rank encodes
//     it, so a search decodes only the memories it returns;
//   - CountKind (key: CountKey): how many memories were ever added, for
//     the rarity of the query's terms.
const (
	RankKind  = "memory-rank"
	CountKind = "memory-count"
	CountKey  = "all"
)

// Rank is what a search ranks and filters a hit by.
type Rank struct {
	Longterm  bool
	Stale     bool
	Forgotten bool
	At        int64 // unix nanoseconds
}

// RankOf is m's rank record: three flags (l, s, f or -) and At.
func RankOf(m *Memory) string {
	b := []byte("--- ")
	if m.Tier == "longterm" {
		b[0] = 'l'
	}
	if m.Stale != nil {
		b[1] = 's'
	}
	if m.Forgotten != nil {
		b[2] = 'f'
	}
	return string(strconv.AppendInt(b, m.At.UnixNano(), 10))
}

// ParseRank decodes a rank record as stored (a JSON string).
func ParseRank(raw []byte) (Rank, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return Rank{}, err
	}
	if len(s) < 5 || s[3] != ' ' {
		return Rank{}, fmt.Errorf("malformed memory rank %q", s)
	}
	at, err := strconv.ParseInt(s[4:], 10, 64)
	if err != nil {
		return Rank{}, fmt.Errorf("malformed memory rank %q", s)
	}
	return Rank{Longterm: s[0] == 'l', Stale: s[1] == 's', Forgotten: s[2] == 'f', At: at}, nil
}

// NewID derives a memory's id from the op that added it.
func NewID(actor string, seq uint64) string {
	sum := sha256.Sum256([]byte("covenant-memory\x00" + actor + "\x00" + strconv.FormatUint(seq, 10)))
	return "mem-" + hex.EncodeToString(sum[:6])
}

func has(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
