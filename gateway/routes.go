package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/tokens"
	"github.com/git-covenant/git-covenant/trust"
)

// Route is one entry of the route table: the router and the OpenAPI
// document are both made from it, so neither can name a route the other
// lacks (TestOpenAPIMatchesRoutes checks docs/openapi.json against it).
type Route struct {
	Method  string // GET or POST
	Pattern string // a ServeMux pattern path: /v1/tasks/{id}
	Summary string
	// Scope is the capability a write needs (the token must carry it and
	// its operator hold it, on the task in the path if any); "" for reads.
	Scope string
	// Public routes need no token (only /health).
	Public bool
	// Query documents the query parameters a route reads.
	Query []Param
	// Body is the request body's type, for decoding and the document.
	Body any
	// Schema names the answer's shape in docs/json.md; List says it is a
	// list of them.
	Schema string
	List   bool
	// Stream says the answer is a server-sent event stream.
	Stream bool
	// Status is the success status (200 unless set).
	Status int

	handle func(c *call) (any, error)
	// scopeOf, when set, names the scope of this request (Scope is then
	// its pattern, such as review.<gate>).
	scopeOf func(c *call) (string, error)
}

// Param is a documented query parameter.
type Param struct{ Name, Doc string }

// call is one authenticated request on its way through a route.
type call struct {
	ctx     context.Context
	w       http.ResponseWriter
	r       *http.Request
	s       *Server
	token   *tokens.Token
	session *session          // the console session the request carried, if any
	scope   string            // the scope a write was authorized for
	as      *covenant.Service // the operator
	body    any               // the decoded body, a pointer to a copy of Route.Body's type
}

func (c *call) q(name string) string { return c.r.URL.Query().Get(name) }

// Routes is the route table, for the document and its test.
func (s *Server) Routes() []Route { return s.routes }

// Create, start, handoff, move and comment bodies: the fields a CLI
// command takes, by the same names as its flags.
type (
	// CreateTask is the body of POST /v1/tasks.
	CreateTask struct {
		Title        string   `json:"title"`
		Body         string   `json:"body,omitempty"`
		Labels       []string `json:"labels,omitempty"`
		Priority     string   `json:"priority,omitempty"` // default medium
		FailureModes []string `json:"failure_modes,omitempty"`
	}
	// Lease is the body of start and heartbeat.
	Lease struct {
		TTL string `json:"ttl,omitempty"` // a Go duration; default 2h
	}
	// Handoff is the body of POST /v1/tasks/{id}/handoff.
	Handoff struct {
		Summary   string   `json:"summary"`
		Next      []string `json:"next,omitempty"`
		Questions []string `json:"questions,omitempty"`
		KeepLease bool     `json:"keep_lease,omitempty"`
	}
	// Move is the body of POST /v1/tasks/{id}/move.
	Move struct {
		To   string `json:"to"`
		Note string `json:"note,omitempty"`
	}
	// Comment is the body of POST /v1/tasks/{id}/comment.
	Comment struct {
		Text string `json:"text"`
	}
)

// Whoami is what GET /v1/whoami answers: the token, never its secret.
type Whoami struct {
	Token    string   `json:"token"`
	Name     string   `json:"name"`
	Operator string   `json:"operator"`
	Scopes   []string `json:"scopes"`
}

// Health is what GET /health answers.
type Health struct {
	OK bool `json:"ok"`
}

func (s *Server) table() []Route {
	rs := []Route{
		{Method: "GET", Pattern: "/health", Summary: "Liveness; the only route without a token", Public: true, Schema: "gateway-health/1",
			handle: func(*call) (any, error) { return Health{OK: true}, nil }},
		{Method: "GET", Pattern: "/v1/openapi.json", Summary: "This API's OpenAPI 3 document",
			handle: func(c *call) (any, error) { return json.RawMessage(s.OpenAPI()), nil }},
		{Method: "GET", Pattern: "/v1/whoami", Summary: "The token the request carries: its name, operator and scopes", Schema: "gateway-whoami/1",
			handle: func(c *call) (any, error) {
				return Whoami{Token: c.token.ID, Name: c.token.Name, Operator: c.token.Operator, Scopes: c.token.Scopes}, nil
			}},
		{Method: "GET", Pattern: "/v1/tasks", Summary: "List tasks (task list)", Schema: "task-summary/1", List: true,
			Query:  []Param{{"state", "only tasks in this workflow state"}, {"label", "only tasks with this label"}},
			handle: listTasks},
		{Method: "POST", Pattern: "/v1/tasks", Summary: "Create a task (task create)", Scope: trust.ScopeTaskCreate, Body: CreateTask{}, Schema: "task/1", Status: http.StatusCreated,
			handle: func(c *call) (any, error) {
				b := c.body.(*CreateTask)
				if b.Priority == "" {
					b.Priority = "medium"
				}
				return c.as.CreateTask(c.ctx, tasks.CreateBody{Title: b.Title, Body: b.Body, Labels: b.Labels, Priority: b.Priority, FailureModes: b.FailureModes})
			}},
		{Method: "GET", Pattern: "/v1/tasks/{id}", Summary: "Show a task (task show)", Schema: "task/1",
			handle: func(c *call) (any, error) { return c.s.svc.ShowTask(c.ctx, c.r.PathValue("id")) }},
		{Method: "POST", Pattern: "/v1/tasks/{id}/start", Summary: "Claim a task under a lease (task start; the daemon's working tree is left alone)", Scope: trust.ScopeTaskClaim, Body: Lease{}, Schema: "task/1",
			handle: func(c *call) (any, error) {
				ttl, err := ttlOf(c.body.(*Lease).TTL)
				if err != nil {
					return nil, err
				}
				return c.as.ClaimForRun(c.ctx, c.r.PathValue("id"), ttl, "")
			}},
		{Method: "POST", Pattern: "/v1/tasks/{id}/heartbeat", Summary: "Extend the lease (task heartbeat)", Scope: trust.ScopeTaskClaim, Body: Lease{}, Schema: "task/1",
			handle: func(c *call) (any, error) {
				ttl, err := ttlOf(c.body.(*Lease).TTL)
				if err != nil {
					return nil, err
				}
				return c.as.Heartbeat(c.ctx, covenant.LeaseRequest{Task: c.r.PathValue("id"), TTL: ttl})
			}},
		{Method: "POST", Pattern: "/v1/tasks/{id}/handoff", Summary: "Record a handoff (task handoff)", Scope: trust.ScopeTaskHandoff, Body: Handoff{}, Schema: "task/1",
			handle: func(c *call) (any, error) {
				b := c.body.(*Handoff)
				h := tasks.Handoff{Summary: b.Summary, Next: orEmpty(b.Next), Questions: orEmpty(b.Questions), Files: []tasks.FileRef{}, Commits: []string{}, KeepLease: b.KeepLease,
					Validation: tasks.Validation{Status: "not-run"}}
				return c.as.HandoffTask(c.ctx, covenant.HandoffRequest{Task: c.r.PathValue("id"), Handoff: h})
			}},
		{Method: "POST", Pattern: "/v1/tasks/{id}/move", Summary: "Move a task to another workflow state (task move)", Scope: trust.ScopeTaskMove, Body: Move{}, Schema: "task/1",
			handle: func(c *call) (any, error) {
				b := c.body.(*Move)
				return c.as.MoveTask(c.ctx, covenant.MoveRequest{Task: c.r.PathValue("id"), To: b.To, Note: b.Note})
			}},
		{Method: "POST", Pattern: "/v1/tasks/{id}/comment", Summary: "Comment on a task (task comment)", Scope: trust.ScopeTaskComment, Body: Comment{}, Schema: "task/1",
			handle: func(c *call) (any, error) { return c.as.Comment(c.ctx, c.r.PathValue("id"), c.body.(*Comment).Text) }},
		{Method: "GET", Pattern: "/v1/queue/ready", Summary: "The ready queue (task ready)", Schema: "task-summary/1", List: true,
			Query: []Param{{"label", "only tasks with this label"}, {"for", "only tasks this identity may claim now"}},
			handle: func(c *call) (any, error) {
				var rows rawList
				err := c.s.svc.ReadyFor(c.ctx, covenant.ReadyRequest{Label: c.q("label"), For: c.q("for")}, func(raw []byte) error {
					rows = append(rows, append(json.RawMessage(nil), raw...))
					return nil
				})
				return orEmptyRows(rows), err
			}},
		{Method: "GET", Pattern: "/v1/log", Summary: "Ops in fold order (log)", Schema: "log-entry/1", List: true,
			Query:  []Param{{"task", "only ops on this task"}, {"after", "only ops after this fold-order key (a log entry's order)"}, {"limit", "at most this many, the newest (default 1000)"}},
			handle: logEntries},
		{Method: "GET", Pattern: "/v1/verify", Summary: "Verify the feeds incrementally and summarize (verify)", Schema: "verify/1",
			handle: func(c *call) (any, error) { return c.s.svc.Verify(c.ctx, covenant.VerifyOptions{}) }},
		{Method: "GET", Pattern: "/v1/identities", Summary: "Trust roots and identities (trust show)", Schema: "trust/1",
			handle: func(c *call) (any, error) { return c.s.svc.Trust(c.ctx) }},
		{Method: "GET", Pattern: "/v1/capabilities", Summary: "Grants (cap list)", Schema: "grant/1", List: true,
			Query:  []Param{{"identity", "only grants to this identity"}},
			handle: func(c *call) (any, error) { return c.s.svc.Grants(c.ctx, c.q("identity")) }},
		{Method: "GET", Pattern: "/v1/capabilities/check", Summary: "Whether an identity may use a scope now (cap check)", Schema: "cap-check/1",
			Query: []Param{{"identity", "the identity (default: the token's operator)"}, {"scope", "the scope (required)"}, {"task", "check against this task's labels"}},
			handle: func(c *call) (any, error) {
				id := c.q("identity")
				if id == "" {
					id = c.token.Operator
				}
				if c.q("scope") == "" {
					return nil, fmt.Errorf("%w: the scope parameter is required", ErrBadRequest)
				}
				return c.s.svc.CheckCapability(c.ctx, id, c.q("scope"), c.q("task"))
			}},
		{Method: "GET", Pattern: "/v1/agents", Summary: "Agent manifests (agent list)", Schema: "agent/1", List: true,
			handle: func(c *call) (any, error) {
				if c.s.o.Agents != nil {
					return c.s.o.Agents()
				}
				ms, err := agents.LoadTree(c.s.svc.WorkTree())
				if ms == nil {
					ms = []*agents.Manifest{}
				}
				return ms, err
			}},
		{Method: "GET", Pattern: "/v1/runs", Summary: "Run records (run list)", Schema: "run/1", List: true,
			Query:  []Param{{"task", "only runs of this task"}},
			handle: func(c *call) (any, error) { return c.s.svc.Runs(c.ctx, c.q("task")) }},
		{Method: "GET", Pattern: "/v1/memories", Summary: "Project memories, newest first (memory list)", Schema: "memory/1", List: true,
			Query: []Param{{"tier", "only this tier (working, episodic, longterm)"}, {"task", "only memories of this task"}, {"tag", "only memories with this tag"}, {"all", "true: forgotten ones too"}},
			handle: func(c *call) (any, error) {
				return c.s.svc.Memories(c.ctx, covenant.MemoryFilter{Tier: c.q("tier"), Task: c.q("task"), Tag: c.q("tag"), All: c.q("all") == "true"})
			}},
		{Method: "GET", Pattern: "/v1/memories/search", Summary: "Full-text memory search, best first (memory search)", Schema: "memory-hit/1", List: true,
			Query: []Param{{"q", "the words, all of which must match (required)"}, {"limit", "at most this many (default 20)"}, {"all", "true: forgotten ones too"}},
			handle: func(c *call) (any, error) {
				n := 0
				if l := c.q("limit"); l != "" {
					var err error
					if n, err = strconv.Atoi(l); err != nil || n <= 0 || n > 1000 {
						return nil, fmt.Errorf("%w: limit %q (1 to 1000)", ErrBadRequest, l)
					}
				}
				if c.q("q") == "" {
					return nil, fmt.Errorf("%w: the q parameter is required", ErrBadRequest)
				}
				return c.s.svc.SearchMemories(c.ctx, c.q("q"), n, c.q("all") == "true")
			}},
		{Method: "GET", Pattern: "/v1/memories/{id}", Summary: "One memory with its pins and changes (memory show)", Schema: "memory/1",
			handle: func(c *call) (any, error) { return c.s.svc.Memory(c.ctx, c.r.PathValue("id")) }},
		{Method: "GET", Pattern: "/v1/messages", Summary: "Mailbox messages with their state now, oldest first (a2a status)", Schema: "mailbox-message/1", List: true,
			Query: []Param{{"to", "only messages to this identity"}, {"from", "only messages from this identity"}, {"open", "true: only queued or in-flight ones"}},
			handle: func(c *call) (any, error) {
				return c.s.svc.Messages(c.ctx, covenant.MessageFilter{To: c.q("to"), From: c.q("from"), Open: c.q("open") == "true"})
			}},
		{Method: "GET", Pattern: "/v1/messages/{id}", Summary: "One mailbox message with its state now (a2a status <msg>)", Schema: "mailbox-message/1",
			handle: func(c *call) (any, error) { return c.s.svc.Message(c.ctx, c.r.PathValue("id")) }},
		{Method: "GET", Pattern: "/v1/budgets", Summary: "Every budget's spent and remaining in its window now (budget status)", Schema: "budget-status/1", List: true,
			handle: func(c *call) (any, error) { return c.s.svc.BudgetStatus(c.ctx, time.Now()) }},
		{Method: "GET", Pattern: "/v1/events", Summary: "Server-sent events: new ops (event op, data log-entry/1, id its fold-order key) and run output (event run-output)", Stream: true,
			Query:  []Param{{"after", "replay ops after this fold-order key first (also the Last-Event-ID header)"}, {"types", "comma-separated event types to send (op, run-output); default all"}},
			handle: func(c *call) (any, error) { return nil, c.s.events.serve(c) }},
	}
	rs = append(rs, s.consoleRoutes()...)
	if s.o.Status != nil {
		rs = append(rs, Route{Method: "GET", Pattern: "/v1/daemon", Summary: "The daemon's status (daemon status)", Schema: "daemon-status/1",
			handle: func(c *call) (any, error) { return s.o.Status(), nil }})
	}
	return rs
}

func orEmpty(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func orEmptyRows(r rawList) rawList {
	if r == nil {
		return rawList{}
	}
	return r
}

func ttlOf(s string) (time.Duration, error) {
	if s == "" {
		return covenant.DefaultTTL, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w: ttl %q is not a positive duration (90m, 2h)", ErrBadRequest, s)
	}
	return d, nil
}

func listTasks(c *call) (any, error) {
	state, label := c.q("state"), c.q("label")
	if state != "" {
		wf, err := c.s.svc.Workflow()
		if err != nil {
			return nil, err
		}
		ok := false
		for _, st := range wf.States {
			ok = ok || st == state
		}
		if !ok {
			return nil, fmt.Errorf("%w: state %q is not a state of the workflow (%s)", ErrBadRequest, state, strings.Join(wf.States, ", "))
		}
	}
	rows := rawList{}
	err := c.s.svc.EachTask(c.ctx, state != "" || label != "", func(raw []byte, sum *tasks.Summary) error {
		if sum != nil {
			if state != "" && sum.State != state {
				return nil
			}
			if label != "" && !has(sum.Labels, label) {
				return nil
			}
		}
		rows = append(rows, append(json.RawMessage(nil), raw...))
		return nil
	})
	return rows, err
}

func logEntries(c *call) (any, error) {
	limit := 1000
	if l := c.q("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > 100000 {
			return nil, fmt.Errorf("%w: limit %q (1 to 100000)", ErrBadRequest, l)
		}
		limit = n
	}
	rows := rawList{}
	keep := func(raw []byte) {
		rows = append(rows, append(json.RawMessage(nil), raw...))
		if len(rows) > limit {
			rows = rows[1:]
		}
	}
	var err error
	if task := c.q("task"); task != "" {
		err = c.s.svc.EachLog(c.ctx, task, func(raw []byte, _ *covenant.LogEntry) error { keep(raw); return nil })
	} else {
		err = c.s.svc.LogAfter(c.ctx, c.q("after"), func(raw []byte, _ *covenant.LogEntry) error { keep(raw); return nil })
	}
	return rows, err
}

func has(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
