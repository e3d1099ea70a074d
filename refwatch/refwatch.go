// Package refwatch watches a repository's covenant refs for changes: the
// loose refs at any depth under refs/covenant and packed-refs, and any
// other directories a caller names (the daemon: .covenant and its agents
// directory). The daemon's scan loop and the gateway's event stream both
// use it.
//
// fsnotify does not recurse and misses what is created inside a directory
// created after the watch was set, so every directory under refs/covenant
// is watched, a new one is added when it appears, and a change is
// reported then (its refs may have been written before its watch). A ref
// being written (its .lock created and written) is not a change; the
// rename that ends it is. An overflow of the kernel's queue is reported
// as a change, so nothing is missed.
package refwatch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options say what to watch.
type Options struct {
	// Refs is the refs/covenant directory and Common the git common
	// directory (packed-refs); covenant.Service.RefsDirs returns both.
	// Refs is created when missing.
	Refs, Common string
	// Dirs are more directories watched (not recursively), which may not
	// exist yet: one that appears inside another of Dirs is added then.
	Dirs []string
	// Debounce gathers a burst of events (a ref update is a lock file
	// created, written and renamed) into one report; 0 reports each.
	Debounce time.Duration
}

// Change is one report: Refs says a covenant ref (or packed-refs)
// changed, or an overflow may have hidden one; Files names the changed
// paths in Options.Dirs.
type Change struct {
	Refs  bool
	Files []string
}

// Watcher is a running watch.
type Watcher struct {
	fw   *fsnotify.Watcher
	done chan struct{}
	once sync.Once
}

// Watch starts watching and calls report from one goroutine for each
// change (batch, with Debounce) until ctx ends or Close.
func Watch(ctx context.Context, o Options, report func(Change)) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Refs, 0o755); err != nil {
		fw.Close()
		return nil, err
	}
	addTree := func(root string) {
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				fw.Add(p)
			}
			return nil
		})
	}
	addTree(o.Refs)
	if err := fw.Add(o.Common); err != nil {
		fw.Close()
		return nil, err
	}
	dirs := map[string]bool{}
	for _, d := range o.Dirs {
		dirs[d] = true
		fw.Add(d) // may not exist yet
	}
	w := &Watcher{fw: fw, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var pending Change
		var timer *time.Timer
		var fire <-chan time.Time
		flush := func() {
			if pending.Refs || len(pending.Files) > 0 {
				report(pending)
			}
			pending = Change{}
		}
		defer func() {
			if timer != nil {
				timer.Stop()
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-fw.Events:
				if !ok {
					return
				}
				p := ev.Name
				switch {
				case strings.HasPrefix(p, o.Refs):
					if ev.Has(fsnotify.Create) {
						if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
							addTree(p)
						}
					}
					if strings.HasSuffix(p, ".lock") && !ev.Has(fsnotify.Rename) && !ev.Has(fsnotify.Remove) {
						continue // a ref being written: the rename that ends it follows
					}
					pending.Refs = true
				case filepath.Dir(p) == o.Common && filepath.Base(p) == "packed-refs":
					pending.Refs = true
				case dirs[filepath.Dir(p)] || dirs[p]:
					if ev.Has(fsnotify.Create) && dirs[p] {
						fw.Add(p)
					}
					pending.Files = append(pending.Files, p)
				default:
					continue
				}
				if o.Debounce <= 0 {
					flush()
				} else if timer == nil {
					timer = time.NewTimer(o.Debounce)
					fire = timer.C
				}
			case <-fire:
				timer, fire = nil, nil
				flush()
			case err, ok := <-fw.Errors:
				if !ok {
					return
				}
				if errors.Is(err, fsnotify.ErrEventOverflow) {
					pending.Refs = true
					flush()
				}
			}
		}
	}()
	return w, nil
}

// Close stops the watch and waits for its goroutine: report is not
// called after Close returns.
func (w *Watcher) Close() {
	w.once.Do(func() { w.fw.Close() })
	<-w.done
}
