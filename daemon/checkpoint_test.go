package daemon_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/attest/checkpoint"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
)

// The daemon writes witness checkpoints (audit roots) on its schedule,
// signed by its own identity, accepted by the fold.
func TestScheduledCheckpoints(t *testing.T) {
	f := newFixture(t)
	d, err := daemon.New(daemon.Options{Service: f.svc, Env: f.env(), Log: f.log, CheckpointEvery: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := f.start(d)
	count := func() (n int) {
		err := f.svc.EachLog(context.Background(), "", func(_ []byte, e *covenant.LogEntry) error {
			if e.Type == checkpoint.OpType && strings.HasPrefix(e.Actor.Name, "daemon-") && e.Rejected == nil {
				n++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor(t, "two checkpoints by the daemon", func() bool { return count() >= 2 })
	stop()
	if !strings.Contains(f.log.String(), "checkpoint (schedule): audit root") {
		t.Errorf("log:\n%s", f.log)
	}
	f.verifyClean()
}
