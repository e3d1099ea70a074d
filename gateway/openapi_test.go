package gateway_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/gateway"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.json from the route table")

var docPath = filepath.Join("..", "docs", "openapi.json")

// docs/openapi.json is the document the gateway serves, every route of the
// router is in it and every operation in it is a route the router serves
// (not 404 or 405), with the scope the table gives.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	secret := f.token("", "doc", "read")
	f.start(gateway.Options{Status: func() any { return map[string]bool{"running": true} }})
	served := f.do("GET", "/v1/openapi.json", secret, nil)
	if served.status != 200 {
		t.Fatalf("GET /v1/openapi.json: %d %s", served.status, served.body)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	served.json(t, &doc)
	// The file in docs/ is the served document (with the daemon's route).
	want := gateway.Document(f.gw.Routes(), nil)
	if *update {
		if err := os.WriteFile(docPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, want) {
		t.Fatalf("%s is not the document the route table makes: go test ./gateway -run OpenAPI -update", docPath)
	}
	var served2 map[string]any
	json.Unmarshal(served.body, &served2)
	delete(served2, "schema")
	var fromFile map[string]any
	json.Unmarshal(file, &fromFile)
	a, _ := json.Marshal(served2)
	b, _ := json.Marshal(fromFile)
	if !bytes.Equal(a, b) {
		t.Fatal("the served document differs from docs/openapi.json")
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	var inDoc, inTable []string
	for p, ops := range doc.Paths {
		for m, raw := range ops {
			inDoc = append(inDoc, strings.ToUpper(m)+" "+p)
			var op struct {
				Scope string `json:"x-covenant-scope"`
			}
			json.Unmarshal(raw, &op)
			for _, rt := range f.gw.Routes() {
				if rt.Pattern == p && strings.EqualFold(rt.Method, m) && rt.Scope != op.Scope {
					t.Errorf("%s %s: scope %q in the document, %q in the table", m, p, op.Scope, rt.Scope)
				}
			}
			// The router serves it: anything but 404 and 405.
			path := strings.ReplaceAll(p, "{id}", "tk-000000000000")
			if strings.ToUpper(m) == "GET" && p == "/v1/events" {
				continue // a stream: checked by its own test
			}
			if a := f.do(strings.ToUpper(m), path, secret, nil); a.status == http.StatusNotFound && a.problem(t).Message != "" && strings.Contains(string(a.body), "no such route") || a.status == http.StatusMethodNotAllowed {
				t.Errorf("%s %s is documented but not routed: %d %s", m, p, a.status, a.body)
			}
		}
	}
	for _, rt := range f.gw.Routes() {
		inTable = append(inTable, rt.Method+" "+rt.Pattern)
	}
	sort.Strings(inDoc)
	sort.Strings(inTable)
	if strings.Join(inDoc, "\n") != strings.Join(inTable, "\n") {
		t.Errorf("document and router differ:\ndocument:\n%s\nrouter:\n%s", strings.Join(inDoc, "\n"), strings.Join(inTable, "\n"))
	}
}
