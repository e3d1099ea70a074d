package daemon

import (
	"context"
	"time"

	"github.com/git-covenant/git-covenant/runs"
)

// recover takes over what a daemon that died left: every run state file is
// either re-adopted (its process still runs with its recorded start time:
// its token works again, its lease is heartbeated, and when it ends it is
// recorded as adopted) or closed (recorded as abandoned, what is left of
// its process group killed, its lease handed back so the task is queued
// again). A run never runs twice: a closed run's task is claimed anew
// under a new epoch, which fences anything the old run might still write.
func (d *Daemon) recover(ctx context.Context) {
	sts, bad, err := d.states.list()
	if err != nil {
		d.Logf("recover: %v", err)
		return
	}
	for _, name := range bad {
		d.Logf("recover: unreadable run state %s left in place", name)
	}
	for _, st := range sts {
		a := d.agent(st.Agent)
		if a == nil || a.Identity != st.Identity {
			a = &Agent{Name: st.Agent, Identity: st.Identity}
		}
		r := &run{agent: a, st: st, done: make(chan struct{})}
		d.mu.Lock()
		d.runs[st.Run], d.byTask[st.Task] = r, r
		d.mu.Unlock()
		if st.Pid != 0 && st.process().Alive() {
			d.Logf("run %s: re-adopting pid %d (%s on %s, epoch %d)", st.Run, st.Pid, st.Agent, st.Task, st.Epoch)
			r.tokenHash = st.TokenSHA256
			d.admit(r)
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				d.adopt(ctx, r)
			}()
			continue
		}
		d.abandon(ctx, r)
	}
}

// abandon closes a dead daemon's run whose process is gone.
func (d *Daemon) abandon(ctx context.Context, r *run) {
	defer d.forget(r)
	st := r.st
	if st.Pid != 0 {
		if n := killGroupRemnants(st.process()); n > 0 {
			d.Logf("run %s: killed %d process(es) left in its group", st.Run, n)
		}
	}
	if st.Epoch == 0 {
		// Killed around the claim: if the claim landed, the lease is this
		// identity's, taken after the run began.
		if t, err := d.svc.Task(ctx, st.Task); err == nil && t.Lease.HeldBy(st.Identity) && !t.Lease.AcquiredAt.Before(st.Began.Add(-time.Minute)) {
			d.update(st, func() { st.Epoch, st.Phase, st.Branch = t.Lease.Epoch, phaseClaimed, "covenant/"+t.ID })
		}
	}
	if st.Epoch == 0 {
		d.Logf("run %s: closed before its claim landed", st.Run)
		d.states.remove(st.Run)
		return
	}
	b := runs.RecordBody{Run: st.Run, Agent: st.Identity, Manifest: st.Agent, Epoch: st.Epoch, Command: st.Command,
		Outcome: runs.Abandoned, Started: st.Began.UTC().Format(time.RFC3339), Note: "the daemon running it died; its process was gone on restart"}
	if b.Command == "" {
		b.Command = commandDigest(nil)
	}
	if st.Pid == 0 {
		b.Note = "the daemon running it died before the agent started"
	}
	if _, err := d.close(ctx, r, b, nil, ""); err != nil {
		d.Logf("run %s: %v", st.Run, err)
		return
	}
	d.Logf("run %s: closed as abandoned", st.Run)
}

// adopt watches a re-adopted run to its end, heartbeating its lease, and
// stops it (its group, while its leader is alive) when ctx ends.
func (d *Daemon) adopt(ctx context.Context, r *run) {
	defer d.forget(r)
	defer close(r.done)
	st := r.st
	p := st.process()
	hctx, cancel := context.WithCancel(ctx)
	hb := d.heartbeat(hctx, r, cancel)
	stopped := false
	tick := time.NewTicker(100 * time.Millisecond)
	for p.Alive() {
		select {
		case <-hctx.Done():
			if !stopped {
				stopped = true
				grace := r.agent.Grace
				if grace <= 0 {
					grace = 2 * time.Second
				}
				stopGroup(p, grace)
			}
		case <-tick.C:
		}
	}
	tick.Stop()
	cancel()
	<-hb
	b := runs.RecordBody{Run: st.Run, Agent: st.Identity, Manifest: st.Agent, Epoch: st.Epoch, Command: st.Command,
		Outcome: runs.Adopted, Started: st.Began.UTC().Format(time.RFC3339), DurationMS: time.Since(st.Began).Milliseconds(),
		Note: "re-adopted by a restarted daemon, which is not its parent: its exit status is unknown"}
	if stopped {
		b.Note += "; stopped by the daemon"
	}
	if b.Command == "" {
		b.Command = commandDigest(nil)
	}
	wctx, c2 := context.WithTimeout(context.WithoutCancel(ctx), finishWait)
	defer c2()
	d.revoke(r)
	if _, err := d.close(wctx, r, b, nil, ""); err != nil {
		d.Logf("run %s: %v", st.Run, err)
	}
}
