package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/git-covenant/git-covenant/covenant"
)

// DefaultPool is how many checked-out worktrees the daemon keeps ready per
// base commit (Options.Pool).
const DefaultPool = 2

// pool keeps worktrees checked out (detached) at the commits runs start
// from, in <worktrees>/.pool, so that a dispatch takes one with no git
// process (covenant.TakeWorktree) instead of waiting for a checkout: the
// checkout happens after the previous run, off the path from a ref change
// to the agent's start. A filler goroutine tops it up after each take; what
// a killed daemon left in .pool is removed when the next one starts.
type pool struct {
	svc  *covenant.Service
	dir  string
	size int
	logf func(string, ...any)

	mu    sync.Mutex
	ready map[string][]string // commit -> prepared directories
	bases func() []string     // the agents' base refs
	kick  chan struct{}
}

func newPool(svc *covenant.Service, worktrees string, size int, logf func(string, ...any), bases func() []string) *pool {
	return &pool{svc: svc, dir: filepath.Join(worktrees, ".pool"), size: size, logf: logf, bases: bases,
		ready: map[string][]string{}, kick: make(chan struct{}, 1)}
}

// take returns a prepared worktree at commit, if one is ready.
func (p *pool) take(commit string) (string, bool) {
	if p == nil {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ds := p.ready[commit]
	if len(ds) == 0 {
		return "", false
	}
	d := ds[len(ds)-1]
	p.ready[commit] = ds[:len(ds)-1]
	return d, true
}

// refill asks the filler to top the pool up.
func (p *pool) refill() {
	if p == nil {
		return
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run is the filler: it clears what an earlier daemon left, then keeps
// size worktrees ready at each base's current commit until ctx ends, and
// removes them all when it does.
func (p *pool) run(ctx context.Context) {
	p.clearAll(context.WithoutCancel(ctx))
	for {
		p.fill(ctx)
		select {
		case <-ctx.Done():
			p.mu.Lock()
			var all []string
			for _, ds := range p.ready {
				all = append(all, ds...)
			}
			p.ready = map[string][]string{}
			p.mu.Unlock()
			p.clear(context.WithoutCancel(ctx), all)
			return
		case <-p.kick:
		}
	}
}

// fill prepares what is missing; worktrees at a commit no base is at any
// more are removed.
func (p *pool) fill(ctx context.Context) {
	want := map[string]bool{}
	for _, b := range p.bases() {
		c, err := p.svc.ResolveRunStart(ctx, "", b)
		if err != nil {
			p.logf("worktree pool: base %q: %v", b, err)
			continue
		}
		want[c] = true
	}
	p.mu.Lock()
	var stale []string
	for c, ds := range p.ready {
		if !want[c] {
			stale = append(stale, ds...)
			delete(p.ready, c)
		}
	}
	p.mu.Unlock()
	p.clear(ctx, stale)
	for c := range want {
		for ctx.Err() == nil {
			p.mu.Lock()
			n := len(p.ready[c])
			p.mu.Unlock()
			if n >= p.size {
				break
			}
			d, err := os.MkdirTemp(p.dir, "wt-")
			if err == nil {
				os.Remove(d) // git worktree add makes it
				err = p.svc.PrepareWorktree(ctx, d, c)
			}
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
					p.logf("worktree pool: %v", err)
				}
				if d != "" {
					p.svc.RemoveWorktree(context.WithoutCancel(ctx), d)
				}
				return
			}
			p.mu.Lock()
			p.ready[c] = append(p.ready[c], d)
			p.mu.Unlock()
		}
	}
}

// clear removes prepared worktrees.
func (p *pool) clear(ctx context.Context, dirs []string) {
	for _, d := range dirs {
		p.svc.RemoveWorktree(ctx, d)
	}
}

// clearAll removes every worktree in the pool directory: what a daemon
// that died left.
func (p *pool) clearAll(ctx context.Context) {
	os.MkdirAll(p.dir, 0o755)
	ents, _ := os.ReadDir(p.dir)
	var dirs []string
	for _, e := range ents {
		dirs = append(dirs, filepath.Join(p.dir, e.Name()))
	}
	p.clear(ctx, dirs)
}
