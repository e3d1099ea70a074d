package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/oplog"
)

// RequestTimeout bounds one request (not an event stream).
const RequestTimeout = 2 * time.Minute

// route wraps one table entry: authentication, the scope checks of a
// write, the body's strict decoding, the call and its answer.
func (s *Server) route(rt *Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.logf("panic in %s %s: %v", r.Method, r.URL.Path, p)
				writeError(w, fmt.Errorf("internal error in %s %s", r.Method, rt.Pattern))
			}
		}()
		c := &call{ctx: r.Context(), w: w, r: r, s: s}
		if !rt.Stream {
			ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
			defer cancel()
			c.ctx = ctx
		}
		if !rt.Public {
			t, ses, err := s.authenticateSession(r)
			if err != nil {
				s.logf("refused %s %s from %s: %v", r.Method, r.URL.Path, r.RemoteAddr, err)
				writeError(w, err)
				return
			}
			c.token, c.session, c.as = t, ses, s.svc.As(t.Operator)
		}
		if rt.Body != nil {
			v := reflect.New(reflect.TypeOf(rt.Body)).Interface()
			if err := DecodeBody(r.Body, v); err != nil {
				writeError(w, err)
				return
			}
			c.body = v
		}
		if rt.Scope != "" {
			if err := s.authorize(c, rt); err != nil {
				s.logf("refused %s %s (token %s): %v", r.Method, r.URL.Path, c.token.ID, err)
				writeError(w, err)
				return
			}
		}
		v, err := rt.handle(c)
		if rt.Stream {
			if err != nil && !errors.Is(err, context.Canceled) {
				writeError(w, err)
			}
			return
		}
		if err != nil {
			if k, ok := covenant.IsRejection(err); ok && k == oplog.KindUnauthorized && rt.Scope != "" {
				err = &scopeError{scope: c.scope, err: err}
			}
			writeError(w, err)
			return
		}
		status := rt.Status
		if status == 0 {
			status = http.StatusOK
		}
		writeJSON(w, status, rt.Schema, v)
	})
}

// authorize checks a write before anything is signed: the token carries
// the route's scope, and its operator holds it now (on the task in the
// path, for its labels). The write path checks the operator's authority
// again as it signs, under the writer lock; for a create, whose labels
// are in the body, that is the check that counts.
func (s *Server) authorize(c *call, rt *Route) error {
	t := c.token
	scope := rt.Scope
	if rt.scopeOf != nil {
		var err error
		if scope, err = rt.scopeOf(c); err != nil {
			return err
		}
	}
	c.scope = scope
	if !t.Allows(scope) {
		return &scopeError{scope: scope, err: fmt.Errorf("%w: token %s (%s) does not carry %s (it carries %s)", ErrScope, t.Name, t.ID, scope, strings.Join(t.Scopes, ", "))}
	}
	task := ""
	if strings.Contains(rt.Pattern, "{id}") {
		task = c.r.PathValue("id")
	}
	if task == "" {
		return nil
	}
	d, err := s.svc.CheckCapability(c.ctx, t.Operator, scope, task)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return &scopeError{scope: scope, err: fmt.Errorf("%w: %s (the operator of token %s) may not use %s on %s: %s", ErrScope, t.Operator, t.Name, scope, d.Task, d.Reason)}
	}
	return nil
}

// DecodeBody decodes one JSON object into v (a pointer to a body type):
// at most MaxBody bytes, no unknown fields, nothing after it. An empty
// body decodes as {}.
func DecodeBody(r io.Reader, v any) error {
	raw, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return fmt.Errorf("%w: reading the body: %v", ErrBadRequest, err)
	}
	if len(raw) > MaxBody {
		return fmt.Errorf("%w: the body is larger than %d bytes", ErrBadRequest, MaxBody)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: body: more than one JSON value", ErrBadRequest)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: body: trailing data", ErrBadRequest)
	}
	return nil
}
