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

// Memory returns one memory by id or unique prefix, forgotten or not. It
// reads only the records whose key has the prefix.
func (s *Service) Memory(ctx context.Context, idOrPrefix string) (*memory.Memory, error) {
	var found []memory.Memory
	want := idOrPrefix
	if !strings.HasPrefix(want, "mem-") {
		want = "mem-" + want
	}
	err := s.read(ctx, func(ix *index.Index) error {
		found = found[:0]
		return ix.ViewRecords(func(r *index.Records) error {
			return r.EachPrefix(memory.Kind, want, func(_ string, raw []byte) (bool, error) {
				var m memory.Memory
				if err := json.Unmarshal(raw, &m); err != nil {
					return false, err
				}
				found = append(found, m)
				return true, nil
			})
		})
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
//
// It reads the index's postings (ADR 0018): the keys of the query's
// rarest term, each checked for the other terms, then each hit's rank
// record; only the memories returned are decoded.
func (s *Service) SearchMemories(ctx context.Context, query string, limit int, all bool) ([]MemoryHit, error) {
	if limit <= 0 {
		limit = 20
	}
	terms := dedupe(memory.Tokens(query))
	if len(terms) == 0 {
		return nil, fmt.Errorf("%w: the query has no word to search for", ErrBadInput)
	}
	out := []MemoryHit{}
	err := s.read(ctx, func(ix *index.Index) error {
		out = out[:0]
		return ix.ViewRecords(func(r *index.Records) error {
			df := make([]int, len(terms))
			rarest := 0
			for i, t := range terms {
				n, err := r.CountPostings(memory.Kind, t)
				if err != nil {
					return err
				}
				if df[i] = n; n < df[rarest] {
					rarest = i
				}
			}
			if df[rarest] == 0 {
				return nil
			}
			var n int
			if raw := r.Get(memory.CountKind, memory.CountKey); raw != nil {
				if err := json.Unmarshal(raw, &n); err != nil {
					return fmt.Errorf("memory search: count: %w", err)
				}
			}
			var idf float64
			for _, d := range df {
				idf += logRatio(n, d)
			}
			type hit struct {
				id    string
				score float64
				at    int64
			}
			var hits []hit
			err := r.Postings(memory.Kind, terms[rarest], func(id string) (bool, error) {
				for i, t := range terms {
					if i != rarest && !r.HasPosting(memory.Kind, t, id) {
						return true, nil
					}
				}
				raw := r.Get(memory.RankKind, id)
				if raw == nil {
					return false, fmt.Errorf("memory search: %s has no rank record", id)
				}
				rk, err := memory.ParseRank(raw)
				if err != nil {
					return false, err
				}
				if !all && rk.Forgotten {
					return true, nil
				}
				score := idf
				if rk.Longterm {
					score += 0.5
				}
				if rk.Stale {
					score -= 0.5
				}
				hits = append(hits, hit{id, score, rk.At})
				return true, nil
			})
			if err != nil {
				return err
			}
			sort.SliceStable(hits, func(i, j int) bool {
				if hits[i].score != hits[j].score {
					return hits[i].score > hits[j].score
				}
				return hits[i].at > hits[j].at
			})
			if len(hits) > limit {
				hits = hits[:limit]
			}
			for _, h := range hits {
				raw := r.Get(memory.Kind, h.id)
				if raw == nil {
					return fmt.Errorf("memory search: no memory %s", h.id)
				}
				var m memory.Memory
				if err := json.Unmarshal(raw, &m); err != nil {
					return err
				}
				out = append(out, MemoryHit{Memory: m, Score: h.score})
			}
			return nil
		})
	})
	return out, err
}

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
