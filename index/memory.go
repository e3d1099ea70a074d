package index

import (
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OpenMemory opens an index that lives in memory only, for a repository
// whose index cannot be written (a read-only repository, a full disk): it
// starts as a consistent copy of the index at from when that one can be
// read (so catching up folds only what is new), else empty, and is gone
// when closed. Nothing is written to the repository.
func OpenMemory(from string) (*Index, error) {
	f, err := memoryFile()
	if err != nil {
		return nil, fmt.Errorf("open index in memory: %w", err)
	}
	if from != "" {
		if err := copyIndex(from, f); err != nil {
			// Unreadable or damaged: fold from scratch instead.
			if terr := f.Truncate(0); terr != nil {
				f.Close()
				return nil, terr
			}
		}
	}
	return openFile(f)
}

// copyIndex writes a consistent snapshot of the index at path to f
// (bbolt's own copy, in a read transaction).
func copyIndex(path string, f *os.File) (err error) {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	src, err := Open(path, true)
	if err != nil {
		return err
	}
	defer src.CloseDB()
	err = src.guard(func() error {
		return src.db.View(func(tx *bolt.Tx) error {
			_, err := tx.WriteTo(f)
			return err
		})
	}, true)
	if err != nil {
		return err
	}
	_, err = f.Seek(0, 0)
	return err
}

// openFile opens bbolt on an already open file (see OpenMemory).
func openFile(f *os.File) (ix *Index, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			f.Close()
			ix, err = nil, fmt.Errorf("open index in memory: %w: %v", ErrDamaged, p)
		}
	}()
	db, err := bolt.Open(f.Name(), 0o600, &bolt.Options{
		Timeout: time.Second,
		NoSync:  true,
		OpenFile: func(string, int, fs.FileMode) (*os.File, error) {
			return f, nil
		},
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open index in memory: %w", err)
	}
	ix = &Index{db: db}
	if !ix.hasBuckets() {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	return ix, nil
}
