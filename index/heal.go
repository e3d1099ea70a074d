package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// ErrDamaged means the index file is damaged: bbolt panicked reading it,
// or a value in it does not decode. The index is derived data; the caller
// rebuilds it (see SetHealer) and asks again.
var ErrDamaged = errors.New("index damaged")

// Healer replaces a damaged index: it must close old's database (old.CloseDB)
// before it rebuilds the file, and returns the index to read from instead.
type Healer func(old *Index) (*Index, error)

// SetHealer makes every read heal the index once when it finds it damaged
// and then answer from the healed one.
func (ix *Index) SetHealer(h Healer) { ix.heal = h }

// OnClose adds a function Close runs after closing the database (to
// release a lock or remove a temporary file).
func (ix *Index) OnClose(fn func()) { ix.closers = append(ix.closers, fn) }

// CloseDB closes the database only, leaving OnClose functions to Close.
func (ix *Index) CloseDB() error {
	if ix.db == nil {
		return nil
	}
	ferr := ix.Flush()
	err := ix.db.Close()
	if err == nil {
		err = ferr
	}
	ix.db = nil
	return err
}

// Close releases the database and runs the OnClose functions.
func (ix *Index) Close() error {
	err := ix.CloseDB()
	for i := len(ix.closers) - 1; i >= 0; i-- {
		ix.closers[i]()
	}
	ix.closers = nil
	return err
}

// view runs fn in a read transaction. A bbolt panic or an undecodable value
// is ErrDamaged; with a healer the index is healed once and fn runs again on
// the healed index. fn must not hand data out before it returns, so that a
// damaged read never shows half an answer.
func (ix *Index) view(fn func(*bolt.Tx) error) error {
	// What UpdateDeferred left open is committed before anything reads.
	if err := ix.Flush(); err != nil {
		return err
	}
	err := ix.guard(func() error { return ix.db.View(fn) }, true)
	if !errors.Is(err, ErrDamaged) || ix.heal == nil || ix.healed {
		return err
	}
	ix.healed = true
	nix, herr := ix.heal(ix)
	if herr != nil {
		return fmt.Errorf("%w; rebuilding it failed: %v", err, herr)
	}
	ix.CloseDB()
	ix.db, ix.closers = nix.db, append(ix.closers, nix.closers...)
	return ix.guard(func() error { return ix.db.View(fn) }, true)
}

// guard turns a panic inside bbolt (a damaged page) into ErrDamaged, and
// with decoding set also a stored value that does not decode (in a write
// transaction a JSON error may be the caller's own).
func (ix *Index) guard(fn func() error, decoding bool) (err error) {
	if ix.db == nil {
		return fmt.Errorf("%w: closed", ErrDamaged)
	}
	// A truncated file is mapped beyond its end: reading there faults
	// (SIGBUS), which this turns into a panic recover can catch.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrDamaged, p)
		}
	}()
	err = fn()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if decoding && (errors.As(err, &se) || errors.As(err, &te)) {
		err = fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return err
}

// damaged reports a stored value that is not what the index writes.
func damaged(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDamaged, fmt.Sprintf(format, args...))
}

// validRow checks a stored JSON row before it is handed out, so random
// bytes in a data page never reach a reader's output as invalid JSON.
func validRow(k, v []byte) error {
	if !json.Valid(v) {
		return damaged("row %q is not JSON", k)
	}
	return nil
}

// rowChunk is a run of stored rows and their keys, as eachRow reads them.
type rowChunk struct{ keys, rows [][]byte }

// rowChunkLen is how many rows a rowChunk holds.
const rowChunkLen = 4096

// checkRows checks every row as validRow does, the chunks shared out over
// the machine's cores (a list of 100,000 tasks is 24 MiB of JSON). A row
// that faults (a truncated file mapped beyond its end) is damaged too.
func checkRows(chunks []rowChunk) error {
	n := min(runtime.GOMAXPROCS(0), len(chunks))
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if p := recover(); p != nil {
					errs[w] = damaged("reading a row: %v", p)
				}
			}()
			for {
				ci := int(next.Add(1)) - 1
				if ci >= len(chunks) {
					return
				}
				c := chunks[ci]
				for i, r := range c.rows {
					if !json.Valid(r) {
						errs[w] = validRow(c.keys[i], r)
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	return errors.Join(errs...)
}
