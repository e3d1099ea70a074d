package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/runner"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/tasks"
)

var (
	// ErrNoAgent means no manifest takes the task, or none has that name.
	ErrNoAgent = errors.New("no agent for the task")
	// ErrIdentity means the daemon's identity cannot act in the repository.
	ErrIdentity = errors.New("daemon identity cannot act")
)

// Defaults.
const (
	DefaultPoll       = 2 * time.Second
	DefaultCheckpoint = time.Hour
)

// Options configure a Daemon.
type Options struct {
	// Service is the one long-lived handle every read and write goes
	// through; it acts as the operator (who registers the daemon's
	// identity on first start if it can). The caller closes it.
	Service *covenant.Service
	// Identity names the daemon's own identity (role daemon), created in
	// the keystore on first start; "" means DefaultIdentity(covenant dir).
	Identity string
	// Env is the daemon's environment: the variables an agent manifest
	// allows are taken from it.
	Env []string
	// LoadAgents reads and validates the agent manifests; it is called at
	// start and on every reload.
	LoadAgents func() ([]*Agent, error)
	// Log receives the daemon's log lines.
	Log io.Writer
	Now func() time.Time
	// Poll is the interval of the poll fallback (DefaultPoll if 0): a scan
	// runs that often whatever the watcher says, which also catches leases
	// that expired without any ref changing.
	Poll time.Duration
	// NoWatch turns the fsnotify watcher off (poll only).
	NoWatch bool
	// Sync, when set, names a remote: claims are strong through it and
	// the daemon syncs with it every SyncEvery (0: only before claims).
	Sync      string
	SyncEvery time.Duration
	// Reload delivers reload requests (SIGHUP).
	Reload <-chan struct{}
	// CheckpointEvery is the interval of witness checkpoints (0:
	// DefaultCheckpoint, negative: none on a schedule); one is also
	// written whenever a run's task reaches the workflow's success state.
	CheckpointEvery time.Duration
	// Socket is the gateway's path ("" means SocketPath(<covenant dir>,
	// "daemon.sock")).
	Socket string
	// Home is the daemon's home directory (secret files "~/…").
	Home string
	// Self is the git-covenant executable that serves as the sandbox
	// helper ("" means this process's).
	Self string
	// HTTP configures the HTTP gateway (http.go).
	HTTP HTTPOptions
	// Pool is how many worktrees are kept checked out, ready for a run,
	// per base commit (0: DefaultPool, negative: none; every run then
	// waits for its checkout).
	Pool int
}

// Daemon is one clone's agent dispatcher.
type Daemon struct {
	o      Options
	svc    *covenant.Service // the operator
	me     *covenant.Service // the daemon's identity
	name   string
	cov    string
	log    *logger
	states stateStore
	wt     string // worktrees directory

	started time.Time
	wake    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	agents []*Agent
	runs   map[string]*run // by run id
	tokens map[string]*run // by token hash
	byTask map[string]*run
	ran    map[ranKey]bool // ranAlready's answers
	queue  int
	scans  int
	gw     *gateway
	http   *gatewayServer // the HTTP gateway (http.go), nil when off
	reaper *runner.Reaper
	pool   *pool
}

// DefaultIdentity is the daemon identity's name when none is given:
// "daemon-" and 8 hex digits derived from the host and the clone's
// covenant directory, so that two clones (on one machine or several) never
// share a daemon identity, whose feed has one writer.
func DefaultIdentity(covDir string) string {
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + covDir))
	return "daemon-" + hex.EncodeToString(sum[:4])
}

// New prepares a daemon; Run or RunTask starts it.
func New(o Options) (*Daemon, error) {
	if o.Service == nil {
		return nil, errors.New("daemon: no service")
	}
	cov, err := o.Service.CovenantDir()
	if err != nil {
		return nil, err
	}
	if o.Identity == "" {
		o.Identity = DefaultIdentity(cov)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = DefaultCheckpoint
	}
	if o.LoadAgents == nil {
		o.LoadAgents = func() ([]*Agent, error) { return nil, nil }
	}
	if o.Socket == "" {
		o.Socket = SocketPath(cov, "daemon.sock")
	}
	d := &Daemon{o: o, svc: o.Service, name: o.Identity, cov: cov, log: &logger{w: o.Log, now: o.Now},
		states: stateStore{dir: filepath.Join(cov, "daemon", "runs")}, wt: worktreesDir(o.Service),
		wake: make(chan struct{}, 1), runs: map[string]*run{}, tokens: map[string]*run{}, byTask: map[string]*run{}, ran: map[ranKey]bool{}}
	d.me = o.Service.As(o.Identity)
	return d, nil
}

// Logf writes a line to the daemon's log.
func (d *Daemon) Logf(format string, args ...any) { d.log.printf(format, args...) }

// ensureIdentity makes sure the daemon's identity exists in the keystore
// (created with role daemon on first start) and may write: if the feeds do
// not know it yet, the operator registers it (which needs identity.admin).
func (d *Daemon) ensureIdentity(ctx context.Context) error {
	a, created, err := d.svc.EnsureIdentity(ctx, d.name, identity.Daemon)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrIdentity, d.name, err)
	}
	if created {
		d.Logf("created identity %s (role daemon)", d.name)
	}
	if a.Trusted() {
		return nil
	}
	if a.Known() {
		return fmt.Errorf("%w: identity %s was %s", ErrIdentity, d.name, a.Retired)
	}
	if _, err := d.svc.RegisterIdentity(ctx, d.name, identity.Daemon, a.Key, nil); err != nil {
		return fmt.Errorf("%w: %s is not registered, and registering it failed: %w", ErrIdentity, d.name, err)
	}
	d.Logf("registered identity %s (role daemon)", d.name)
	return nil
}

// reload reads the manifests again. A bad set keeps the previous one. An
// agent whose identity cannot act (not in the keystore, not registered,
// revoked) is kept, for status to show why, but never dispatched to.
func (d *Daemon) reload() error {
	as, err := d.o.LoadAgents()
	if err != nil {
		return err
	}
	sort.Slice(as, func(i, j int) bool { return as[i].Name < as[j].Name })
	for i := range as {
		c := *as[i] // a loader may hand out the same agents again: never write to them
		a := &c
		as[i] = a
		a.problem = ""
		st, err := d.svc.ActorState(context.Background(), a.Identity)
		switch {
		case err != nil:
			a.problem = fmt.Sprintf("identity %s: %v (create it with 'git covenant id new %s --role agent', then register it)", a.Identity, err, a.Identity)
		case !st.Trusted():
			a.problem = fmt.Sprintf("identity %s is not registered in the feeds, or was retired (a trust root registers it with 'git covenant id register')", a.Identity)
		}
		if a.problem != "" {
			d.Logf("agent %s is not dispatched to: %s", a.Name, a.problem)
		}
	}
	d.mu.Lock()
	d.agents = as
	d.mu.Unlock()
	return nil
}

func (d *Daemon) agent(name string) *Agent {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.agents {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// poke asks for a scan soon.
func (d *Daemon) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run is the daemon: it takes the clone's lock, makes sure of its
// identity, re-adopts or closes the runs a dead daemon left, serves the
// gateway, and dispatches until ctx ends; then it drains (running agents
// get SIGTERM, then SIGKILL after their grace; each run is recorded and
// handed off) and returns.
func (d *Daemon) Run(ctx context.Context) error {
	lock, err := AcquireLock(d.cov)
	if err != nil {
		return err
	}
	defer lock.Release()
	d.started = d.o.Now()
	if lock.Previous != nil {
		d.Logf("took over the lock of daemon pid %d (started %s), which is gone", lock.Previous.Process.Pid, lock.Previous.Started.Format(time.RFC3339))
	}
	d.startReaper()
	defer d.stopReaper()
	if err := d.ensureIdentity(ctx); err != nil {
		return err
	}
	if err := d.reload(); err != nil {
		return err
	}
	gw, err := d.listen(d.o.Socket)
	if err != nil {
		return err
	}
	defer gw.close()
	if hs, err := d.serveHTTP(ctx); err != nil {
		return err
	} else if hs != nil {
		defer d.closeHTTP(hs)
	}
	// Runs of this context end with the drain, not with ctx: stopping is
	// the daemon's own act, recorded as such.
	runCtx, stopRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRuns()
	d.recover(runCtx)
	if d.o.Pool >= 0 {
		size := d.o.Pool
		if size == 0 {
			size = DefaultPool
		}
		d.pool = newPool(d.svc, d.wt, size, d.Logf, d.bases)
		pctx, stopPool := context.WithCancel(context.WithoutCancel(ctx))
		poolDone := make(chan struct{})
		go func() { defer close(poolDone); d.pool.run(pctx) }()
		// After the drain (deferred calls run last in, first out).
		defer func() { stopPool(); <-poolDone }()
	}
	d.Logf("daemon %s started: pid %d, identity %s, %d agent(s)", d.name, os.Getpid(), d.name, len(d.agents))

	var events <-chan struct{}
	if !d.o.NoWatch {
		w, err := d.watch(ctx)
		if err != nil {
			d.Logf("warning: no file watcher (%v); polling every %s", err, d.o.Poll)
		} else {
			defer w.close()
			events = w.events
		}
	}
	poll := time.NewTicker(d.o.Poll)
	defer poll.Stop()
	var syncC <-chan time.Time
	if d.o.Sync != "" && d.o.SyncEvery > 0 {
		t := time.NewTicker(d.o.SyncEvery)
		defer t.Stop()
		syncC = t.C
	}
	var ckptC <-chan time.Time
	if d.o.CheckpointEvery > 0 {
		t := time.NewTicker(d.o.CheckpointEvery)
		defer t.Stop()
		ckptC = t.C
	}
	d.scan(runCtx)
	for {
		select {
		case <-ctx.Done():
			d.Logf("stopping: draining %d run(s)", d.running())
			stopRuns()
			d.wg.Wait()
			d.Logf("daemon stopped")
			return nil
		case <-gw.stop:
			d.Logf("stop requested through the socket")
			stopRuns()
			d.wg.Wait()
			d.Logf("daemon stopped")
			return nil
		case <-events:
			d.scan(runCtx)
		case <-d.wake:
			d.scan(runCtx)
		case <-poll.C:
			if _, err := os.Stat(LockPath(d.cov)); err != nil {
				// The clone was deleted (or its lock file removed): nobody
				// can reach this daemon any more; stop like on a signal.
				d.Logf("stopping: %s is gone", LockPath(d.cov))
				stopRuns()
				d.wg.Wait()
				return nil
			}
			d.scan(runCtx)
		case <-syncC:
			if _, err := d.me.Sync(ctx, d.o.Sync); err != nil {
				d.Logf("sync %s: %v", d.o.Sync, err)
			}
			d.scan(runCtx)
		case <-ckptC:
			d.checkpoint(ctx, "schedule")
		case <-d.o.Reload:
			if err := d.reload(); err != nil {
				d.Logf("reload: keeping the previous manifests: %v", err)
			} else {
				d.Logf("reloaded: %d agent(s)", len(d.agents))
			}
			d.scan(runCtx)
		}
	}
}

// bases are the base refs of the agents dispatched to, each once.
func (d *Daemon) bases() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range d.agentList() {
		if a.problem == "" && !seen[a.BaseRef] {
			seen[a.BaseRef] = true
			out = append(out, a.BaseRef)
		}
	}
	return out
}

func (d *Daemon) running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.runs)
}

// scan dispatches ready tasks to agents with room.
func (d *Daemon) scan(ctx context.Context) {
	d.mu.Lock()
	d.scans++
	agents := d.agents
	d.mu.Unlock()
	if len(agents) == 0 || ctx.Err() != nil {
		return
	}
	var ready []tasks.Summary
	err := d.svc.Ready(ctx, "", func(raw []byte) error {
		var s tasks.Summary
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		ready = append(ready, s)
		return nil
	})
	if err != nil {
		d.Logf("scan: %v", err)
		return
	}
	d.mu.Lock()
	d.queue = len(ready)
	d.mu.Unlock()
	for i := range ready {
		s := &ready[i]
		for _, a := range agents {
			if a.problem != "" || !a.Takes(s) || d.ranAlready(ctx, a, s) || d.paused(ctx, s.ID) || !d.reserve(a, s.ID) {
				continue
			}
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				if _, err := d.dispatch(ctx, a, s.ID); err != nil && !errors.Is(err, errLost) {
					d.Logf("run of %s on %s: %v", a.Name, s.ID, err)
				}
				d.killOrphans()
				d.poke() // room again
			}()
			break
		}
	}
}

// reserve books a slot of agent a for task, unless the task is already
// running here or the agent is full.
func (d *Daemon) reserve(a *Agent, task string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.byTask[task]; ok {
		return false
	}
	n := 0
	for _, r := range d.runs {
		if r.agent.Name == a.Name {
			n++
		}
	}
	if n >= a.max() {
		return false
	}
	r := &run{agent: a, st: &runState{Run: runs.NewID(), Agent: a.Name, Identity: a.Identity, Task: task, Phase: phaseClaiming, Began: d.o.Now().UTC()}, done: make(chan struct{})}
	d.runs[r.st.Run] = r
	d.byTask[task] = r
	return true
}

func (d *Daemon) forget(r *run) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.runs, r.st.Run)
	if d.byTask[r.st.Task] == r {
		delete(d.byTask, r.st.Task)
	}
	if r.tokenHash != "" {
		delete(d.tokens, r.tokenHash)
	}
}

// reserved returns the run booked for task by reserve.
func (d *Daemon) reserved(task string) *run {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byTask[task]
}

// checkpoint writes a witness checkpoint (an audit root) as the daemon.
func (d *Daemon) checkpoint(ctx context.Context, why string) {
	ar, err := d.me.SignAuditRoot(ctx, nil)
	if err != nil {
		d.Logf("checkpoint (%s): %v", why, err)
		return
	}
	d.Logf("checkpoint (%s): audit root %s over %d ops", why, ar.Predicate.Root[:12], ar.Predicate.Ops)
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// RunTask runs one dispatch of task in the foreground, through the same
// code as the daemon: the agent named (or the first whose manifest takes
// the task) claims it, runs in its worktree with a gateway of this
// process's own, and the run is recorded and handed back. Stopping ctx
// stops the agent; the run is still recorded.
func (d *Daemon) RunTask(ctx context.Context, task, agent string) (*runs.Record, error) {
	return d.runTask(ctx, task, agent, "")
}

func (d *Daemon) runTask(ctx context.Context, task, agent, resume string) (*runs.Record, error) {
	d.started = d.o.Now()
	if err := d.ensureIdentity(ctx); err != nil {
		return nil, err
	}
	if err := d.reload(); err != nil {
		return nil, err
	}
	t, err := d.svc.Task(ctx, task)
	if err != nil {
		return nil, err
	}
	sum := t.Summarize()
	var a *Agent
	for _, c := range d.agentList() {
		if (agent != "" && c.Name == agent) || (agent == "" && c.Takes(&sum)) {
			a = c
			break
		}
	}
	if a == nil {
		if agent != "" {
			return nil, fmt.Errorf("%w: no manifest .covenant/agents/%s.toml", ErrNoAgent, agent)
		}
		return nil, fmt.Errorf("%w: no manifest takes %s (labels %v, priority %s, state %s); name one with --agent", ErrNoAgent, t.ID, t.Labels, t.Priority, t.State)
	}
	gw, err := d.listen(SocketPath(d.cov, fmt.Sprintf("run-%d.sock", os.Getpid())))
	if err != nil {
		return nil, err
	}
	defer gw.close()
	d.startReaper()
	defer d.stopReaper()
	if !d.reserve(a, t.ID) {
		return nil, fmt.Errorf("%w: %s is full", ErrNoAgent, a.Name)
	}
	if resume != "" {
		d.reserved(t.ID).resume = resume // budget.go
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go func() {
		select {
		case <-ctx.Done():
		case <-gw.stop:
		}
		stop()
	}()
	return d.dispatch(runCtx, a, t.ID)
}

// worktreesDir holds the runs' worktrees: in the git directory (never in
// the working tree, where git status would see them) but outside
// .git/covenant, which a sandbox hides from agents.
func worktreesDir(svc *covenant.Service) string {
	_, common := svc.RefsDirs()
	return filepath.Join(common, "covenant-worktrees")
}

// startReaper makes the daemon a child subreaper that reaps the orphans
// of its agents (a grandchild whose parent exited is re-parented here
// rather than to PID 1, which in a container may reap nothing).
func (d *Daemon) startReaper() {
	rp, err := runner.StartReaper()
	if err != nil {
		d.Logf("warning: not a child subreaper: %v", err)
		return
	}
	d.mu.Lock()
	d.reaper = rp
	d.mu.Unlock()
}

func (d *Daemon) stopReaper() {
	d.killOrphans()
	d.mu.Lock()
	rp := d.reaper
	d.reaper = nil
	d.mu.Unlock()
	if rp != nil {
		rp.Stop()
	}
}

// killOrphans kills the orphans left by finished runs (a process that left
// its run's group with setsid outlived the group kill) once no run is
// live: every orphan of a subreaper descends from a process it started.
func (d *Daemon) killOrphans() {
	d.mu.Lock()
	rp, live := d.reaper, len(d.runs)
	d.mu.Unlock()
	if rp == nil || live > 0 {
		return
	}
	if n := rp.KillOrphans(); n > 0 {
		d.Logf("killed %d orphaned process(es) of finished runs", n)
	}
}

// ranAlready reports whether agent a has run on task and nobody but the
// agent and this daemon has acted on the task since: a run that ended (in
// any state the manifest leaves it in) is not repeated until someone else
// changes something (a new handoff, a comment, a move, a claim). Runs that
// were stopped or abandoned do not count: their work was cut short.
//
// The answer is kept per task, agent and the task's last change
// (UpdatedAt, once it is two seconds old), so a scan reads only the tasks
// that changed since the last.
func (d *Daemon) ranAlready(ctx context.Context, a *Agent, s *tasks.Summary) bool {
	key := ranKey{task: s.ID, agent: a.Name, updated: s.UpdatedAt.UnixNano()}
	d.mu.Lock()
	v, ok := d.ran[key]
	d.mu.Unlock()
	if ok {
		return v
	}
	v, ok = d.ranAlreadyRead(ctx, a, s.ID)
	// Op times have a resolution of a second: a task changed in the last
	// two seconds may change again with the same UpdatedAt, so it is not
	// remembered yet.
	if ok && d.o.Now().Sub(s.UpdatedAt) > 2*time.Second {
		d.mu.Lock()
		if len(d.ran) > 4096 {
			clear(d.ran)
		}
		d.ran[key] = v
		d.mu.Unlock()
	}
	return v
}

type ranKey struct {
	task, agent string
	updated     int64
}

// ranAlreadyRead is ranAlready from the task's history; ok is false when
// it could not be read.
func (d *Daemon) ranAlreadyRead(ctx context.Context, a *Agent, task string) (ran, ok bool) {
	t, err := d.svc.Task(ctx, task)
	if err != nil {
		return false, false
	}
	for i := len(t.History) - 1; i >= 0; i-- {
		e := t.History[i]
		if e.Type == runs.OpRecord {
			// The record as signed, not its summary line: who ran, how it
			// ended.
			b, err := d.svc.RunRecordOp(ctx, e.Op)
			if err != nil {
				d.Logf("task %s: run record %s: %v", task, e.Op, err)
				return false, false
			}
			return b.Agent == a.Identity && !b.CutShort(), true
		}
		if e.Actor.Name != a.Identity && e.Actor.Name != d.name {
			return false, true
		}
	}
	return false, true
}
