package settle

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The RFC 6962 test vectors of the certificate-transparency reference
// implementation: eight leaves and the root of each prefix.
var (
	ctLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	ctRoots  = []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
)

func TestRFC6962Vectors(t *testing.T) {
	var leaves [][]byte
	for i, l := range ctLeaves {
		d, _ := hex.DecodeString(l)
		leaves = append(leaves, LeafHash(d))
		tr, err := NewTree(leaves)
		if err != nil {
			t.Fatal(err)
		}
		if got := Hex(tr.Root()); got != ctRoots[i] {
			t.Errorf("root of %d leaves: %s, want %s", i+1, got, ctRoots[i])
		}
	}
	if _, err := NewTree(nil); err == nil {
		t.Error("a tree over no leaves")
	}
}

// Every size up to 70 against the library's own compact-range root, and
// every leaf's proof through its verifier; a flipped leaf, path node,
// index or size fails.
func TestTreeMatchesLibrary(t *testing.T) {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	for n := 1; n <= 70; n++ {
		leaves := make([][]byte, n)
		cr := rf.NewEmptyRange(0)
		for i := range leaves {
			leaves[i] = LeafHash([]byte(fmt.Sprintf("leaf %d", i)))
			if err := cr.Append(leaves[i], nil); err != nil {
				t.Fatal(err)
			}
		}
		want, err := cr.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		tr, _ := NewTree(leaves)
		if !bytes.Equal(tr.Root(), want) {
			t.Fatalf("size %d: root %x, library %x", n, tr.Root(), want)
		}
		for i := range leaves {
			p, err := tr.Inclusion(uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(uint64(i), uint64(n), leaves[i], p, tr.Root()); err != nil {
				t.Fatalf("size %d leaf %d: %v", n, i, err)
			}
			if err := VerifyInclusion(uint64(i), uint64(n), LeafHash([]byte("other")), p, tr.Root()); err == nil {
				t.Fatalf("size %d leaf %d: another leaf verified", n, i)
			}
			if n > 1 {
				if err := VerifyInclusion(uint64((i+1)%n), uint64(n), leaves[i], p, tr.Root()); err == nil {
					t.Fatalf("size %d leaf %d: verified at another index", n, i)
				}
				bad := append([][]byte{}, p...)
				bad[0] = LeafHash([]byte("x"))
				if err := VerifyInclusion(uint64(i), uint64(n), leaves[i], bad, tr.Root()); err == nil {
					t.Fatalf("size %d leaf %d: a changed path verified", n, i)
				}
			}
		}
		if _, err := tr.Inclusion(uint64(n)); err == nil {
			t.Fatalf("size %d: a proof past the end", n)
		}
	}
}
