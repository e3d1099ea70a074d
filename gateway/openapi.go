package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
)

// The OpenAPI 3 document is made from the route table, so it names every
// route and only those; docs/openapi.json is a copy kept in step by
// TestOpenAPIMatchesRoutes (go test ./gateway -run OpenAPI -update writes
// it). Answers are described by their schema names, which docs/json.md
// documents shape by shape, as for the CLI's --json.

// OpenAPI returns the document, indented.
func (s *Server) OpenAPI() []byte {
	s.docOnce.Do(func() { s.doc = Document(s.routes, s.o.Mounts) })
	return s.doc
}

// Document builds the OpenAPI document of a route table and mounts.
func Document(routes []Route, mounts []Mount) []byte {
	paths := map[string]map[string]any{}
	schemas := map[string]any{
		"Error": map[string]any{
			"description": "error/1 (docs/json.md): code and status are those of `git covenant help exit-codes`; scope names the missing scope of a refusal",
			"type":        "object",
			"required":    []string{"schema", "code", "status", "message"},
			"properties": map[string]any{
				"schema": map[string]any{"type": "string", "enum": []string{"error/1"}}, "code": map[string]any{"type": "string"},
				"status": map[string]any{"type": "integer"}, "message": map[string]any{"type": "string"},
				"hint": map[string]any{"type": "string"}, "scope": map[string]any{"type": "string"},
			},
		},
	}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	for _, r := range routes {
		op := map[string]any{"summary": r.Summary, "operationId": operationID(r)}
		var params []any
		for _, seg := range strings.Split(r.Pattern, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"},
					"description": "a task id or unique prefix"})
			}
		}
		for _, q := range r.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "schema": map[string]any{"type": "string"}, "description": q.Doc})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.Public {
			op["security"] = []any{}
		}
		if r.Scope != "" {
			op["x-covenant-scope"] = r.Scope
			op["description"] = "A write: the token must carry " + r.Scope + " and its operator hold it; signed by the operator."
		}
		if r.Body != nil {
			name := reflect.TypeOf(r.Body).Name()
			schemas[name] = schemaOf(reflect.TypeOf(r.Body))
			op["requestBody"] = map[string]any{"required": false, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + name}}}}
		}
		status := "200"
		if r.Status != 0 {
			status = itoa(r.Status)
		}
		ok := map[string]any{"description": "OK"}
		switch {
		case r.Stream:
			ok["content"] = map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}
		case r.Pattern == "/v1/openapi.json":
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		default:
			var sch any = map[string]any{"type": "object", "description": r.Schema + " (docs/json.md)", "properties": map[string]any{"schema": map[string]any{"type": "string", "enum": []string{r.Schema}}}}
			if r.List {
				sch = map[string]any{"type": "array", "items": sch}
			}
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": sch}}
		}
		resp := map[string]any{status: ok, "default": errResp("error/1")}
		if !r.Public {
			resp["401"] = errResp("no token, or one that is unknown, rotated out, revoked or expired")
		}
		resp["403"] = errResp("the Host or Origin is not the gateway's own, or (writes) a scope the token or its operator lacks")
		op["responses"] = resp
		p := paths[r.Pattern]
		if p == nil {
			p = map[string]any{}
			paths[r.Pattern] = p
		}
		p[strings.ToLower(r.Method)] = op
	}
	for _, m := range mounts {
		p := map[string]any{}
		methods := m.Methods
		if len(methods) == 0 {
			methods = []string{"GET", "POST"}
		}
		for _, meth := range methods {
			p[strings.ToLower(meth)] = map[string]any{"summary": m.Summary, "operationId": "mount" + strings.ReplaceAll(title(strings.Trim(m.Path, "/")), "/", "") + title(strings.ToLower(meth)),
				"responses": map[string]any{"default": map[string]any{"description": "answered by the mounted handler"}, "401": errResp("no live token")}}
		}
		paths[strings.TrimSuffix(m.Path, "/")] = p
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "git-covenant gateway", "version": "1",
			"description": "The daemon's HTTP gateway: the CLI's reads and writes over the same service. Every route but /health needs 'Authorization: Bearer <token>' (git covenant token create). Shapes are documented in docs/json.md."},
		"servers":    []any{map[string]any{"url": "http://127.0.0.1:{port}", "variables": map[string]any{"port": map[string]any{"default": "0", "description": "git covenant daemon status shows it"}}}},
		"paths":      paths,
		"security":   []any{map[string]any{"bearer": []any{}}},
		"components": map[string]any{"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}, "schemas": schemas},
	}
	raw, _ := json.Marshal(doc) // map keys sorted: a stable document
	var b bytes.Buffer
	json.Indent(&b, raw, "", "  ")
	b.WriteByte('\n')
	return b.Bytes()
}

func operationID(r Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(r.Method))
	for _, seg := range strings.Split(r.Pattern, "/") {
		seg = strings.Trim(seg, "{}")
		seg = strings.NewReplacer(".", "_", "-", "_").Replace(seg)
		for _, part := range strings.Split(seg, "_") {
			if part != "" && part != "v1" {
				b.WriteString(strings.ToUpper(part[:1]) + part[1:])
			}
		}
	}
	return b.String()
}

// schemaOf describes a body type: its JSON fields, their types, and which
// are required (no omitempty).
func schemaOf(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		var req []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			props[name] = schemaOf(f.Type)
			if !strings.Contains(opts, "omitempty") {
				req = append(req, name)
			}
		}
		sort.Strings(req)
		m := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(req) > 0 {
			m["required"] = req
		}
		return m
	}
	return map[string]any{}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
