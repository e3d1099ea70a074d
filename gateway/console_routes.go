package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Bodies of the routes the web console added: sign-in, gate reviews,
// escalation answers and grants.
type (
	// ReviewGate is the body of POST /v1/tasks/{id}/review.
	ReviewGate struct {
		Gate    string `json:"gate"`
		Verdict string `json:"verdict"` // approve or reject
		Note    string `json:"note,omitempty"`
	}
	// ResolveEscalation is the body of POST /v1/tasks/{id}/resolve.
	ResolveEscalation struct {
		Decision string `json:"decision"`
	}
	// GrantScopes is the body of POST /v1/capabilities.
	GrantScopes struct {
		To        string   `json:"to"`
		Scopes    []string `json:"scopes"`
		Labels    []string `json:"labels,omitempty"`
		Expires   string   `json:"expires,omitempty"` // RFC 3339
		Delegable bool     `json:"delegable,omitempty"`
	}
	// RevokeGrant is the body of POST /v1/capabilities/{grant}/revoke.
	RevokeGrant struct {
		Reason string `json:"reason"`
	}
)

func (s *Server) consoleRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/v1/session", Summary: "Sign the web console in with a token: sets an HttpOnly, SameSite=Strict session cookie and answers the CSRF token its writes must send", Public: true, Body: SignIn{}, Schema: "gateway-session/1",
			handle: s.signIn},
		{Method: "GET", Pattern: "/v1/session", Summary: "The console session the request carries (its CSRF token); for a bearer token, the token", Schema: "gateway-session/1",
			handle: s.currentSession},
		{Method: "POST", Pattern: "/v1/session/end", Summary: "Sign the console out: the session ends and its cookie is cleared", Schema: "gateway-health/1",
			handle: s.signOut},
		{Method: "GET", Pattern: "/v1/workflow", Summary: "The workflow: states, transitions and gates (workflow show)", Schema: "workflow/1",
			handle: func(c *call) (any, error) { return c.s.svc.Workflow() }},
		{Method: "POST", Pattern: "/v1/tasks/{id}/review", Summary: "Approve or reject an approval gate (task review)", Scope: trust.ScopeReviewPrefix + "<gate>", Body: ReviewGate{}, Schema: "task/1",
			scopeOf: func(c *call) (string, error) {
				g := c.body.(*ReviewGate).Gate
				if g == "" || strings.ContainsAny(g, " \t\n") {
					return "", fmt.Errorf("%w: the gate to review is required", ErrBadRequest)
				}
				return tasks.ReviewScope(g), nil
			},
			handle: func(c *call) (any, error) {
				b := c.body.(*ReviewGate)
				return c.as.Review(c.ctx, covenant.ReviewRequest{Task: c.r.PathValue("id"), Gate: b.Gate, Verdict: b.Verdict, Note: b.Note})
			}},
		{Method: "POST", Pattern: "/v1/tasks/{id}/resolve", Summary: "Resolve a task's open escalation (task resolve; human identities only)", Scope: trust.ScopeResolve, Body: ResolveEscalation{}, Schema: "task/1",
			handle: func(c *call) (any, error) {
				return c.as.Resolve(c.ctx, c.r.PathValue("id"), c.body.(*ResolveEscalation).Decision)
			}},
		{Method: "POST", Pattern: "/v1/capabilities", Summary: "Grant scopes to an identity (cap grant)", Scope: trust.ScopeIdentityAdmin, Body: GrantScopes{}, Schema: "grant/1", Status: http.StatusCreated,
			handle: func(c *call) (any, error) {
				b := c.body.(*GrantScopes)
				req := covenant.GrantRequest{To: b.To, Scopes: b.Scopes, Labels: b.Labels, Delegable: b.Delegable}
				if b.Expires != "" {
					t, err := time.Parse(time.RFC3339, b.Expires)
					if err != nil {
						return nil, fmt.Errorf("%w: expires %q is not an RFC 3339 time", ErrBadRequest, b.Expires)
					}
					req.ExpiresAt = &t
				}
				return c.as.GrantCapability(c.ctx, req)
			}},
		{Method: "POST", Pattern: "/v1/capabilities/{grant}/revoke", Summary: "Revoke a grant (cap revoke)", Scope: trust.ScopeIdentityAdmin, Body: RevokeGrant{}, Schema: "grant/1",
			handle: func(c *call) (any, error) {
				return c.as.RevokeCapability(c.ctx, c.r.PathValue("grant"), c.body.(*RevokeGrant).Reason)
			}},
	}
}
