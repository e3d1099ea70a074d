package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/git-covenant/git-covenant/tokens"
)

// The web console signs in with an operator token once and then carries a
// session cookie instead of the secret: the cookie is HttpOnly (the page's
// scripts never see it), SameSite=Strict (another site's page never sends
// it) and Secure over TLS. The session keeps the token's secret in this
// process only, and every request authenticates it again, so a token
// revoked, rotated or expired ends its sessions at the next request.
//
// A write carried by the cookie also needs the session's CSRF token in the
// X-Covenant-CSRF header (double submit: the page learns it from the
// sign-in answer and from GET /v1/session; no other origin can read it)
// and must not come from another site (Sec-Fetch-Site). The Origin check
// of every request (checkHost) stands in front of both. Bearer requests
// need none of this: a browser never adds an Authorization header by
// itself.

// Cookie and header names.
const (
	SessionCookie = "covenant_session"
	CSRFHeader    = "X-Covenant-CSRF"
)

// SessionTTL bounds a session; a token's own expiry ends it sooner.
const SessionTTL = 12 * time.Hour

var (
	// ErrCSRF means a cookie-carried write without the session's CSRF
	// token, or from another site.
	ErrCSRF = errors.New("cross-site request refused")
)

// SignIn is the body of POST /v1/session.
type SignIn struct {
	Token string `json:"token"`
}

// Session is what POST and GET /v1/session answer: the signed-in token
// (never its secret) and the CSRF token writes must carry.
type Session struct {
	Token    string     `json:"token"`
	Name     string     `json:"name"`
	Operator string     `json:"operator"`
	Scopes   []string   `json:"scopes"`
	CSRF     string     `json:"csrf"`
	Expires  *time.Time `json:"expires,omitempty"`
}

type session struct {
	secret  string
	csrf    string
	expires time.Time
}

// sessions are the console's sign-ins, by the SHA-256 of the cookie value.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func cookieKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// lookup returns the live session a cookie value names.
func (ss *sessions) lookup(v string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	k := cookieKey(v)
	s := ss.m[k]
	if s != nil && !now.Before(s.expires) {
		delete(ss.m, k)
		return nil
	}
	return s
}

func (ss *sessions) add(s *session, now time.Time) string {
	v := randomString()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*session{}
	}
	for k, old := range ss.m {
		if !now.Before(old.expires) {
			delete(ss.m, k)
		}
	}
	ss.m[cookieKey(v)] = s
	return v
}

func (ss *sessions) remove(v string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, cookieKey(v))
}

// signIn checks a secret and starts a session: the cookie is set on the
// answer.
func (s *Server) signIn(c *call) (any, error) {
	secret := c.body.(*SignIn).Token
	if secret == "" {
		return nil, fmt.Errorf("%w: give the token's secret (git covenant token create prints it)", ErrUnauthenticated)
	}
	t, err := s.svc.Authenticate(secret)
	if err != nil {
		if errors.Is(err, tokens.ErrRefused) {
			return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
		}
		return nil, err
	}
	now := s.o.Now()
	ses := &session{secret: secret, csrf: randomString(), expires: now.Add(SessionTTL)}
	if t.ExpiresAt != nil && t.ExpiresAt.Before(ses.expires) {
		ses.expires = *t.ExpiresAt
	}
	v := s.sessions.add(ses, now)
	http.SetCookie(c.w, s.cookie(v, ses.expires))
	return sessionOf(t, ses), nil
}

func sessionOf(t *tokens.Token, ses *session) Session {
	out := Session{Token: t.ID, Name: t.Name, Operator: t.Operator, Scopes: t.Scopes, CSRF: ses.csrf}
	if !ses.expires.IsZero() {
		e := ses.expires.UTC()
		out.Expires = &e
	}
	return out
}

// cookie is the session cookie: HttpOnly, SameSite=Strict, path /, Secure
// over TLS; an expiry in the past clears it.
func (s *Server) cookie(v string, expires time.Time) *http.Cookie {
	ck := &http.Cookie{Name: SessionCookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.tls}
	if expires.IsZero() {
		ck.MaxAge = -1
	} else {
		ck.Expires = expires
		ck.MaxAge = int(time.Until(expires).Seconds())
		if ck.MaxAge <= 0 {
			ck.MaxAge = 1
		}
	}
	return ck
}

// currentSession answers GET /v1/session for a cookie-carried request.
func (s *Server) currentSession(c *call) (any, error) {
	ses := c.session
	if ses == nil {
		// A bearer token: no cookie, no CSRF token needed.
		ses = &session{}
		if c.token.ExpiresAt != nil {
			ses.expires = *c.token.ExpiresAt
		}
	}
	return sessionOf(c.token, ses), nil
}

// signOut ends the request's session and clears its cookie.
func (s *Server) signOut(c *call) (any, error) {
	if ck, err := c.r.Cookie(SessionCookie); err == nil {
		s.sessions.remove(ck.Value)
	}
	http.SetCookie(c.w, s.cookie("", time.Time{}))
	return Health{OK: true}, nil
}

// fromSession authenticates a request by its session cookie; for a write
// it checks the CSRF token and the fetch site first.
func (s *Server) fromSession(r *http.Request) (*tokens.Token, *session, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil, fmt.Errorf("%w: no Authorization header; send 'Authorization: Bearer <token>' (git covenant token create), or sign in to the console", ErrUnauthenticated)
	}
	ses := s.sessions.lookup(ck.Value, s.o.Now())
	if ses == nil {
		return nil, nil, fmt.Errorf("%w: the console session ended; sign in again", ErrUnauthenticated)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			return nil, nil, fmt.Errorf("%w: Sec-Fetch-Site %q", ErrCSRF, site)
		}
		got := r.Header.Get(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ses.csrf)) != 1 {
			return nil, nil, fmt.Errorf("%w: a write with the console's cookie needs the session's %s header", ErrCSRF, CSRFHeader)
		}
	}
	t, err := s.svc.Authenticate(ses.secret)
	if err != nil {
		s.sessions.remove(ck.Value)
		if errors.Is(err, tokens.ErrRefused) {
			return nil, nil, fmt.Errorf("%w: the console session's token is no longer live: %w", ErrUnauthenticated, err)
		}
		return nil, nil, err
	}
	return t, ses, nil
}
