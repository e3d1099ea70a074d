package mcpserver

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// allTools is every tool of every configuration: grouped and flat.
func allTools() []*toolDef {
	var out []*toolDef
	for _, flat := range []bool{false, true} {
		out = append(out, (&server{opts: Options{Exec: true, Flat: flat}}).tools()...)
	}
	return out
}

// FuzzDecodeArgs feeds arbitrary bytes to every tool's argument decoder.
// It never panics; it either refuses with ErrBadArgs or returns one of the
// tool's operations with only arguments that operation declares, every
// required one given, each within the limits; and what it accepted
// decodes again to the same call.
func FuzzDecodeArgs(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"action":"prime"}`, `{"action":"prime","ready":3}`,
		`{"action":"ready","label":"ci","limit":500}`, `{"action":"show","task":"tk-1234"}`,
		`{"action":"claim","ttl":"90m"}`, `{"action":"claim","task":"tk-12","ttl":"-1h"}`,
		`{"action":"handoff","task":"tk-1","summary":"s","next":["a","b"],"validation":"passed","keep_lease":true}`,
		`{"action":"handoff","task":"tk-1","summary":"s","validation":"maybe"}`,
		`{"action":"comment","task":"tk-1","text":"a\u0000b"}`, `{"action":"comment","TASK":"tk-1","text":"t"}`,
		`{"action":"escalate","task":"tk-1","kind":"decision","reason":"r"}`, `{"action":"move","task":"tk-1","to":"done","note":1}`,
		`{"task":"tk-1","gate":"tests","argv":["make","test"],"timeout":"5m"}`, `{"action":"verify","full":"yes"}`,
		`{"action":"log","limit":0}`, `{"action":"log","limit":1e9}`, `{"action":{"a":1}}`, `{"action":"prime","action":"claim"}`,
		"{\"action\":\"prime\"}\xff", `{"action":"ready"} {"x":1}`,
	} {
		f.Add([]byte(seed))
	}
	tools := allTools()
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, td := range tools {
			o, a, err := td.decode(raw)
			if err != nil {
				if !errors.Is(err, ErrBadArgs) {
					t.Fatalf("%s: an error that is not ErrBadArgs: %v", td.tool.Name, err)
				}
				continue
			}
			if o == nil || a == nil {
				t.Fatalf("%s: accepted with no op", td.tool.Name)
			}
			mine := false
			for _, m := range td.ops {
				mine = mine || m == o
			}
			if !mine {
				t.Fatalf("%s: decoded to %s, not one of its ops", td.tool.Name, o.name)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(raw, &fields); err != nil && len(strings.TrimSpace(string(raw))) > 0 && strings.TrimSpace(string(raw)) != "null" {
				t.Fatalf("%s: accepted what is not a JSON object: %q", td.tool.Name, raw)
			}
			takes := map[string]bool{"action": td.grouped}
			for _, p := range o.params {
				n, required := strings.CutSuffix(p, "*")
				takes[n] = true
				if required {
					if _, ok := fields[n]; !ok {
						t.Fatalf("%s %s: accepted without the required %q", td.tool.Name, o.name, n)
					}
				}
			}
			for k := range fields {
				if !takes[k] {
					t.Fatalf("%s %s: accepted the undeclared argument %q", td.tool.Name, o.name, k)
				}
			}
			for _, s := range []string{a.Task, a.Summary, a.Text, a.Reason, a.Note} {
				if len(s) > maxStringLen || strings.ContainsRune(s, 0) {
					t.Fatalf("%s %s: accepted a string over the limits", td.tool.Name, o.name)
				}
			}
			if len(a.Argv) > maxListLen || len(a.Next) > maxListLen {
				t.Fatalf("%s %s: accepted a list over the limits", td.tool.Name, o.name)
			}
			again, err := json.Marshal(fields)
			if err != nil {
				t.Fatal(err)
			}
			o2, a2, err := td.decode(again)
			if err != nil || o2 != o || a2.Task != a.Task || a2.ttl != a.ttl || a2.Limit != a.Limit {
				t.Fatalf("%s: %q accepted, its re-encoding %q not the same (%v)", td.tool.Name, raw, again, err)
			}
		}
	})
}
