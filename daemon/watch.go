package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watcher turns changes of the feed refs (loose refs at any depth under
// refs/covenant, packed-refs), of the agent manifests and of the committed
// config into scan requests. fsnotify does not recurse and misses what is
// created inside a directory created after the watch was set, so every
// directory is watched, a new one is added when it appears, and a rescan
// is asked for then (its refs may have been written before its watch).
type watcher struct {
	w      *fsnotify.Watcher
	events chan struct{}
	done   chan struct{}
}

// debounce gathers a burst of events (a ref update is a lock file created,
// written and renamed) into one scan.
const debounce = 2 * time.Millisecond

func (d *Daemon) watch(ctx context.Context) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	refs, common := d.svc.RefsDirs()
	if err := os.MkdirAll(refs, 0o755); err != nil {
		fw.Close()
		return nil, err
	}
	w := &watcher{w: fw, events: make(chan struct{}, 1), done: make(chan struct{})}
	addTree := func(root string) {
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				fw.Add(p)
			}
			return nil
		})
	}
	addTree(refs)
	if err := fw.Add(common); err != nil {
		fw.Close()
		return nil, err
	}
	var cfgDir string
	if top := d.svc.WorkTree(); top != "" {
		cfgDir = filepath.Join(top, ".covenant")
		fw.Add(cfgDir)
		fw.Add(filepath.Join(cfgDir, "agents"))
	}
	go func() {
		defer close(w.done)
		var timer *time.Timer
		var fire <-chan time.Time
		reload := false
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
				case strings.HasPrefix(p, refs):
					if ev.Has(fsnotify.Create) {
						if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
							addTree(p)
						}
					}
					if strings.HasSuffix(p, ".lock") && !ev.Has(fsnotify.Rename) && !ev.Has(fsnotify.Remove) {
						continue // a ref being written: the rename that ends it follows
					}
				case filepath.Dir(p) == common:
					if filepath.Base(p) != "packed-refs" {
						continue
					}
				case cfgDir != "" && strings.HasPrefix(p, cfgDir):
					if ev.Has(fsnotify.Create) && p == filepath.Join(cfgDir, "agents") {
						fw.Add(p)
					}
					if strings.HasSuffix(p, ".toml") {
						reload = true
					}
				default:
					continue
				}
				if timer == nil {
					timer = time.NewTimer(debounce)
					fire = timer.C
				}
			case <-fire:
				timer, fire = nil, nil
				if reload {
					reload = false
					if err := d.reload(); err != nil {
						d.Logf("manifests changed but do not load: keeping the previous ones: %v", err)
					} else {
						d.Logf("manifests changed: %d agent(s)", len(d.agentList()))
					}
				}
				select {
				case w.events <- struct{}{}:
				default:
				}
			case err, ok := <-fw.Errors:
				if !ok {
					return
				}
				if errors.Is(err, fsnotify.ErrEventOverflow) {
					select {
					case w.events <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return w, nil
}

func (w *watcher) close() {
	w.w.Close()
	<-w.done
}

func (d *Daemon) agentList() []*Agent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.agents
}
