package a2ahttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/a2aproject/a2a-go/a2a"
	"github.com/a2aproject/a2a-go/a2asrv"
	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gateway"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/mailbox"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tokens"
	"github.com/git-covenant/git-covenant/trust"
)

// ProtocolVersion is the A2A protocol version the cards declare.
const ProtocolVersion = "0.3.0"

// DefaultKind is the mailbox kind of an A2A message whose metadata names
// none ("kind").
const DefaultKind = "a2a"

// ErrUnauthenticated means a request carried no valid bearer token.
var ErrUnauthenticated = errors.New("no valid bearer token")

// Agent is one agent the handler serves a card and an endpoint for.
type Agent struct {
	Name        string
	Identity    string
	Description string
	// Kinds are the message kinds it takes; its card lists one skill each.
	Kinds []string
}

// Options configures a Handler.
type Options struct {
	Service *covenant.Service
	// Agents lists the agents served; nil means ManifestAgents(Service).
	Agents func(ctx context.Context) ([]Agent, error)
	// Authenticate returns the token a request carries; nil means the
	// bearer token checked against the clone's token file (BearerAuth).
	Authenticate func(r *http.Request) (*tokens.Token, error)
	// Prefix is the path the handler is mounted at ("/a2a"); BaseURL, if
	// set, is the scheme and host cards name, else the request's.
	Prefix, BaseURL string
	// BlockFor bounds how long a blocking message/send waits for the
	// agent's result (default DefaultBlockFor); after it the task is
	// answered as it stands (submitted or working) and tasks/get reads on.
	BlockFor time.Duration
	// StreamFor bounds a message/stream or tasks/resubscribe stream
	// (default DefaultStreamFor); the client resubscribes after it.
	StreamFor time.Duration
	// Poll is how often a waiting request reads the message's state
	// (default 100 ms); a result written by any process is seen. Keep it
	// above the Service's idle release (covenant.DefaultIdleRelease,
	// 25 ms): a Service read more often never gives up the writer lock,
	// and the agent answering from another process would wait for it.
	Poll time.Duration
}

// Bounds of waiting requests, when Options name none.
const (
	DefaultBlockFor  = 30 * time.Second
	DefaultStreamFor = 10 * time.Minute
)

// ManifestAgents lists the agents of the committed manifests
// (.covenant/agents/*.toml) of the service's working tree.
func ManifestAgents(svc *covenant.Service) func(ctx context.Context) ([]Agent, error) {
	return func(context.Context) ([]Agent, error) {
		ms, err := agents.LoadTree(svc.WorkTree())
		if err != nil && len(ms) == 0 {
			return nil, err
		}
		out := make([]Agent, 0, len(ms))
		for _, m := range ms {
			id := m.Identity
			if id == "" {
				id = m.Name
			}
			out = append(out, Agent{Name: m.Name, Identity: id, Description: m.Description})
		}
		return out, nil
	}
}

// BearerAuth authenticates the request's "Authorization: Bearer <secret>"
// against the service's token file.
func BearerAuth(svc *covenant.Service) func(r *http.Request) (*tokens.Token, error) {
	return func(r *http.Request) (*tokens.Token, error) {
		h := r.Header.Get("Authorization")
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || secret == "" {
			return nil, ErrUnauthenticated
		}
		t, err := svc.Authenticate(strings.TrimSpace(secret))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
		}
		return t, nil
	}
}

// GatewayAuth takes the token the daemon's HTTP gateway authenticated
// (package gateway checks every request to a mount before it gets here).
func GatewayAuth(r *http.Request) (*tokens.Token, error) {
	if t := gateway.TokenFrom(r.Context()); t != nil {
		return t, nil
	}
	return nil, ErrUnauthenticated
}

// Handler serves the agent cards and the JSON-RPC endpoints.
type Handler struct{ o Options }

// New returns a Handler for o.
func New(o Options) *Handler {
	if o.Agents == nil {
		o.Agents = ManifestAgents(o.Service)
	}
	if o.Authenticate == nil {
		o.Authenticate = BearerAuth(o.Service)
	}
	if o.BlockFor <= 0 {
		o.BlockFor = DefaultBlockFor
	}
	if o.StreamFor <= 0 {
		o.StreamFor = DefaultStreamFor
	}
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	o.Prefix = "/" + strings.Trim(o.Prefix, "/")
	if o.Prefix == "/" {
		o.Prefix = ""
	}
	return &Handler{o: o}
}

const cardSuffix = "/.well-known/agent-card.json"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, h.o.Prefix+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	name, card := strings.CutSuffix(rest, cardSuffix)
	name = strings.TrimSuffix(name, "/")
	if identity.CheckName(name) != nil {
		http.NotFound(w, r)
		return
	}
	ag, err := h.agent(r.Context(), name)
	if err != nil {
		http.Error(w, "agents: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if ag == nil {
		http.NotFound(w, r)
		return
	}
	if card {
		a2asrv.NewStaticAgentCardHandler(h.Card(r, ag)).ServeHTTP(w, r)
		return
	}
	tok, err := h.o.Authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="git-covenant"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	a2asrv.NewJSONRPCHandler(&rpc{svc: h.o.Service.As(tok.Operator), tok: tok, agent: ag, o: &h.o}).ServeHTTP(w, r)
}

func (h *Handler) agent(ctx context.Context, name string) (*Agent, error) {
	as, err := h.o.Agents(ctx)
	if err != nil {
		return nil, err
	}
	for i := range as {
		if as[i].Name == name {
			return &as[i], nil
		}
	}
	return nil, nil
}

// Card is the agent card of ag as served to r.
func (h *Handler) Card(r *http.Request, ag *Agent) *a2a.AgentCard {
	base := h.o.BaseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	desc := ag.Description
	if desc == "" {
		desc = fmt.Sprintf("git-covenant agent %s (identity %s): messages become leased mailbox messages", ag.Name, ag.Identity)
	}
	kinds := ag.Kinds
	if len(kinds) == 0 {
		kinds = []string{DefaultKind}
	}
	skills := make([]a2a.AgentSkill, 0, len(kinds))
	for _, k := range kinds {
		skills = append(skills, a2a.AgentSkill{ID: k, Name: k, Description: "messages of kind " + k + " (metadata.kind)", Tags: []string{"covenant", k}})
	}
	return &a2a.AgentCard{
		Name: ag.Name, Description: desc, URL: strings.TrimRight(base, "/") + h.o.Prefix + "/" + ag.Name,
		PreferredTransport: a2a.TransportProtocolJSONRPC, ProtocolVersion: ProtocolVersion, Version: "1",
		Capabilities:      a2a.AgentCapabilities{Streaming: true},
		DefaultInputModes: []string{"text/plain"}, DefaultOutputModes: []string{"text/plain"},
		Skills:          skills,
		SecuritySchemes: a2a.NamedSecuritySchemes{"bearer": a2a.HTTPAuthSecurityScheme{Scheme: "Bearer", Description: "a git-covenant operator token carrying a2a.send or a2a.send." + ag.Identity}},
		Security:        []a2a.SecurityRequirements{{"bearer": a2a.SecuritySchemeScopes{}}},
	}
}

// rpc is the A2A request handler of one request: the token's operator
// talking to one agent.
type rpc struct {
	svc   *covenant.Service
	tok   *tokens.Token
	agent *Agent
	o     *Options
}

// maySend reports whether the token may send to (and so ack and cancel
// its messages to) the agent.
func (h *rpc) maySend() bool {
	return h.tok.Allows(trust.ScopeA2A) || h.tok.Allows(trust.ScopeA2ASendTo(h.agent.Identity))
}

var _ a2asrv.RequestHandler = (*rpc)(nil)

// OnSendMessage sends the message and, unless the configuration says
// blocking false, waits (at most Options.BlockFor) for the agent's
// result, which it then acknowledges for the sender, so the message ends
// resolved. (Blocking is the default: the a2a-go client omits the
// configuration when it blocks.)
func (h *rpc) OnSendMessage(ctx context.Context, p *a2a.MessageSendParams) (a2a.SendMessageResult, error) {
	v, err := h.send(ctx, p)
	if err != nil {
		return nil, err
	}
	if (p.Config == nil || p.Config.Blocking == nil || *p.Config.Blocking) && !done(v) {
		wctx, cancel := context.WithTimeout(ctx, h.o.BlockFor)
		defer cancel()
		for w, err := range h.watch(wctx, v) {
			if err != nil {
				return nil, err
			}
			v = w
		}
	}
	if v, err = h.settle(ctx, v); err != nil {
		return nil, err
	}
	return task(v, p.Message.ContextID), nil
}

// done reports whether a message has its outcome (an A2A terminal state).
func done(v *covenant.MessageView) bool {
	switch v.Status.State {
	case mailbox.ResultPending, mailbox.Resolved, mailbox.Failed:
		return true
	}
	return false
}

// settle acknowledges a result waiting for the token's operator, when the
// token may send to the agent: an A2A client that read the result has
// accepted it, and the message does not stay result_pending.
func (h *rpc) settle(ctx context.Context, v *covenant.MessageView) (*covenant.MessageView, error) {
	if v.Status.State != mailbox.ResultPending || v.From.Name != h.tok.Operator || !h.maySend() {
		return v, nil
	}
	acked, err := h.svc.AckMessage(ctx, v.ID)
	if err != nil {
		if _, ok := covenant.IsRejection(err); ok {
			return h.svc.Message(ctx, v.ID) // acked meanwhile by another request
		}
		return nil, rpcError(err)
	}
	return acked, nil
}

// watch yields the message each time its state changes, until it is done
// or ctx ends (no error then).
func (h *rpc) watch(ctx context.Context, v *covenant.MessageView) iter.Seq2[*covenant.MessageView, error] {
	return func(yield func(*covenant.MessageView, error) bool) {
		t := time.NewTicker(h.o.Poll)
		defer t.Stop()
		last := v.Status.State
		for !done(v) {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			w, err := h.svc.Message(ctx, v.ID)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				yield(nil, rpcError(err))
				return
			}
			v = w
			if v.Status.State != last {
				last = v.Status.State
				if !yield(v, nil) {
					return
				}
			}
		}
	}
}

func (h *rpc) send(ctx context.Context, p *a2a.MessageSendParams) (*covenant.MessageView, error) {
	if !h.maySend() {
		return nil, fmt.Errorf("%w: token %s carries neither %s nor %s", a2a.ErrInvalidRequest, h.tok.Name, trust.ScopeA2A, trust.ScopeA2ASendTo(h.agent.Identity))
	}
	m := p.Message
	if m == nil {
		return nil, fmt.Errorf("%w: no message", a2a.ErrInvalidParams)
	}
	if m.TaskID != "" {
		return nil, fmt.Errorf("%w: a mailbox message is answered once; send a new message rather than continue task %s", a2a.ErrUnsupportedOperation, m.TaskID)
	}
	body, err := text(m.Parts)
	if err != nil {
		return nil, err
	}
	req := covenant.SendRequest{To: h.agent.Identity, Kind: DefaultKind, Body: body}
	if k, ok := m.Metadata["kind"].(string); ok && k != "" {
		req.Kind = k
	}
	if t, ok := m.Metadata["task"].(string); ok {
		req.Task = t
	}
	if m.ID != "" {
		req.IdempotencyKey = "a2a:" + m.ID
	}
	v, err := h.svc.SendMessage(ctx, req)
	if err != nil {
		return nil, rpcError(err)
	}
	return v, nil
}

// text joins the message's text parts; data parts are sent as their JSON.
func text(parts a2a.ContentParts) (string, error) {
	var b strings.Builder
	for _, p := range parts {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		switch p := p.(type) {
		case a2a.TextPart:
			b.WriteString(p.Text)
		case a2a.DataPart:
			raw, err := json.Marshal(p.Data)
			if err != nil {
				return "", fmt.Errorf("%w: data part: %v", a2a.ErrInvalidParams, err)
			}
			b.Write(raw)
		default:
			return "", fmt.Errorf("%w: only text and data parts are carried", a2a.ErrUnsupportedContentType)
		}
	}
	if strings.TrimSpace(b.String()) == "" {
		return "", fmt.Errorf("%w: the message has no text", a2a.ErrInvalidParams)
	}
	return b.String(), nil
}

// rpcError maps a service error to a JSON-RPC one: what the caller got
// wrong (bad input, a refusal by the fold) is an invalid request with the
// reason; the rest is internal, its text not shown.
func rpcError(err error) error {
	if _, ok := covenant.IsRejection(err); ok || errors.Is(err, covenant.ErrBadInput) || errors.Is(err, mailbox.ErrBadMessage) || errors.Is(err, covenant.ErrTaskNotFound) || errors.Is(err, covenant.ErrUntrusted) {
		return fmt.Errorf("%w: %v", a2a.ErrInvalidRequest, err)
	}
	if errors.Is(err, covenant.ErrMessageNotFound) {
		return a2a.ErrTaskNotFound
	}
	return fmt.Errorf("%w", a2a.ErrInternalError)
}

// OnGetTask reads a message as a task; a completed one is acknowledged
// for the sender (settle), so reading the result resolves it.
func (h *rpc) OnGetTask(ctx context.Context, q *a2a.TaskQueryParams) (*a2a.Task, error) {
	v, err := h.mine(ctx, q.ID)
	if err != nil {
		return nil, err
	}
	if v, err = h.settle(ctx, v); err != nil {
		return nil, err
	}
	return task(v, ""), nil
}

// mine reads a message the token may see: the operator's own messages to
// this agent, or to the operator from it; anything else does not exist
// for this token.
func (h *rpc) mine(ctx context.Context, id a2a.TaskID) (*covenant.MessageView, error) {
	if !mailbox.ValidID(string(id)) {
		return nil, a2a.ErrTaskNotFound
	}
	v, err := h.svc.Message(ctx, string(id))
	if err != nil {
		return nil, rpcError(err)
	}
	op := h.tok.Operator
	if !(v.To == h.agent.Identity && v.From.Name == op) && !(v.From.Name == h.agent.Identity && v.To == op) {
		return nil, a2a.ErrTaskNotFound
	}
	return v, nil
}

// task is the A2A view of a message.
func task(v *covenant.MessageView, contextID string) *a2a.Task {
	if contextID == "" {
		contextID = v.ID
	}
	t := &a2a.Task{ID: a2a.TaskID(v.ID), ContextID: contextID,
		Metadata: map[string]any{"kind": v.Kind, "mailbox_state": v.Status.State, "attempts": v.Attempts}}
	user := &a2a.Message{ID: v.ID + "-request", ContextID: contextID, TaskID: t.ID, Role: a2a.MessageRoleUser, Parts: a2a.ContentParts{a2a.TextPart{Text: v.Body}}}
	t.History = []*a2a.Message{user}
	at := v.SentAt
	if n := len(v.History); n > 0 {
		at = v.History[n-1].At
	}
	ts := at.UTC()
	t.Status.Timestamp = &ts
	agentSays := func(s string) *a2a.Message {
		return &a2a.Message{ID: v.ID + "-" + string(t.Status.State), ContextID: contextID, TaskID: t.ID, Role: a2a.MessageRoleAgent, Parts: a2a.ContentParts{a2a.TextPart{Text: s}}}
	}
	switch v.Status.State {
	case mailbox.Queued:
		t.Status.State = a2a.TaskStateSubmitted
	case mailbox.InFlight:
		t.Status.State = a2a.TaskStateWorking
	case mailbox.ResultPending, mailbox.Resolved:
		t.Status.State = a2a.TaskStateCompleted
		t.Status.Message = agentSays(v.Result.Text)
		t.Artifacts = []*a2a.Artifact{{ID: a2a.ArtifactID(v.ID + "-result"), Name: "result", Parts: a2a.ContentParts{a2a.TextPart{Text: v.Result.Text}}}}
		t.History = append(t.History, t.Status.Message)
	case mailbox.Failed:
		t.Status.State = a2a.TaskStateFailed
		if v.Cancelled {
			t.Status.State = a2a.TaskStateCanceled
		}
		why := v.Status.Reason
		if v.Error != nil {
			why = v.Error.Text
		}
		t.Status.Message = agentSays(why)
	default:
		t.Status.State = a2a.TaskStateUnknown
	}
	return t
}

// OnCancelTask withdraws a message the operator sent that is not answered
// yet (a2a.cancel); one with its outcome is not cancelable.
func (h *rpc) OnCancelTask(ctx context.Context, p *a2a.TaskIDParams) (*a2a.Task, error) {
	v, err := h.mine(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	if v.From.Name != h.tok.Operator || !h.maySend() {
		return nil, fmt.Errorf("%w: only the sender cancels, with a token that may send to %s", a2a.ErrInvalidRequest, h.agent.Identity)
	}
	if done(v) {
		return nil, a2a.ErrTaskNotCancelable
	}
	v, err = h.svc.CancelMessage(ctx, v.ID, "cancelled through A2A tasks/cancel by token "+h.tok.Name)
	if err != nil {
		if k, ok := covenant.IsRejection(err); ok && k == oplog.KindIllegal {
			return nil, a2a.ErrTaskNotCancelable // answered meanwhile
		}
		return nil, rpcError(err)
	}
	return task(v, ""), nil
}

// OnSendMessageStream sends the message and streams the task: the task as
// sent, a status update on each change of state, and the outcome (its
// result as an artifact, acknowledged as a blocking send does) as the
// final event; bounded by Options.StreamFor.
func (h *rpc) OnSendMessageStream(ctx context.Context, p *a2a.MessageSendParams) iter.Seq2[a2a.Event, error] {
	return func(yield func(a2a.Event, error) bool) {
		v, err := h.send(ctx, p)
		if err != nil {
			yield(nil, err)
			return
		}
		h.stream(ctx, v, p.Message.ContextID, yield)
	}
}

// OnResubscribeToTask streams a task the token may see, as
// OnSendMessageStream does after the send.
func (h *rpc) OnResubscribeToTask(ctx context.Context, p *a2a.TaskIDParams) iter.Seq2[a2a.Event, error] {
	return func(yield func(a2a.Event, error) bool) {
		v, err := h.mine(ctx, p.ID)
		if err != nil {
			yield(nil, err)
			return
		}
		h.stream(ctx, v, "", yield)
	}
}

func (h *rpc) stream(ctx context.Context, v *covenant.MessageView, contextID string, yield func(a2a.Event, error) bool) {
	if !done(v) {
		if !yield(task(v, contextID), nil) {
			return
		}
		sctx, cancel := context.WithTimeout(ctx, h.o.StreamFor)
		defer cancel()
		for w, err := range h.watch(sctx, v) {
			if err != nil {
				yield(nil, err)
				return
			}
			if v = w; done(v) {
				break
			}
			t := task(v, contextID)
			if !yield(&a2a.TaskStatusUpdateEvent{TaskID: t.ID, ContextID: t.ContextID, Status: t.Status, Metadata: t.Metadata}, nil) {
				return
			}
		}
		if !done(v) {
			return // the bound: the client resubscribes
		}
	}
	v, err := h.settle(ctx, v)
	if err != nil {
		yield(nil, err)
		return
	}
	t := task(v, contextID)
	for _, a := range t.Artifacts {
		if !yield(&a2a.TaskArtifactUpdateEvent{TaskID: t.ID, ContextID: t.ContextID, Artifact: a, LastChunk: true}, nil) {
			return
		}
	}
	yield(&a2a.TaskStatusUpdateEvent{TaskID: t.ID, ContextID: t.ContextID, Status: t.Status, Final: true, Metadata: t.Metadata}, nil)
}

func (h *rpc) OnGetTaskPushConfig(context.Context, *a2a.GetTaskPushConfigParams) (*a2a.TaskPushConfig, error) {
	return nil, a2a.ErrPushNotificationNotSupported
}

func (h *rpc) OnListTaskPushConfig(context.Context, *a2a.ListTaskPushConfigParams) ([]*a2a.TaskPushConfig, error) {
	return nil, a2a.ErrPushNotificationNotSupported
}

func (h *rpc) OnSetTaskPushConfig(context.Context, *a2a.TaskPushConfig) (*a2a.TaskPushConfig, error) {
	return nil, a2a.ErrPushNotificationNotSupported
}

func (h *rpc) OnDeleteTaskPushConfig(context.Context, *a2a.DeleteTaskPushConfigParams) error {
	return a2a.ErrPushNotificationNotSupported
}

func (h *rpc) OnGetExtendedAgentCard(context.Context) (*a2a.AgentCard, error) {
	return nil, a2a.ErrAuthenticatedExtendedCardNotConfigured
}
