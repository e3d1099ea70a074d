package index_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
)

// A deferred update is visible to the next read of the goroutine that made
// it, also while other goroutines' reads commit it: a read that finds
// nothing pending must not begin before a commit another read has under
// way has landed (it saw the index without the update, and the daemon
// found its run record "written but not folded").
func TestDeferredUpdateIsReadAfterAConcurrentFlush(t *testing.T) {
	ix, err := index.Open(filepath.Join(t.TempDir(), "index.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	src := index.Source{Config: "test", Heads: map[string]gitstore.Hash{}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ix.EachRecord("r", func(string, []byte) error { return nil }) // commits what is pending
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	for i := range 300 {
		key := fmt.Sprint(i)
		if _, err := ix.UpdateDeferred(src, func(tx *index.Tx) error { return tx.PutRecord("r", key, i) }); err != nil {
			t.Fatal(err)
		}
		found := false
		if err := ix.EachRecord("r", func(k string, _ []byte) error { found = found || k == key; return nil }); err != nil {
			t.Fatal(err)
		}
		if !found {
			t.Fatalf("update %d was not read back", i)
		}
	}
}
