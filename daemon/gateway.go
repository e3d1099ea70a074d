package daemon

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// The gateway is the daemon's local socket: one JSON request per line, one
// JSON response per line. Agents call it with their run's token; the
// daemon checks the token (live, and bound to this run's identity, task
// and epoch), the task named (only the run's own), and the identity's
// capability for the op, and then signs as that identity. Status and stop
// need no token, only a peer of the daemon's own user.

// Request is one gateway call.
type Request struct {
	Op    string `json:"op"`
	Token string `json:"token,omitempty"`
	// Task, when given, must be the run's task.
	Task string `json:"task,omitempty"`
	// Op arguments.
	Text    string         `json:"text,omitempty"` // comment
	To      string         `json:"to,omitempty"`   // move
	Note    string         `json:"note,omitempty"` // move
	Handoff *tasks.Handoff `json:"handoff,omitempty"`
	TTL     string         `json:"ttl,omitempty"`   // heartbeat
	Usage   *Usage         `json:"usage,omitempty"` // usage
}

// Response is the answer to a Request.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Kind   string          `json:"kind,omitempty"` // a rejection kind, "unauthorized", "bad-token", "wrong-task"
	Result json.RawMessage `json:"result,omitempty"`
}

// Gateway errors, as the client sees them.
var (
	// ErrBadToken means the token is unknown or its run has ended.
	ErrBadToken = errors.New("run token refused")
	// ErrWrongTask means the request named a task other than the run's.
	ErrWrongTask = errors.New("run token is for another task")
	// ErrScope means the run's identity lacks the capability for the op.
	ErrScope = errors.New("outside the agent's scope")
	// ErrGateway means the daemon could not do what was asked.
	ErrGateway = errors.New("daemon refused")
)

type gateway struct {
	d    *Daemon
	ln   net.Listener
	path string
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// SocketPath is where the gateway of a clone listens: <covenant dir>/name,
// or, when that path is too long for a unix socket, a name derived from it
// in the system's temporary directory.
func SocketPath(covDir, name string) string {
	p := filepath.Join(covDir, name)
	if len(p) < 100 {
		return p
	}
	sum := sha256.Sum256([]byte(p))
	return filepath.Join(os.TempDir(), "covenant-"+hex.EncodeToString(sum[:8])+".sock")
}

func (d *Daemon) gwPath() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gw == nil {
		return ""
	}
	return d.gw.path
}

// listen starts the gateway at path (see SocketPath). A socket file left
// by a dead daemon is replaced; the caller holds the daemon lock (or, for
// a foreground run, a name of its own).
func (d *Daemon) listen(path string) (*gateway, error) {
	os.Remove(path)
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", path, err)
	}
	g := &gateway{d: d, ln: ln, path: path, stop: make(chan struct{})}
	d.mu.Lock()
	d.gw = g
	d.mu.Unlock()
	g.wg.Add(1)
	go g.serve()
	return g, nil
}

func (g *gateway) close() {
	g.ln.Close()
	g.wg.Wait()
	os.Remove(g.path)
}

func (g *gateway) serve() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer c.Close()
			g.conn(c)
		}()
	}
}

// conn answers requests on one connection until it closes.
func (g *gateway) conn(c net.Conn) {
	if uc, ok := c.(*net.UnixConn); ok {
		if uid, err := peerUID(uc); err != nil || uid != os.Getuid() {
			writeResp(c, Response{Error: "peer is not the daemon's user", Kind: "unauthorized"})
			return
		}
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var req Request
		var resp Response
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp = Response{Error: "bad request: " + err.Error(), Kind: "bad-request"}
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			resp = g.handle(ctx, &req)
			cancel()
		}
		if writeResp(c, resp) != nil {
			return
		}
	}
}

func writeResp(c net.Conn, r Response) error {
	b, _ := json.Marshal(r)
	_, err := c.Write(append(b, '\n'))
	return err
}

func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *syscall.Ucred
	var cerr error
	raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}

func ok(v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		return Response{Error: err.Error()}
	}
	return Response{OK: true, Result: b}
}

func fail(err error) Response {
	r := Response{Error: err.Error()}
	if k, isRej := covenant.IsRejection(err); isRej {
		r.Kind = k
	}
	switch {
	case errors.Is(err, ErrBadToken):
		r.Kind = "bad-token"
	case errors.Is(err, ErrWrongTask):
		r.Kind = "wrong-task"
	case errors.Is(err, ErrScope):
		r.Kind = oplog.KindUnauthorized // the client makes it a rejection of that kind
	}
	return r
}

// Whoami is what a token is bound to.
type Whoami struct {
	Run      string `json:"run"`
	Agent    string `json:"agent"`
	Identity string `json:"identity"`
	Task     string `json:"task"`
	Epoch    uint64 `json:"epoch"`
}

func (g *gateway) handle(ctx context.Context, req *Request) Response {
	d := g.d
	switch req.Op {
	case "status":
		return ok(d.Status())
	case "stop":
		g.once.Do(func() { close(g.stop) })
		return ok(map[string]bool{"stopping": true})
	}
	r, err := d.byToken(req.Token)
	if err != nil {
		return fail(err)
	}
	st := r.st
	if req.Task != "" && req.Task != st.Task && !(len(req.Task) >= 4 && strings.HasPrefix(st.Task, req.Task)) {
		return fail(fmt.Errorf("%w: the token of run %s is for task %s, not %s", ErrWrongTask, st.Run, st.Task, req.Task))
	}
	as := d.svc.As(st.Identity)
	need := func(scope string) error {
		dec, err := d.svc.CheckCapability(ctx, st.Identity, scope, st.Task)
		if err != nil {
			return err
		}
		if !dec.Allowed {
			return fmt.Errorf("%w: %s may not %s on %s: %s (scope %s)", ErrScope, st.Identity, req.Op, st.Task, dec.Reason, scope)
		}
		return nil
	}
	switch req.Op {
	case "whoami":
		return ok(Whoami{Run: st.Run, Agent: st.Agent, Identity: st.Identity, Task: st.Task, Epoch: st.Epoch})
	case "show":
		t, err := as.ShowTask(ctx, st.Task)
		if err != nil {
			return fail(err)
		}
		return ok(t)
	case "heartbeat":
		ttl := r.agent.ttl()
		if req.TTL != "" {
			if ttl, err = time.ParseDuration(req.TTL); err != nil {
				return fail(fmt.Errorf("%w: ttl %q", ErrGateway, req.TTL))
			}
		}
		if err := need(trust.ScopeTaskClaim); err != nil {
			return fail(err)
		}
		t, err := as.Heartbeat(ctx, covenant.LeaseRequest{Task: st.Task, TTL: ttl})
		return result(t, err)
	case "comment":
		if err := need(trust.ScopeTaskComment); err != nil {
			return fail(err)
		}
		t, err := as.Comment(ctx, st.Task, req.Text)
		return result(t, err)
	case "move":
		if err := need(trust.ScopeTaskMove); err != nil {
			return fail(err)
		}
		t, err := as.MoveTask(ctx, covenant.MoveRequest{Task: st.Task, To: req.To, Note: req.Note})
		return result(t, err)
	case "usage":
		// The agent's own report of what it used (MCP budget_report):
		// added to the run's record, which budgets and receipts count. It
		// needs no grant: it can only raise what the run is debited.
		if err := r.addUsage(req.Usage); err != nil {
			return fail(err)
		}
		t, err := as.Task(ctx, st.Task)
		return result(t, err)
	case "handoff":
		if err := need(trust.ScopeTaskHandoff); err != nil {
			return fail(err)
		}
		if req.Handoff == nil {
			return fail(fmt.Errorf("%w: handoff needs a body", ErrGateway))
		}
		h := *req.Handoff
		h.Branch = st.Branch
		if head, commits, err := d.svc.BranchCommits(ctx, st.Base, st.Branch); err == nil {
			h.Head, h.Commits = head, commits
		}
		fillHandoff(&h)
		t, err := as.RunHandoff(ctx, st.Task, h)
		return result(t, err)
	}
	return fail(fmt.Errorf("%w: unknown op %q", ErrGateway, req.Op))
}

func fillHandoff(h *tasks.Handoff) {
	if h.Next == nil {
		h.Next = []string{}
	}
	if h.Questions == nil {
		h.Questions = []string{}
	}
	if h.Files == nil {
		h.Files = []tasks.FileRef{}
	}
	if h.Commits == nil {
		h.Commits = []string{}
	}
	if h.Validation.Status == "" {
		h.Validation.Status = "not-run"
	}
}

func result(t *tasks.Task, err error) Response {
	if err != nil {
		return fail(err)
	}
	return ok(t)
}

// byToken returns the live run a token belongs to.
func (d *Daemon) byToken(tok string) (*run, error) {
	if tok == "" {
		return nil, fmt.Errorf("%w: no token given", ErrBadToken)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.tokens[hashToken(tok)]
	if !ok || !r.live {
		return nil, fmt.Errorf("%w: no live run has this token (it dies with its run)", ErrBadToken)
	}
	return r, nil
}
