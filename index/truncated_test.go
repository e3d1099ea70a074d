package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestTruncatedFileIsDamaged: an index cut short within its pages opens
// as damaged (so it is rebuilt), not as an index whose lookups past the
// cut find nothing. A seed of TestIndexDamageHeals found the latter: the
// index truncated at 34,822 bytes, and `task show` of a task said
// "no such task".
func TestTruncatedFileIsDamaged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "index.db")
	ix, err := Open(p, false)
	if err != nil {
		t.Fatal(err)
	}
	err = ix.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("test"))
		if err != nil {
			return err
		}
		for i := 0; i < 2000; i++ {
			if err := b.Put([]byte(fmt.Sprintf("key-%05d", i)), []byte(`{"row":"some bytes to fill the pages"}`)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var need int64
	ix.db.View(func(tx *bolt.Tx) error { need = tx.Size(); return nil })
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	// Cut into the last page in use, away from a page boundary.
	if err := os.Truncate(p, need-4096+100); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(p, false)
	if err == nil {
		ix.Close()
		t.Fatalf("an index truncated to %d of its %d bytes opened as sound", need-4096+100, need)
	}
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("want ErrDamaged, got %v", err)
	}
}
