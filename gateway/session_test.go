package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/gateway"
	"github.com/git-covenant/git-covenant/trust"
)

// signIn posts a secret to /v1/session and returns the answer, its session
// cookie (nil if none) and the session document.
func (f *fixture) signIn(secret string) (answer, *http.Cookie, gateway.Session) {
	f.t.Helper()
	a := f.do("POST", "/v1/session", "", map[string]string{"token": secret}, "Origin", "http://"+f.host, "Sec-Fetch-Site", "same-origin")
	var ck *http.Cookie
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == gateway.SessionCookie {
			ck = c
		}
	}
	var ses gateway.Session
	if a.status == 200 {
		a.json(f.t, &ses)
	}
	return a, ck, ses
}

// The session cookie is HttpOnly, SameSite=Strict, for the whole gateway,
// and a cookie-carried read works without the secret; the secret and the
// CSRF token never appear in the cookie.
func TestSessionCookieFlags(t *testing.T) {
	f := newFixture(t)
	secret := f.token("", "console", trust.ScopeTaskCreate)
	f.start(gateway.Options{})
	a, ck, ses := f.signIn(secret)
	if a.status != 200 || ck == nil {
		t.Fatalf("sign-in: %d %s (cookie %v)", a.status, a.body, ck)
	}
	if !ck.HttpOnly {
		t.Error("the session cookie is not HttpOnly")
	}
	if ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("the session cookie's SameSite is %v, not Strict", ck.SameSite)
	}
	if ck.Path != "/" || ck.Secure {
		t.Errorf("cookie path %q secure %v (plain HTTP on loopback: not Secure)", ck.Path, ck.Secure)
	}
	if strings.Contains(ck.Value, secret) || ck.Value == ses.CSRF || ses.CSRF == "" {
		t.Errorf("cookie %q, csrf %q: the cookie must not carry the secret or the CSRF token", ck.Value, ses.CSRF)
	}
	if ses.Operator != "alice" || ses.Name != "console" {
		t.Errorf("session: %+v", ses)
	}
	r := f.do("GET", "/v1/tasks", "", nil, "Cookie", ck.Name+"="+ck.Value)
	if r.status != 200 {
		t.Fatalf("a read with the cookie: %d %s", r.status, r.body)
	}
	// The page reads its CSRF token back after a reload.
	r = f.do("GET", "/v1/session", "", nil, "Cookie", ck.Name+"="+ck.Value)
	var again gateway.Session
	r.json(t, &again)
	if r.status != 200 || again.CSRF != ses.CSRF {
		t.Errorf("GET /v1/session: %d %s", r.status, r.body)
	}
	// Over TLS the cookie is Secure as well.
	g := newFixture(t)
	cert, key := selfSigned(t)
	tsecret := g.token("", "console", "read")
	g.start(gateway.Options{CertFile: cert, KeyFile: key})
	req, _ := http.NewRequest("POST", g.url+"/v1/session", strings.NewReader(`{"token":"`+tsecret+`"}`))
	resp, err := tlsClient(t, cert).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	secure := false
	for _, c := range resp.Cookies() {
		secure = secure || (c.Name == gateway.SessionCookie && c.Secure && c.HttpOnly)
	}
	if resp.StatusCode != 200 || !secure {
		t.Errorf("TLS sign-in: %d, cookies %v: want a Secure, HttpOnly session cookie", resp.StatusCode, resp.Cookies())
	}
}

// A bad, revoked or missing secret signs nothing in and sets no cookie; a
// made-up cookie reads nothing; signing out ends the session.
func TestSessionRefusesBadTokens(t *testing.T) {
	f := newFixture(t)
	secret := f.token("", "console", "read")
	gone := f.token("", "gone", "read")
	f.cli("token", "revoke", "gone", "--reason", "test")
	f.start(gateway.Options{})
	for name, s := range map[string]string{"wrong": "gcvt_" + strings.Repeat("A", 43), "revoked": gone, "empty": "", "junk": "x"} {
		a, ck, _ := f.signIn(s)
		if a.status != http.StatusUnauthorized || ck != nil {
			t.Errorf("%s secret: %d %s (cookie %v)", name, a.status, a.body, ck)
		}
	}
	if r := f.do("GET", "/v1/tasks", "", nil, "Cookie", gateway.SessionCookie+"=made-up"); r.status != http.StatusUnauthorized {
		t.Errorf("a made-up cookie: %d %s", r.status, r.body)
	}
	_, ck, ses := f.signIn(secret)
	if ck == nil {
		t.Fatal("no cookie for a live token")
	}
	cookie := ck.Name + "=" + ck.Value
	if r := f.do("POST", "/v1/session/end", "", nil, "Cookie", cookie, gateway.CSRFHeader, ses.CSRF); r.status != 200 {
		t.Fatalf("sign out: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/v1/tasks", "", nil, "Cookie", cookie); r.status != http.StatusUnauthorized {
		t.Errorf("the cookie after sign-out: %d %s", r.status, r.body)
	}
	// Revoking the token ends its sessions at the next request.
	_, ck, _ = f.signIn(secret)
	f.cli("token", "revoke", "console", "--reason", "test")
	waitFor(t, "the revocation to reach the gateway", func() bool {
		return f.do("GET", "/v1/tasks", "", nil, "Cookie", ck.Name+"="+ck.Value).status == http.StatusUnauthorized
	})
}

// A write carried by the cookie needs the session's CSRF token and must
// not come from another site or origin; with them it is signed by the
// operator.
func TestSessionCSRF(t *testing.T) {
	f := newFixture(t)
	secret := f.token("", "console", trust.ScopeTaskCreate)
	f.start(gateway.Options{})
	_, ck, ses := f.signIn(secret)
	cookie := ck.Name + "=" + ck.Value
	body := map[string]any{"title": "from the console"}
	cases := []struct {
		name string
		hdr  []string
	}{
		{"no CSRF header", []string{"Cookie", cookie}},
		{"a wrong CSRF token", []string{"Cookie", cookie, gateway.CSRFHeader, "wrong"}},
		{"another site", []string{"Cookie", cookie, gateway.CSRFHeader, ses.CSRF, "Sec-Fetch-Site", "cross-site"}},
		{"a sibling site", []string{"Cookie", cookie, gateway.CSRFHeader, ses.CSRF, "Sec-Fetch-Site", "same-site"}},
		{"another origin", []string{"Cookie", cookie, gateway.CSRFHeader, ses.CSRF, "Origin", "http://127.0.0.1:1"}},
	}
	for _, c := range cases {
		r := f.do("POST", "/v1/tasks", "", body, c.hdr...)
		if r.status != http.StatusForbidden {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	if out := f.cli("task", "list"); strings.Contains(out, "from the console") {
		t.Fatalf("a refused write landed: %s", out)
	}
	r := f.do("POST", "/v1/tasks", "", body, "Cookie", cookie, gateway.CSRFHeader, ses.CSRF, "Origin", "http://"+f.host, "Sec-Fetch-Site", "same-origin")
	if r.status != http.StatusCreated {
		t.Fatalf("a same-origin write with the CSRF token: %d %s", r.status, r.body)
	}
	if out := f.cli("task", "list"); !strings.Contains(out, "from the console") {
		t.Errorf("the write did not land: %s", out)
	}
}

// The console's files are embedded and served without a token (they hold
// no data) under a policy that loads nothing from elsewhere; / sends there.
func TestConsoleFiles(t *testing.T) {
	f := newFixture(t)
	f.start(gateway.Options{})
	for _, p := range []string{"/console/", "/console/app.js", "/console/app.css"} {
		r := f.do("GET", p, "", nil)
		if r.status != 200 || len(r.body) == 0 {
			t.Errorf("GET %s: %d", p, r.status)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: policy %q", p, csp)
		}
		if strings.Contains(string(r.body), "https://") {
			t.Errorf("%s names a remote URL: the console works offline", p)
		}
	}
	req, _ := http.NewRequest("GET", f.url+"/", nil)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != gateway.ConsolePath {
		t.Errorf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// No data without a token: the API still refuses.
	if r := f.do("GET", "/v1/tasks", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/tasks without a token: %d", r.status)
	}
}
