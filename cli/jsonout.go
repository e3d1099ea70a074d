package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"

	"github.com/git-covenant/git-covenant/exitcode"
	"github.com/spf13/cobra"
)

// Every JSON document the CLI prints is an object whose first key,
// "schema", names its shape and the shape's major version ("task/1"); a
// list is a JSON array of such objects. docs/json.md documents each shape,
// and a test checks every command's output against it. Within a version
// fields are only added; removing, renaming or retyping one makes the
// next version.

// schemaOf names the shape of a value printJSON prints, by its Go type.
// The names are the interface, the types are not: a refactor keeps the
// names.
func schemaOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for _, s := range schemas {
		if s.typ == t {
			return s.name
		}
	}
	return ""
}

// printJSON writes v as indented JSON, the form of every --json output,
// with its schema first (in each element, for a slice).
func printJSON(w io.Writer, v any) error {
	raw, err := schemaJSON(v)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// schemaJSON encodes v with its schema spliced in as the first key.
func schemaJSON(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		var b bytes.Buffer
		b.WriteByte('[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			raw, err := schemaJSON(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			b.Write(raw)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	}
	raw, err := marshal(v)
	if err != nil {
		return nil, err
	}
	return withSchema(schemaOf(rv.Type()), raw), nil
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

// withSchema puts "schema" first in a JSON object; anything else, or an
// unnamed shape, is returned as it is.
func withSchema(name string, obj []byte) []byte {
	if name == "" || len(obj) < 2 || obj[0] != '{' {
		return obj
	}
	out := make([]byte, 0, len(obj)+len(name)+16)
	out = append(out, `{"schema":"`...)
	out = append(out, name...)
	out = append(out, '"')
	if rest := bytes.TrimSpace(obj[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, obj[1:]...)
}

// jsonError is the error/1 shape: what every command prints on stderr,
// as one line, when it fails under --json.
type jsonError struct {
	Code    string `json:"code"`
	Status  int    `json:"status"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Scope names the missing scope of a refusal; the HTTP gateway sets
	// it (gateway.Problem), the CLI names the scope in the message.
	Scope string `json:"scope,omitempty"`
}

func printJSONError(w io.Writer, status int, msg, hint string) {
	raw, _ := marshal(jsonError{Code: exitcode.Name(status), Status: status, Message: msg, Hint: hint})
	w.Write(append(withSchema("error/1", raw), '\n'))
}

// wantsJSON reports whether the command ran (or would have run) with
// --json: its parsed flag, else, when parsing failed first, the arguments
// before any "--".
func wantsJSON(c *cobra.Command, args []string) bool {
	if c != nil {
		if fl := c.Flags().Lookup("json"); fl != nil && fl.Changed {
			return fl.Value.String() == "true"
		}
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
		if strings.HasPrefix(a, "--json=") {
			return false
		}
	}
	return false
}
