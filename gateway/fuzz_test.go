package gateway_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/git-covenant/git-covenant/gateway"
)

// FuzzDecodeBody: the request decoder never panics, refuses what is not
// one JSON object of the body's fields with ErrBadRequest, and what it
// accepts re-encodes to a body that decodes to the same value.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"title":"x","labels":["a"],"priority":"high"}`, `{"ttl":"1h"}`, `{"summary":"s","next":["a"],"keep_lease":true}`,
		`{"to":"ready","note":"n"}`, `{"text":"hi"}`, `{"title":1}`, `[]`, `null`, `{"a":1}`, `{"title":"x"} {}`, `{"title":"\u0000"}`, "{\"text\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, mk := range []func() any{
			func() any { return &gateway.CreateTask{} }, func() any { return &gateway.Lease{} }, func() any { return &gateway.Handoff{} },
			func() any { return &gateway.Move{} }, func() any { return &gateway.Comment{} },
		} {
			v := mk()
			err := gateway.DecodeBody(bytes.NewReader(raw), v)
			if err != nil {
				if !errors.Is(err, gateway.ErrBadRequest) {
					t.Fatalf("%T: %v is not ErrBadRequest", v, err)
				}
				continue
			}
			again, _ := json.Marshal(v)
			w := mk()
			if err := gateway.DecodeBody(bytes.NewReader(again), w); err != nil {
				t.Fatalf("%T: re-encoded %s does not decode: %v", v, again, err)
			}
			if b, _ := json.Marshal(w); !bytes.Equal(b, again) {
				t.Fatalf("%T: %s then %s", v, again, b)
			}
		}
	})
}
