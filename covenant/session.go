package covenant

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
)

// The session is the writer lock plus the open index. Writers and readers
// take it in turn (acquire ... release); the cross-process lock and the
// index stay held after release until the Service has been idle for
// Options.IdleRelease, so a burst of calls in one process pays for the
// flock, the bbolt open and the catch-up once.
//
// Lock order: wmu, then the flock, then ixMu. A function run on the index
// under ixMu (see read) never calls back into the session.

// acquire takes the in-process writer mutex and, unless still held from an
// earlier call, the cross-process writer lock (.git/covenant/write.lock,
// flock) and the index. It returns with wmu held; call release.
func (c *core) acquire(ctx context.Context) error {
	c.wmu.Lock()
	if err := c.acquireLocked(ctx); err != nil {
		c.wmu.Unlock()
		return err
	}
	return nil
}

func (c *core) acquireLocked(ctx context.Context) error {
	if c.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.held {
		if err := c.flock(ctx); err != nil {
			return err
		}
		c.held = true
	}
	if c.ix == nil {
		ix, err := c.openIndex()
		if err != nil {
			c.drop()
			if cannotWrite(err) && !errors.Is(err, ErrNotWritable) {
				err = fmt.Errorf("%w: %w", ErrNotWritable, err)
			}
			return err
		}
		c.ixMu.Lock()
		c.ix, c.folded = ix, nil
		c.ixMu.Unlock()
	}
	return nil
}

// release ends a call: it lets the next caller in and keeps the lock and
// index for c.idle, after which they are dropped unless used again.
func (c *core) release() {
	c.gen++
	gen := c.gen
	// Dropped from another goroutine even when idle is negative: a reader
	// may still hold ixMu, and drop waits for it.
	time.AfterFunc(max(c.idle, 0), func() {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		if c.gen == gen {
			c.drop()
		}
	})
	c.wmu.Unlock()
}

// drop closes the index and gives the cross-process lock back. Called
// with wmu held; it waits for readers still using the index.
func (c *core) drop() error {
	var err error
	if c.ix != nil {
		c.ixMu.Lock()
		err = c.ix.Close()
		c.ix, c.folded = nil, nil
		c.ixMu.Unlock()
	}
	if c.held {
		c.store.SetIntentPath("")
		syscall.Flock(int(c.lockF.Fd()), syscall.LOCK_UN)
		c.held = false
	}
	return err
}

// flock takes the repository-wide writer lock. The kernel drops it when a
// process dies, so a killed writer never leaves it held. While held, ref
// updates record their intent so a ref lock abandoned by a killed writer
// can be recovered.
func (c *core) flock(ctx context.Context) error {
	d, err := c.store.CovenantDir()
	if err != nil {
		if cannotWrite(err) {
			return fmt.Errorf("%w: %v", ErrNotWritable, err)
		}
		return err
	}
	if c.lockF == nil {
		if c.lockF, err = os.OpenFile(filepath.Join(d, "write.lock"), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			c.lockF = nil
			if cannotWrite(err) {
				return fmt.Errorf("%w: %v", ErrNotWritable, err)
			}
			return err
		}
	}
	f := c.lockF
	deadline := time.Now().Add(LockWait)
	told := false
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: another git-covenant process has held %s for %s", ErrBusy, f.Name(), LockWait)
		}
		if !told && time.Until(deadline) < LockWait-time.Second {
			fmt.Fprintln(c.log, "waiting for another git-covenant process to finish...")
			told = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	c.store.SetIntentPath(filepath.Join(d, "ref-intent"))
	if p, err := c.store.RecoverStaleLock(); err != nil {
		fmt.Fprintf(c.log, "warning: could not recover stale ref lock: %v\n", err)
	} else if p != "" {
		fmt.Fprintf(c.log, "removed %s left by a killed writer\n", p)
	}
	return nil
}

func (c *core) indexPath() (string, error) {
	d, err := c.store.CovenantDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "index.db"), nil
}

// openIndex opens the index for writing; a damaged one is only derived
// data, so it is started again.
func (c *core) openIndex() (*index.Index, error) {
	p, err := c.indexPath()
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(p)
	ix, err := index.Open(p, false)
	if err != nil && statErr != nil {
		// Not there before (and, on a full disk, not made now either):
		// leave nothing behind.
		os.Remove(p)
		return nil, err
	}
	if err != nil {
		fmt.Fprintf(c.log, "index damaged (%v); rebuilding\n", err)
		if rmErr := os.Remove(p); rmErr != nil {
			return nil, err
		}
		return index.Open(p, false)
	}
	return ix, nil
}

// source is what the index folds under cfg: its roots, workflow and the
// registry of op families, identified by their digests. The registry is
// built once per config.
func (c *core) source(ctx context.Context, cfg *config.Config) index.Source {
	c.srcMu.Lock()
	defer c.srcMu.Unlock()
	if c.srcCfg != cfg {
		wf := cfg.Lifecycle()
		reg := registry(cfg)
		c.src = index.Source{Store: c.store, Roots: cfg.Trust.Roots, Workflow: wf, Fold: reg, Config: cfg.Digest() + "+" + reg.Digest(),
			Witness: witnessFunc(cfg)}
		c.srcCfg = cfg
	}
	src := c.src
	src.Context = ctx
	return src
}

// catchUp brings the index up to date with the feeds, with wmu held. When
// the fold heads and config are the ones it folded last (one listing of
// the feed refs), it does nothing.
func (c *core) catchUp(ctx context.Context, cfg *config.Config) error {
	heads, err := index.FoldHeads(c.store)
	if err != nil {
		return err
	}
	src := c.source(ctx, cfg)
	digest := src.Config
	if c.folded != nil && c.digest == digest && sameHeads(c.folded, heads) {
		return nil
	}
	if c.folded == nil {
		if m, err := c.ix.Meta(); err == nil && m.Fresh(hexHeads(heads), digest) {
			c.folded, c.digest = heads, digest
			return nil
		}
	}
	src.Heads = heads
	if _, err := c.ix.Update(src, false, nil); err != nil {
		c.folded = nil
		return err
	}
	c.folded, c.digest = heads, digest
	return nil
}

// read runs fn on an index caught up with the feeds. fn may run while
// other callers write; it must not call back into the Service.
//
// Reads do not take the writer lock when they need not: an index that
// was folded from the current feed heads is read as it is (opened
// read-only, or through this process's own session when it holds one).
// One that is behind is caught up under the writer lock; when the
// repository cannot be written (read-only, a full disk) the read folds
// what is new in memory instead, on a copy of the index, and says so on
// the log once.
//
// The index is a cache: when a read finds it damaged (index.ErrDamaged: a
// bbolt panic or fault, a value that does not decode), it is rebuilt from
// the feeds and the read runs again, once; where it cannot be rebuilt
// (nothing may be written), the read folds every feed in memory.
func (s *Service) read(ctx context.Context, fn func(ix *index.Index) error) error {
	err := s.readOnce(ctx, fn)
	if !errors.Is(err, index.ErrDamaged) {
		return err
	}
	s.logf("note: the index was damaged (%v); rebuilding it from the feeds", err)
	if _, rerr := s.Rebuild(ctx); rerr != nil {
		if !cannotWrite(rerr) {
			return fmt.Errorf("%w; rebuilding it failed: %v", err, rerr)
		}
		return s.readInMemory(ctx, fn, rerr, false)
	}
	return s.readOnce(ctx, fn)
}

func (s *Service) readOnce(ctx context.Context, fn func(ix *index.Index) error) error {
	cfg, err := s.requireConfig()
	if err != nil {
		return err
	}
	c := s.c
	c.wmu.Lock()
	if c.closed {
		c.wmu.Unlock()
		return ErrClosed
	}
	if !c.held {
		c.wmu.Unlock()
		// No session here: read the index as it is when it is current.
		done, err := s.readCurrent(ctx, cfg, fn)
		if done || err != nil {
			return err
		}
		c.wmu.Lock()
	}
	// This process's session, or an index that is behind: catch up under
	// the writer lock.
	if err := c.acquireLocked(ctx); err != nil {
		c.wmu.Unlock()
		if cannotWrite(err) {
			return s.readInMemory(ctx, fn, err, true)
		}
		return err
	}
	// Commit what writes of this session deferred; if that fails the
	// index is behind what c.folded says, and catchUp looks again.
	if err := c.ix.Flush(); err != nil {
		c.folded = nil
	}
	if err := c.catchUp(ctx, cfg); err != nil {
		c.release()
		if cannotWrite(err) {
			return s.readInMemory(ctx, fn, err, true)
		}
		return err
	}
	c.ixMu.RLock()
	ix := c.ix
	c.release()
	defer c.ixMu.RUnlock()
	return fn(ix)
}

// readCurrent runs fn on the index opened read-only, if it was folded from
// the current feed heads under the current config; done is false when it
// was not (or there is none, or it does not open).
func (s *Service) readCurrent(ctx context.Context, cfg *config.Config, fn func(ix *index.Index) error) (done bool, err error) {
	c := s.c
	heads, err := index.FoldHeads(c.store)
	if err != nil {
		return false, err
	}
	p := c.indexFile()
	if _, err := os.Stat(p); err != nil {
		return false, nil
	}
	ix, err := index.Open(p, true)
	if err != nil {
		return false, nil
	}
	defer ix.Close()
	m, err := ix.Meta()
	if err != nil || !m.Fresh(hexHeads(heads), c.source(ctx, cfg).Config) {
		return false, nil
	}
	return true, fn(ix)
}

// readInMemory runs fn on an index caught up in memory: a copy of the
// index on disk (none when fromScratch is false, after damage) with what is
// new folded in. why is what stopped the index from being updated; the
// log says so once per Service.
func (s *Service) readInMemory(ctx context.Context, fn func(ix *index.Index) error, why error, copyDisk bool) error {
	cfg, err := s.requireConfig()
	if err != nil {
		return err
	}
	c := s.c
	if c.memNoted.CompareAndSwap(false, true) {
		s.logf("note: the index cannot be updated (%v); folding the feeds in memory", why)
	}
	from := ""
	if copyDisk {
		from = c.indexFile()
	}
	ix, err := index.OpenMemory(from)
	if err != nil {
		return err
	}
	defer ix.Close()
	src := c.source(ctx, cfg)
	if src.Heads, err = index.FoldHeads(c.store); err != nil {
		return err
	}
	if _, err := ix.Update(src, false, nil); err != nil {
		return err
	}
	return fn(ix)
}

// indexFile is where the index lives (without creating its directory).
func (c *core) indexFile() string { return filepath.Join(c.store.CommonDir, "covenant", "index.db") }

// cannotWrite reports whether err means the repository (or its disk)
// cannot be written: permissions, a read-only file system, no space.
func cannotWrite(err error) bool {
	return errors.Is(err, ErrNotWritable) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func sameHeads(a, b map[string]gitstore.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for k, h := range a {
		if b[k] != h {
			return false
		}
	}
	return true
}

func hexHeads(hs map[string]gitstore.Hash) map[string]string {
	out := make(map[string]string, len(hs))
	for k, h := range hs {
		out[k] = h.String()
	}
	return out
}
