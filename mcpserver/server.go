package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Errors of the server, as tool errors carry them (their kind).
var (
	// ErrScope means the caller lacks the scope a call needs; the tool
	// error names it.
	ErrScope = errors.New("outside the caller's scope")
	// ErrBadArgs means a call's arguments could not be decoded or are
	// missing, unknown, of the wrong type or too large.
	ErrBadArgs = errors.New("bad arguments")
	// ErrNotInRun means the operation is not available through a run
	// token (the daemon does not offer it to runs).
	ErrNotInRun = errors.New("not available inside a daemon run")
	// ErrRunToken means the run token was refused: unknown, or its run
	// has ended.
	ErrRunToken = errors.New("run token refused")
	// ErrPanic means a handler panicked; the server went on.
	ErrPanic = errors.New("internal error")
)

// Options say whom a server acts for and what it offers.
type Options struct {
	// Identity is the identity the server acts as: writes are signed
	// with its key from the keystore and its capabilities are checked.
	// "" means the Service's acting identity. Ignored with Run.
	Identity string
	// Run, when set, binds the server to a daemon run: it acts as the
	// run's identity, on the run's task only and under its lease epoch,
	// and its writes go to the daemon, which holds the key.
	Run Run
	// ReadOnly advertises (and serves) the read tool only.
	ReadOnly bool
	// Exec lets the check tool run commands (stdio: the agent's own
	// machine). Without it the check tool is not offered: a remote
	// caller of the HTTP gateway never runs a command.
	Exec bool
	// Authorize, when set, is asked before the capability check of every
	// write with the scope it needs (the gateway's operator token
	// scopes). An error refuses the call; wrap ErrScope to have the
	// refusal name the scope.
	Authorize func(ctx context.Context, scope string) error
	// Flat lists one tool per operation instead of the grouped tools:
	// for measuring what grouping saves. Its tools behave the same.
	Flat bool
	// Version is the server version reported to clients.
	Version string
}

// Run is a daemon run the server acts for (see mcpserver/runtoken).
type Run interface {
	// Binding returns what the run's token is bound to now; an error
	// when the token is unknown or its run has ended.
	Binding(ctx context.Context) (*RunBinding, error)
	// Do asks the daemon to perform a write for the run and returns the
	// task as the daemon wrote it.
	Do(ctx context.Context, req RunRequest) (*tasks.Task, error)
}

// RunBinding is what a run token is bound to.
type RunBinding struct {
	Run      string `json:"run"`
	Identity string `json:"identity"`
	Task     string `json:"task"`
	Epoch    uint64 `json:"epoch"`
}

// RunRequest is one write a run asks the daemon for: Op is heartbeat,
// comment, move, handoff or usage, on the run's task.
type RunRequest struct {
	Op      string
	Task    string
	Text    string // comment
	To      string // move
	Note    string // move
	TTL     string // heartbeat
	Handoff *tasks.Handoff
	Usage   *Usage // usage: what the agent reports it used (added to the run's)
}

// Usage is model usage a run reports (budget_report): the daemon adds it
// to the run's record, which budgets and receipts count.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	Credits      int64 `json:"credits"` // millionths of a US dollar
}

// server is one caller's server state.
type server struct {
	svc  *covenant.Service // acting as the caller (Options.Identity)
	base *covenant.Service
	opts Options
}

// New builds the MCP server for one caller over svc. It registers the
// tools Options allow; connect it to a transport (mcp.StdioTransport,
// or return it from the getServer of mcp.NewStreamableHTTPHandler).
func New(svc *covenant.Service, opts Options) *mcp.Server {
	s := &server{svc: svc.As(opts.Identity), base: svc, opts: opts}
	if opts.Identity == "" {
		s.svc = svc
	}
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	m := mcp.NewServer(&mcp.Implementation{Name: "git-covenant", Version: version}, &mcp.ServerOptions{
		Instructions: instructions,
	})
	for _, t := range s.tools() {
		m.AddTool(t.tool, s.handler(t))
	}
	return m
}

const instructions = "git-covenant: signed task state in git. Start with covenant_read action=prime."

// handler wraps one tool: decode strictly, check scope, run, and turn
// every error and panic into a tool error.
func (s *server) handler(t *toolDef) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
		defer func() {
			if p := recover(); p != nil {
				res, err = errorResult(fmt.Errorf("%w: %s panicked: %v", ErrPanic, t.tool.Name, p), ""), nil
			}
		}()
		var raw json.RawMessage
		if req != nil && req.Params != nil {
			raw = req.Params.Arguments
		}
		o, a, err := t.decode(raw)
		if err != nil {
			return errorResult(err, ""), nil
		}
		c := &call{s: s, op: o, args: a}
		if o.class != classRead {
			if err := c.authorize(ctx); err != nil {
				return errorResult(err, o.scope), nil
			}
		}
		out, err := o.run(ctx, c)
		if err != nil {
			return errorResult(err, ""), nil
		}
		return jsonResult(out)
	}
}

// toolError is the structured content of a refused or failed call.
type toolError struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
	Scope string `json:"scope,omitempty"`
}

func errorResult(err error, scope string) *mcp.CallToolResult {
	te := toolError{Error: err.Error(), Kind: errorKind(err)}
	if sc, ok := asScopeError(err); ok {
		te.Scope = sc
	} else if errors.Is(err, ErrScope) {
		te.Scope = scope
	}
	text := te.Error
	if te.Scope != "" {
		text = fmt.Sprintf("refused: needs scope %s: %s", te.Scope, te.Error)
	}
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}, StructuredContent: te}
}

func errorKind(err error) string {
	switch {
	case errors.Is(err, ErrScope):
		return "scope"
	case errors.Is(err, ErrBadArgs):
		return "bad-arguments"
	case errors.Is(err, ErrNotInRun):
		return "not-in-run"
	case errors.Is(err, ErrRunToken):
		return "run-token"
	case errors.Is(err, ErrPanic):
		return "internal"
	}
	if k, ok := covenant.IsRejection(err); ok {
		return k
	}
	return "error"
}

func jsonResult(v any) (*mcp.CallToolResult, error) {
	var b []byte
	switch v := v.(type) {
	case json.RawMessage:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return errorResult(err, ""), nil
		}
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, nil
}
