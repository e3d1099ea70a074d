package settle

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

var (
	// ErrProof means an inclusion proof does not lead to the root it claims.
	ErrProof = errors.New("inclusion proof does not verify")
	// ErrEmpty means a tree over no leaves was asked for.
	ErrEmpty = errors.New("no leaves")
)

var hasher = rfc6962.DefaultHasher

// LeafHash is SHA-256(0x00 || data).
func LeafHash(data []byte) []byte { return hasher.HashLeaf(data) }

// Tree is an RFC 6962 Merkle tree held level by level: levels[0] are the
// leaf hashes, each level above pairs the one below and carries a lone
// last node up unchanged, which gives RFC 6962's root and audit paths.
type Tree struct {
	levels [][][]byte
}

// NewTree builds the tree over leaf hashes.
func NewTree(leaves [][]byte) (*Tree, error) {
	if len(leaves) == 0 {
		return nil, ErrEmpty
	}
	t := &Tree{levels: [][][]byte{leaves}}
	for lv := leaves; len(lv) > 1; {
		up := make([][]byte, 0, (len(lv)+1)/2)
		for i := 0; i+1 < len(lv); i += 2 {
			up = append(up, hasher.HashChildren(lv[i], lv[i+1]))
		}
		if len(lv)%2 == 1 {
			up = append(up, lv[len(lv)-1])
		}
		t.levels = append(t.levels, up)
		lv = up
	}
	return t, nil
}

// Size is the number of leaves.
func (t *Tree) Size() uint64 { return uint64(len(t.levels[0])) }

// Root is the tree head.
func (t *Tree) Root() []byte { return t.levels[len(t.levels)-1][0] }

// Inclusion is the audit path of leaf i, from the leaf's sibling up.
func (t *Tree) Inclusion(i uint64) ([][]byte, error) {
	if i >= t.Size() {
		return nil, fmt.Errorf("%w: leaf %d of %d", ErrProof, i, t.Size())
	}
	var path [][]byte
	for _, lv := range t.levels[:len(t.levels)-1] {
		if s := i ^ 1; s < uint64(len(lv)) {
			path = append(path, lv[s])
		}
		i >>= 1
	}
	return path, nil
}

// VerifyInclusion checks that leafHash is leaf index of a tree of size
// leaves with root, by path (transparency-dev/merkle's verifier).
func VerifyInclusion(index, size uint64, leafHash []byte, path [][]byte, root []byte) error {
	if err := proof.VerifyInclusion(hasher, index, size, leafHash, path, root); err != nil {
		return fmt.Errorf("%w: %v", ErrProof, err)
	}
	return nil
}

// Hex and Unhex convert hashes for JSON.
func Hex(h []byte) string { return hex.EncodeToString(h) }

// Unhex decodes a hex SHA-256.
func Unhex(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%w: %q is not a hex SHA-256", ErrProof, s)
	}
	return b, nil
}
