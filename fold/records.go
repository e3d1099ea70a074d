package fold

import (
	"encoding/json"
	"sort"
	"strings"
)

// MemRecords is an in-memory Records, for states that fold a whole history
// without the index.
type MemRecords struct {
	raw  map[string][]byte   // kind + "/" + key
	post map[string]struct{} // PostingKey
}

// AddPostings implements Postings.
func (m *MemRecords) AddPostings(kind, key string, terms []string) error {
	if m.post == nil {
		m.post = map[string]struct{}{}
	}
	for _, t := range terms {
		m.post[PostingKey(kind, t, key)] = struct{}{}
	}
	return nil
}

// PostingKeys returns every posting as PostingKey; callers must not
// change it.
func (m *MemRecords) PostingKeys() map[string]struct{} {
	if m.post == nil {
		return map[string]struct{}{}
	}
	return m.post
}

// Record implements Records.
func (m *MemRecords) Record(kind, key string, v any) (bool, error) {
	b, ok := m.raw[kind+"/"+key]
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(b, v)
}

// PutRecord implements Records.
func (m *MemRecords) PutRecord(kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if m.raw == nil {
		m.raw = map[string][]byte{}
	}
	m.raw[kind+"/"+key] = b
	return nil
}

// EachRecord calls fn with every record of a kind, in key order.
func (m *MemRecords) EachRecord(kind string, fn func(key string, raw []byte) error) error {
	prefix := kind + "/"
	var keys []string
	for k := range m.raw {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(strings.TrimPrefix(k, prefix), m.raw[k]); err != nil {
			return err
		}
	}
	return nil
}

// Raw returns every record as "kind/key" to its JSON; callers must not
// change it.
func (m *MemRecords) Raw() map[string][]byte {
	if m.raw == nil {
		return map[string][]byte{}
	}
	return m.raw
}
