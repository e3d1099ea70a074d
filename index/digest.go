package index

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"

	"github.com/git-covenant/git-covenant/oplog"
	bolt "go.etcd.io/bbolt"
)

// DigestVersion names the serialization StateDigest hashes; it changes
// when that serialization does.
const DigestVersion = "git-covenant-state-v1"

// Digest identifies a folded state: two clones with the same feeds (and
// config) have the same digest.
type Digest struct {
	Digest     string `json:"digest"` // "sha256:<hex>"
	Version    string `json:"version"`
	Tasks      int    `json:"tasks"`
	Actors     int    `json:"actors"`
	Principals int    `json:"principals"`
	Grants     int    `json:"grants"`
	Feeds      int    `json:"feeds"`
	Ops        int    `json:"ops"`
	Rejected   int    `json:"rejected"`
}

// StateDigest hashes the folded state: a version line, then every task in
// id order, every actor in key id order, every named identity and every
// capability grant, each as "<kind> <canonical JSON>\n".
func (ix *Index) StateDigest() (*Digest, error) {
	h := sha256.New()
	h.Write([]byte(DigestVersion + "\n"))
	d := &Digest{Version: DigestVersion}
	err := ix.view(func(tx *bolt.Tx) error {
		for _, part := range []struct {
			bucket []byte
			kind   string
			n      *int
		}{{bTasks, "task", &d.Tasks}, {bActors, "actor", &d.Actors}, {bPrinc, "principal", &d.Principals}, {bGrants, "grant", &d.Grants}} {
			b := tx.Bucket(part.bucket)
			if b == nil {
				continue
			}
			if err := b.ForEach(func(_, v []byte) error {
				*part.n++
				return digestRecord(h, part.kind, v)
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m, err := ix.Meta()
	if err != nil {
		return nil, err
	}
	d.Feeds, d.Ops, d.Rejected = len(m.Feeds), m.Ops, m.Rejected
	d.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return d, nil
}

func digestRecord(h hash.Hash, kind string, raw []byte) error {
	c, err := oplog.Canonicalize(raw)
	if err != nil {
		return err
	}
	h.Write([]byte(kind + " "))
	h.Write(c)
	h.Write([]byte("\n"))
	return nil
}
