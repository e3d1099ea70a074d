package index

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestEachRowChecksEveryRowFirst: a stored row that is not JSON (random
// bytes in a data page) makes the whole list a damaged-index error before
// any row reaches the caller, wherever it sits among the rows, so a
// reader never prints half a list or invalid JSON.
func TestEachRowChecksEveryRowFirst(t *testing.T) {
	for _, bad := range []int{0, 4095, 4096, 9999} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			ix, err := Open(filepath.Join(t.TempDir(), "index.db"), false)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			err = ix.db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bList)
				for i := 0; i < 10000; i++ {
					v := fmt.Sprintf(`{"id":"tk-%06d","title":"task %d"}`, i, i)
					if i == bad {
						v = v[:len(v)-3] + "\x00\xff"
					}
					if err := b.Put(fmt.Appendf(nil, "%08d", i), []byte(v)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			err = ix.EachSummary(func([]byte) error { seen++; return nil })
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("EachSummary over a row that is not JSON: %v, want ErrDamaged", err)
			}
			if seen != 0 {
				t.Fatalf("%d rows reached the caller before the damage was found", seen)
			}
		})
	}
	ix, err := Open(filepath.Join(t.TempDir(), "index.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	seen := 0
	if err := ix.EachSummary(func([]byte) error { seen++; return nil }); err != nil || seen != 0 {
		t.Fatalf("empty list: %d rows, %v", seen, err)
	}
}
