package gateway

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/mcpserver"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MCP is the MCP streamable-HTTP endpoint as a mount at /mcp: one MCP
// server (package mcpserver) per session, acting as the token's operator.
// A token that carries no write scope gets the read-only server, which
// advertises no write tool; a write tool checks the token's scopes first,
// then the operator's capabilities, as every route does. The check tool,
// which runs commands, is never offered over HTTP. A session is bound to
// the token that opened it: another token presenting its id is refused.
func MCP(svc *covenant.Service, version string) Mount {
	var sessions sync.Map // session id -> token id
	h := mcp.NewStreamableHTTPHandler(func(r *http.Request) *mcp.Server {
		tok := TokenFrom(r.Context())
		if tok == nil {
			return nil
		}
		writes := false
		for _, s := range tok.Scopes {
			writes = writes || s != "read"
		}
		return mcpserver.New(svc, mcpserver.Options{Identity: tok.Operator, ReadOnly: !writes, Version: version,
			Authorize: func(_ context.Context, scope string) error {
				if !tok.Allows(scope) {
					return fmt.Errorf("%w: token %s (%s) does not carry %s", mcpserver.ErrScope, tok.Name, tok.ID, scope)
				}
				return nil
			}})
	}, nil)
	return Mount{Path: "/mcp", Summary: "MCP streamable HTTP (the tools of git covenant mcp, acting as the token's operator)", Methods: []string{"GET", "POST", "DELETE"},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok := TokenFrom(r.Context())
			if id := r.Header.Get("Mcp-Session-Id"); id != "" {
				if owner, ok := sessions.Load(id); ok && owner != tok.ID {
					writeError(w, fmt.Errorf("%w: MCP session %s belongs to another token", ErrScope, id))
					return
				}
			}
			sw := &sessionWriter{ResponseWriter: w, bind: func(id string) { sessions.LoadOrStore(id, tok.ID) }}
			h.ServeHTTP(sw, r)
			if r.Method == http.MethodDelete {
				sessions.Delete(r.Header.Get("Mcp-Session-Id"))
			}
		})}
}

// sessionWriter binds the session id a response names to the request's
// token before the response leaves, so the client's next request finds it.
type sessionWriter struct {
	http.ResponseWriter
	bind    func(id string)
	started bool
}

func (w *sessionWriter) WriteHeader(code int) {
	if !w.started {
		w.started = true
		if id := w.Header().Get("Mcp-Session-Id"); id != "" {
			w.bind(id)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *sessionWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *sessionWriter) Flush() {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *sessionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
