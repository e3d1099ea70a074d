package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/refwatch"
)

// watcher turns changes of the feed refs (loose refs at any depth under
// refs/covenant, packed-refs), of the agent manifests and of the committed
// config into scan requests (package refwatch watches; the gateway's
// event stream uses the same).
type watcher struct {
	w      *refwatch.Watcher
	events chan struct{}
}

// debounce gathers a burst of events (a ref update is a lock file created,
// written and renamed) into one scan.
const debounce = 2 * time.Millisecond

func (d *Daemon) watch(ctx context.Context) (*watcher, error) {
	refs, common := d.svc.RefsDirs()
	o := refwatch.Options{Refs: refs, Common: common, Debounce: debounce}
	if top := d.svc.WorkTree(); top != "" {
		cfgDir := filepath.Join(top, ".covenant")
		o.Dirs = []string{cfgDir, filepath.Join(cfgDir, "agents")}
	}
	w := &watcher{events: make(chan struct{}, 1)}
	rw, err := refwatch.Watch(ctx, o, func(c refwatch.Change) {
		for _, f := range c.Files {
			if strings.HasSuffix(f, ".toml") {
				if err := d.reload(); err != nil {
					d.Logf("manifests changed but do not load: keeping the previous ones: %v", err)
				} else {
					d.Logf("manifests changed: %d agent(s)", len(d.agentList()))
				}
				break
			}
		}
		select {
		case w.events <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	w.w = rw
	return w, nil
}

func (w *watcher) close() { w.w.Close() }

func (d *Daemon) agentList() []*Agent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.agents
}
