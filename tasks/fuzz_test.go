package tasks

import (
	"encoding/json"
	"testing"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
)

// FuzzBodies: an op's body is what its signer chose. Decoding into every
// task body type never panics, nor does its Check; a body that decodes and
// checks encodes again to one that decodes and checks the same way.
func FuzzBodies(f *testing.F) {
	for _, s := range []string{
		`{"priority":"low","title":"x"}`,
		`{"summary":"half done","next":["b"],"questions":["?"],"files":[{"path":"a.go","blob":"` + "0123456789012345678901234567890123456789" + `"}]}`,
		`{"to":"review"}`, `{"kind":"blocks","other":"tk-000000000000"}`, `{"gate":"review.code","verdict":"approve","note":"ok"}`,
		`{"gate":"tests","command":"make test","exit":0,"output":"ok"}`, `{"ttl":3600}`, `{"text":"a note"}`, `{}`, `{"Title":"x","title":"y"}`,
	} {
		f.Add([]byte(s))
	}
	newBodies := func() []interface{ Check() error } {
		return []interface{ Check() error }{&CreateBody{}, &MoveBody{}, &LinkBody{}, &ReviewBody{}, &CheckBody{}, &EscalateBody{},
			&ResolveBody{}, &CommentBody{}, &ClaimBody{}, &ReleaseBody{}, &AnswerBody{}, &AcceptBody{}, &Handoff{}}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for i, v := range newBodies() {
			if fold.DecodeBody(&oplog.Op{Type: "fuzz", Body: b}, v) != nil || v.Check() != nil {
				continue
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T decoded but does not encode: %v", v, err)
			}
			w := newBodies()[i]
			if err := fold.DecodeBody(&oplog.Op{Type: "fuzz", Body: again}, w); err != nil {
				t.Fatalf("%T: its own encoding %s does not decode: %v", v, again, err)
			}
			if err := w.Check(); err != nil {
				t.Fatalf("%T: its own encoding %s does not check: %v", v, again, err)
			}
		}
	})
}
