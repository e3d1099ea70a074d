package covenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/trust"
)

// ErrNoMemory means no memory has the id or prefix given.
var ErrNoMemory = errors.New("no such memory")

// PinSpec names a file to pin a memory to: Rev "" pins the working-tree
// file (the blob it would have), otherwise the blob the path has in Rev.
type PinSpec struct {
	Path string
	Rev  string
}

// MemoryAddRequest is a memory to add.
type MemoryAddRequest struct {
	Tier string
	Text string
	Task string // id or prefix; "" for none
	Pins []PinSpec
	Tags []string
}

// AddMemory signs a memory.add and returns the memory as folded (with any
// secret in its text redacted). Pins record the path and blob id only:
// the file's content is not written.
func (s *Service) AddMemory(ctx context.Context, req MemoryAddRequest) (*memory.Memory, error) {
	b := memory.AddBody{Tier: req.Tier, Text: req.Text, Tags: req.Tags}
	if req.Task != "" {
		t, err := s.Task(ctx, req.Task)
		if err != nil {
			return nil, err
		}
		b.Task = t.ID
	}
	for _, p := range req.Pins {
		pin, err := s.pin(ctx, p)
		if err != nil {
			return nil, err
		}
		b.Pins = append(b.Pins, pin)
	}
	if err := b.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	w, err := s.write(ctx, func(*index.Tx, *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: memory.OpAdd, Body: b, Summary: b.Tier + ": " + b.Text}}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return s.Memory(ctx, memory.NewID(w.Entries[0].Op.Actor, w.Entries[0].Op.Seq))
}

// pin resolves a pin to its blob id.
func (s *Service) pin(ctx context.Context, p PinSpec) (memory.Pin, error) {
	if p.Rev == "" {
		if s.WorkTree() == "" {
			return memory.Pin{}, ErrBare
		}
		b, err := s.store().ReadWorkFile(p.Path)
		if err != nil {
			return memory.Pin{}, fmt.Errorf("%w: --pin %s: %v", ErrBadInput, p.Path, err)
		}
		return memory.Pin{Path: p.Path, Blob: gitstore.HashObject(gitstore.BlobObject, b).String()}, nil
	}
	out, err := s.store().Git().Output(ctx, []string{"rev-parse", "--verify", "--quiet", p.Rev + "^{commit}:" + p.Path})
	if err != nil {
		return memory.Pin{}, fmt.Errorf("%w: --pin %s@%s: no such file in that revision", ErrBadInput, p.Path, p.Rev)
	}
	h, err := gitstore.ParseHash(strings.TrimSpace(string(out)))
	if err != nil {
		return memory.Pin{}, fmt.Errorf("%w: --pin %s@%s: %v", ErrBadInput, p.Path, p.Rev, err)
	}
	if t, _, err := s.store().ReadObject(h); err != nil || t != gitstore.BlobObject {
		return memory.Pin{}, fmt.Errorf("%w: --pin %s@%s is not a file", ErrBadInput, p.Path, p.Rev)
	}
	return memory.Pin{Path: p.Path, Blob: h.String()}, nil
}

// MemoryFilter selects memories; the zero value lists the live ones.
type MemoryFilter struct {
	Tier string
	Task string // id or prefix
	Tag  string
	All  bool // forgotten ones too
}

// Memories lists memories, newest first.
func (s *Service) Memories(ctx context.Context, f MemoryFilter) ([]memory.Memory, error) {
	if f.Task != "" {
		t, err := s.Task(ctx, f.Task)
		if err != nil {
			return nil, err
		}
		f.Task = t.ID
	}
	out := []memory.Memory{}
	err := s.EachRecord(ctx, memory.Kind, func(_ string, raw []byte) error {
		var m memory.Memory
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if (f.All || m.Live()) && (f.Tier == "" || m.Tier == f.Tier) && (f.Task == "" || m.Task == f.Task) && (f.Tag == "" || contains(m.Tags, f.Tag)) {
			out = append(out, m)
		}
		return nil
	})
	sortMemories(out)
	return out, err
}

func sortMemories(ms []memory.Memory) {
	sort.SliceStable(ms, func(i, j int) bool {
		if !ms[i].At.Equal(ms[j].At) {
			return ms[i].At.After(ms[j].At)
		}
		return ms[i].ID > ms[j].ID
	})
}

// Memory returns one memory by id or unique prefix, forgotten or not.
func (s *Service) Memory(ctx context.Context, idOrPrefix string) (*memory.Memory, error) {
	var found []memory.Memory
	want := idOrPrefix
	if !strings.HasPrefix(want, "mem-") {
		want = "mem-" + want
	}
	err := s.EachRecord(ctx, memory.Kind, func(key string, raw []byte) error {
		if !strings.HasPrefix(key, want) {
			return nil
		}
		var m memory.Memory
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		found = append(found, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNoMemory, idOrPrefix)
	case 1:
		return &found[0], nil
	}
	return nil, fmt.Errorf("%w: %s is ambiguous (%d memories)", ErrBadInput, idOrPrefix, len(found))
}

// ChangeMemory signs one of memory.forget, memory.restore, memory.mark or
// memory.promote on a memory (id or prefix) and returns it as folded.
func (s *Service) ChangeMemory(ctx context.Context, op string, b memory.ChangeBody) (*memory.Memory, error) {
	m, err := s.Memory(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	b.ID = m.ID
	var body any = &b
	if op == memory.OpForget {
		body = &memory.ForgetBody{ID: b.ID, Reason: b.Reason}
	}
	if c, ok := body.(interface{ Check() error }); ok {
		if err := c.Check(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
		}
	}
	if _, err := s.write(ctx, func(*index.Tx, *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: op, Body: body, Summary: b.ID + " " + b.Reason}}, nil
	}, nil); err != nil {
		return nil, err
	}
	return s.Memory(ctx, b.ID)
}

// MemoryHit is a search result.
type MemoryHit struct {
	Memory memory.Memory `json:"memory"`
	Score  float64       `json:"score"`
}

// SearchMemories finds the memories whose text, tags or pin paths hold
// every term of query, best first (rarer terms weigh more, long-term and
// fresher memories break ties), at most limit (0: 20). Forgotten ones
// only with all.
func (s *Service) SearchMemories(ctx context.Context, query string, limit int, all bool) ([]MemoryHit, error) {
	if limit <= 0 {
		limit = 20
	}
	terms := dedupe(memory.Tokens(query))
	if len(terms) == 0 {
		return nil, fmt.Errorf("%w: the query has no word to search for", ErrBadInput)
	}
	needles := make([][]byte, len(terms))
	for i, t := range terms {
		needles[i] = []byte(" " + t + " ")
	}
	out := []MemoryHit{}
	err := s.read(ctx, func(ix *index.Index) error {
		df := make([]int, len(terms))
		var n int
		var hits []string
		err := ix.EachRecord(memory.TermsKind, func(key string, raw []byte) error {
			n++
			ok := true
			for i, nd := range needles {
				if containsJSON(raw, nd) {
					df[i]++
				} else {
					ok = false
				}
			}
			if ok {
				hits = append(hits, key)
			}
			return nil
		})
		if err != nil {
			return err
		}
		var idf float64
		for _, d := range df {
			idf += logRatio(n, d)
		}
		st, ok := ix.State().(recordReader)
		if !ok {
			return fmt.Errorf("memory search: the index state reads no records")
		}
		for _, id := range hits {
			var m memory.Memory
			if ok, err := st.Record(memory.Kind, id, &m); err != nil || !ok {
				return err
			}
			if !all && !m.Live() {
				continue
			}
			score := idf
			if m.Tier == "longterm" {
				score += 0.5
			}
			if m.Stale != nil {
				score -= 0.5
			}
			out = append(out, MemoryHit{Memory: m, Score: score})
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Memory.At.After(out[j].Memory.At)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// recordReader reads one record by kind and key (the index's state).
type recordReader interface {
	Record(kind, key string, v any) (bool, error)
}

// containsJSON looks for needle in a JSON string record (terms have no
// characters JSON escapes).
func containsJSON(raw, needle []byte) bool { return strings.Contains(string(raw), string(needle)) }

func logRatio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	r := float64(n+1) / float64(d)
	l := 0.0
	for r > 1 {
		r /= 2
		l++
	}
	return l
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// currentBlob returns the blob a path has now: in the working tree, or in
// HEAD's tree in a bare repository ("" if it has none).
func (s *Service) currentBlob(headTree gitstore.Hash, path string) (string, error) {
	r := s.store()
	if r.WorkTree != "" {
		b, err := r.ReadWorkFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", nil // outside the tree, a directory: not a file now
		}
		return gitstore.HashObject(gitstore.BlobObject, b).String(), nil
	}
	if headTree.IsZero() {
		return "", nil
	}
	h, ok, err := r.TreeFile(headTree, path)
	if err != nil || !ok {
		return "", err
	}
	return h.String(), nil
}

func (s *Service) headTree() gitstore.Hash {
	h, _, err := s.store().Head()
	if err != nil || h.IsZero() {
		return gitstore.ZeroHash
	}
	c, err := s.store().ReadCommit(h)
	if err != nil {
		return gitstore.ZeroHash
	}
	return c.Tree
}
