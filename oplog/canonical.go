package oplog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// intRE is a canonical integer: no leading zeros, no "-0".
var intRE = &lazyre.Regexp{Expr: `^(0|-?[1-9][0-9]*)$`}

// Canonicalize returns the canonical form of a JSON document: no
// insignificant white space, object keys sorted by byte order, no HTML
// escaping, integers only, valid UTF-8, no duplicate keys. Bytes that are
// canonical already (CheckCanonical) come back as a copy without being
// decoded.
func Canonicalize(b []byte) ([]byte, error) {
	if CheckCanonical(b) == nil {
		return append([]byte(nil), b...), nil
	}
	return canonicalizeTree(b)
}

// canonicalizeTree decodes b into a tree of values and encodes it again.
func canonicalizeTree(b []byte) ([]byte, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: invalid UTF-8", ErrNotCanonical)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeStrict(dec)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotCanonical, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrNotCanonical)
	}
	var out bytes.Buffer
	if err := encode(&out, v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

type object struct {
	keys []string
	vals map[string]any
}

// decodeStrict decodes one value, refusing duplicate keys and non-integer numbers.
func decodeStrict(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := object{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if _, dup := o.vals[k]; dup {
					return nil, fmt.Errorf("duplicate key %q", k)
				}
				v, err := decodeStrict(dec)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k)
				o.vals[k] = v
			}
			_, err := dec.Token()
			sort.Strings(o.keys)
			return o, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeStrict(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
	case json.Number:
		if !intRE.MatchString(string(t)) {
			return nil, fmt.Errorf("number %s is not an integer in canonical form", t)
		}
		return t, nil
	}
	return tok, nil
}

func encode(w *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case object:
		w.WriteByte('{')
		for i, k := range t.keys {
			if i > 0 {
				w.WriteByte(',')
			}
			writeString(w, k)
			w.WriteByte(':')
			if err := encode(w, t.vals[k]); err != nil {
				return err
			}
		}
		w.WriteByte('}')
	case []any:
		w.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := encode(w, x); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	case string:
		writeString(w, t)
	case json.Number:
		w.WriteString(string(t))
	case bool:
		if t {
			w.WriteString("true")
		} else {
			w.WriteString("false")
		}
	case nil:
		w.WriteString("null")
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

func writeString(w *bytes.Buffer, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
