package covenant

import (
	"context"
	"errors"
	"fmt"
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
		return err
	}
	if c.lockF == nil {
		if c.lockF, err = os.OpenFile(filepath.Join(d, "write.lock"), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
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
	ix, err := index.Open(p, false)
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
		reg := registry(wf)
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
// The index is a cache: when a read finds it damaged (index.ErrDamaged: a
// bbolt panic or fault, a value that does not decode), it is rebuilt from
// the feeds and the read runs again, once.
func (s *Service) read(ctx context.Context, fn func(ix *index.Index) error) error {
	err := s.readOnce(ctx, fn)
	if !errors.Is(err, index.ErrDamaged) {
		return err
	}
	s.logf("note: the index was damaged (%v); rebuilding it from the feeds", err)
	if _, rerr := s.Rebuild(ctx); rerr != nil {
		return fmt.Errorf("%w; rebuilding it failed: %v", err, rerr)
	}
	return s.readOnce(ctx, fn)
}

func (s *Service) readOnce(ctx context.Context, fn func(ix *index.Index) error) error {
	cfg, err := s.requireConfig()
	if err != nil {
		return err
	}
	c := s.c
	if err := c.acquire(ctx); err != nil {
		return err
	}
	// Commit what writes of this session deferred; if that fails the
	// index is behind what c.folded says, and catchUp looks again.
	if err := c.ix.Flush(); err != nil {
		c.folded = nil
	}
	if err := c.catchUp(ctx, cfg); err != nil {
		c.release()
		return err
	}
	c.ixMu.RLock()
	ix := c.ix
	c.release()
	defer c.ixMu.RUnlock()
	return fn(ix)
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
