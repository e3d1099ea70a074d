package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tokens"
)

var (
	// ErrInsecureBind means a bind to a non-loopback address without a TLS
	// certificate and key.
	ErrInsecureBind = errors.New("gateway: a non-loopback address needs a TLS certificate and key")
	// ErrAddress means the listen address is malformed.
	ErrAddress = errors.New("gateway: bad listen address")
	// ErrScope means the token or its operator lacks the scope of a write.
	ErrScope = errors.New("scope refused")
	// ErrUnauthenticated means no token, or one that is not live.
	ErrUnauthenticated = errors.New("authentication required")
	// ErrForbiddenHost means the Host or Origin is not the gateway's own.
	ErrForbiddenHost = errors.New("host or origin refused")
	// ErrBadRequest means a request that does not decode or is out of range.
	ErrBadRequest = errors.New("bad request")
)

// DefaultAddr is where the gateway listens unless configured: loopback,
// a port the OS chooses.
const DefaultAddr = "127.0.0.1:0"

// MaxBody bounds a request body.
const MaxBody = 1 << 20

// Mount is a handler served under a path prefix (the MCP endpoint, A2A),
// behind the same Host, Origin and token checks as every route. The token
// is in the request's context (TokenFrom).
type Mount struct {
	// Path is the prefix, such as "/mcp"; requests to it and below it go
	// to Handler.
	Path    string
	Handler http.Handler
	// Summary and Methods describe it in the OpenAPI document.
	Summary string
	Methods []string
}

// Options configure a Server.
type Options struct {
	// Service is the handle every call goes through; writes act as
	// Service.As(the token's operator).
	Service *covenant.Service
	// Addr is host:port to listen on; "" means DefaultAddr.
	Addr string
	// CertFile and KeyFile serve TLS; needed for a non-loopback Addr.
	CertFile, KeyFile string
	// Hosts are further Host values to accept (a name the certificate is
	// for), each host:port.
	Hosts []string
	// Log receives one line per refused request and per server error.
	Log io.Writer
	// Now is the clock (token expiry); nil means time.Now.
	Now func() time.Time
	// Status, when set, serves GET /v1/daemon (the daemon's status).
	Status func() any
	// Agents, when set, serves GET /v1/agents (the manifests).
	Agents func() (any, error)
	// Mounts are extra handlers under their own prefixes.
	Mounts []Mount
	// Poll is how often the event stream looks for new ops whatever the
	// file watcher says (default 1s).
	Poll time.Duration
	// NoWatch turns the file watcher off (poll only).
	NoWatch bool
}

// Server is one gateway.
type Server struct {
	o      Options
	svc    *covenant.Service
	routes []Route
	mux    *http.ServeMux
	hosts  map[string]bool
	tls    bool
	events *broker
	// sessions are the web console's sign-ins (session.go).
	sessions sessions

	docOnce sync.Once
	doc     []byte

	mu     sync.Mutex
	ln     net.Listener
	srv    *http.Server
	url    string
	cancel context.CancelFunc
	done   chan struct{}
}

// New builds a server; Start listens.
func New(o Options) (*Server, error) {
	if o.Service == nil {
		return nil, errors.New("gateway: no service")
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrAddress, o.Addr, err)
	}
	s := &Server{o: o, svc: o.Service, tls: o.CertFile != "" || o.KeyFile != ""}
	if s.tls && (o.CertFile == "" || o.KeyFile == "") {
		return nil, fmt.Errorf("%w: give both the certificate and the key", ErrInsecureBind)
	}
	if !isLoopback(host) && !s.tls {
		return nil, fmt.Errorf("%w (%s)", ErrInsecureBind, o.Addr)
	}
	s.events = newBroker(s)
	s.routes = s.table()
	s.mux = http.NewServeMux()
	for i := range s.routes {
		r := &s.routes[i]
		s.mux.Handle(r.Method+" "+r.Pattern, s.route(r))
	}
	s.mountConsole()
	for _, m := range o.Mounts {
		p := strings.TrimSuffix(m.Path, "/")
		h := s.mount(m.Handler)
		s.mux.Handle(p, h)
		s.mux.Handle(p+"/", h)
	}
	return s, nil
}

// isLoopback reports whether host is localhost or a loopback IP.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Start listens and serves until ctx ends or Close. The address it took
// (the port the OS chose) is URL's.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("gateway: listen %s: %w", s.o.Addr, err)
	}
	if s.tls {
		cert, err := tls.LoadX509KeyPair(s.o.CertFile, s.o.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("gateway: TLS certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	addr := ln.Addr().(*net.TCPAddr)
	host, _, _ := net.SplitHostPort(s.o.Addr)
	port := strconv.Itoa(addr.Port)
	s.hosts = map[string]bool{}
	if isLoopback(host) {
		for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
			s.hosts[h+":"+port] = true
		}
	}
	s.hosts[net.JoinHostPort(host, port)] = true
	if host == "" || host == "0.0.0.0" || host == "::" {
		// Bound everywhere (TLS only): the configured names only.
		delete(s.hosts, net.JoinHostPort(host, port))
	}
	for _, h := range s.o.Hosts {
		s.hosts[strings.ToLower(h)] = true
	}
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	show := host
	if strings.Contains(show, ":") {
		show = "[" + show + "]"
	}
	ctx, cancel := context.WithCancel(ctx)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog: log.New(s.o.Log, "gateway: ", 0)}
	s.mu.Lock()
	s.ln, s.srv, s.url, s.cancel, s.done = ln, srv, scheme+"://"+show+":"+port, cancel, make(chan struct{})
	s.mu.Unlock()
	if err := s.events.start(ctx); err != nil {
		cancel()
		ln.Close()
		return err
	}
	go func() {
		defer close(s.done)
		srv.Serve(ln)
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return nil
}

// URL is the server's base URL (http://127.0.0.1:<port>), "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops the server and its event stream; open streams end.
func (s *Server) Close() error {
	s.mu.Lock()
	cancel, done, srv := s.cancel, s.done, s.srv
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	err := srv.Close()
	<-done
	s.events.wait()
	return err
}

// Handler is the whole gateway as an http.Handler: the Host and Origin
// checks in front of the routes.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkHost(r); err != nil {
			s.logf("refused %s %s from %s: %v", r.Method, r.URL.Path, r.RemoteAddr, err)
			writeError(w, err)
			return
		}
		if _, pattern := s.mux.Handler(r); pattern == "" {
			writeError(w, s.unrouted(r))
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// unrouted says why no route takes a request: another method would
// (405), or no route has its path (404).
func (s *Server) unrouted(r *http.Request) error {
	for _, m := range []string{"GET", "POST"} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := s.mux.Handler(r2); p != "" {
			return fmt.Errorf("%w: %s %s (use %s)", errMethod, r.Method, r.URL.Path, m)
		}
	}
	return fmt.Errorf("%w: %s %s (GET /v1/openapi.json lists the routes)", errNotFound, r.Method, r.URL.Path)
}

// checkHost refuses a Host that is not the gateway's own address and an
// Origin that does not match it: what a browser sends for a page whose
// name was rebound to 127.0.0.1.
func (s *Server) checkHost(r *http.Request) error {
	host := strings.ToLower(r.Host)
	if !s.hosts[host] {
		return fmt.Errorf("%w: Host %q is not this gateway's address", ErrForbiddenHost, r.Host)
	}
	if o := r.Header.Get("Origin"); o != "" {
		want := "http://" + host
		if s.tls {
			want = "https://" + host
		}
		if !strings.EqualFold(o, want) {
			return fmt.Errorf("%w: Origin %q is not %s", ErrForbiddenHost, o, want)
		}
	}
	return nil
}

type ctxKey struct{}

// TokenFrom returns the token a request authenticated with (mounted
// handlers read it), nil if none.
func TokenFrom(ctx context.Context) *tokens.Token {
	t, _ := ctx.Value(ctxKey{}).(*tokens.Token)
	return t
}

// authenticate reads the bearer token of a request or, without one, its
// console session cookie (session.go).
func (s *Server) authenticate(r *http.Request) (*tokens.Token, error) {
	t, _, err := s.authenticateSession(r)
	return t, err
}

func (s *Server) authenticateSession(r *http.Request) (*tokens.Token, *session, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return s.fromSession(r)
	}
	t, err := s.bearer(h)
	return t, nil, err
}

// bearer checks an Authorization header's token.
func (s *Server) bearer(h string) (*tokens.Token, error) {
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return nil, fmt.Errorf("%w: the Authorization header is not 'Bearer <token>'", ErrUnauthenticated)
	}
	t, err := s.svc.Authenticate(strings.TrimSpace(secret))
	if err != nil {
		if errors.Is(err, tokens.ErrRefused) {
			return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
		}
		return nil, err
	}
	return t, nil
}

func (s *Server) mount(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := s.authenticate(r)
		if err != nil {
			s.logf("refused %s %s: %v", r.Method, r.URL.Path, err)
			writeError(w, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, t)))
	})
}

func (s *Server) logf(format string, args ...any) {
	fmt.Fprintf(s.o.Log, "gateway: "+format+"\n", args...)
}
