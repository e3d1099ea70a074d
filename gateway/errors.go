package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/git-covenant/git-covenant/exitcode"
)

// Problem is the error/1 shape (docs/json.md) the gateway answers a
// failure with: the code and status are those of the CLI's exit table
// (git covenant help exit-codes; package exitcode), so a client handles a refusal the same
// way whichever door it used; scope names the missing scope of a refusal.
type Problem struct {
	Code    string `json:"code"`
	Status  int    `json:"status"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	Scope   string `json:"scope,omitempty"`
}

// scopeError is a refusal naming the scope that was missing.
type scopeError struct {
	scope string
	err   error
}

func (e *scopeError) Error() string { return e.err.Error() }
func (e *scopeError) Unwrap() error { return e.err }

// problem classifies an error: the HTTP status and the error/1 body. What
// is the gateway's own (tokens, Host and Origin, routes, a request it
// could not read) comes first; everything else is the one table the CLI
// uses too (package exitcode), its HTTP status derived from the exit
// status.
func problem(err error) (int, Problem) {
	p := Problem{Message: oneLine(err.Error())}
	var se *scopeError
	if errors.As(err, &se) {
		p.Scope = se.scope
	}
	set := func(httpStatus int, exit int, hint string) (int, Problem) {
		p.Code, p.Status, p.Hint = exitcode.Name(exit), exit, hint
		return httpStatus, p
	}
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return set(http.StatusUnauthorized, exitcode.Unauthorized, "create a token with 'git covenant token create --name <n> --scope <s>' and send it as 'Authorization: Bearer <token>'")
	case errors.Is(err, ErrForbiddenHost):
		return set(http.StatusForbidden, exitcode.Unauthorized, "call the gateway by its own address (daemon status shows it); a page served from elsewhere may not")
	case errors.Is(err, ErrCSRF):
		return set(http.StatusForbidden, exitcode.Unauthorized, "write from the console's own page, which sends the session's "+CSRFHeader+" header")
	case errors.Is(err, ErrScope):
		return set(http.StatusForbidden, exitcode.Unauthorized, "")
	case errors.Is(err, errNotFound):
		return set(http.StatusNotFound, exitcode.NotFound, "")
	case errors.Is(err, errMethod):
		return set(http.StatusMethodNotAllowed, exitcode.Usage, "")
	case errors.Is(err, ErrBadRequest):
		return set(http.StatusBadRequest, exitcode.Usage, "")
	case errors.Is(err, context.DeadlineExceeded):
		return set(http.StatusServiceUnavailable, exitcode.Interrupted, "")
	}
	exit, hint := exitcode.Classify(err)
	return set(exitcode.HTTPStatus(exit), exit, hint)
}

var (
	errNotFound = errors.New("no such route")
	errMethod   = errors.New("method not allowed")
)

func writeError(w http.ResponseWriter, err error) {
	code, p := problem(err)
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="git-covenant"`)
	}
	writeJSON(w, code, "error/1", p)
}

// writeJSON writes v as one JSON document with its schema first (in each
// element, for a list), as the CLI's --json does.
func writeJSON(w http.ResponseWriter, code int, schema string, v any) {
	var b []byte
	switch x := v.(type) {
	case rawList:
		b = x.bytes(schema)
	case json.RawMessage:
		b = withSchema(schema, x)
	default:
		raw, err := marshal(v)
		if err != nil {
			code, raw = http.StatusInternalServerError, []byte(`{"code":"error","status":1,"message":"encoding the answer failed"}`)
			schema = "error/1"
		}
		if len(raw) > 0 && raw[0] == '[' {
			var items []json.RawMessage
			json.Unmarshal(raw, &items)
			b = rawList(items).bytes(schema)
		} else {
			b = withSchema(schema, raw)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// rawList is a list of stored JSON rows, sent as they are.
type rawList []json.RawMessage

func (l rawList) bytes(schema string) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(withSchema(schema, r))
	}
	b.WriteByte(']')
	return b.Bytes()
}

// withSchema puts "schema" first in a JSON object (a stored row may carry
// one already: it is replaced).
func withSchema(schema string, raw []byte) []byte {
	raw = bytes.TrimSpace(raw)
	if schema == "" || len(raw) < 2 || raw[0] != '{' {
		return raw
	}
	if bytes.HasPrefix(raw, []byte(`{"schema":`)) {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			delete(m, "schema")
			rest, _ := json.Marshal(m)
			raw = rest
		}
	}
	s, _ := json.Marshal(schema)
	out := append([]byte(`{"schema":`), s...)
	if len(bytes.TrimSpace(raw[1:len(raw)-1])) > 0 {
		out = append(out, ',')
	}
	return append(out, raw[1:]...)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
