package fold_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
)

// noteBody is the body of the test family's op.
type noteBody struct {
	Text string `json:"text"`
}

func (b *noteBody) Check() error {
	if b.Text == "" {
		return errors.New("empty note")
	}
	return nil
}

// notes is a family of one op type that stores its body as a record.
func notes() fold.Family {
	return fold.Family{Name: "notes", Ops: []fold.Op{
		fold.Typed("note.add", func(c *fold.Ctx, b *noteBody) error {
			return c.State.PutRecord("note", fmt.Sprint(c.Op.Seq), b)
		}),
	}}
}

func entry(typ, actor, body string) *oplog.Entry {
	return &oplog.Entry{Op: &oplog.Op{V: 1, Type: typ, Actor: actor, Seq: 1, Lamport: 1, Time: "2026-01-01T00:00:00Z", Body: []byte(body)}, Commit: "c"}
}

func kind(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	r, ok := oplog.AsRejection(err)
	if !ok {
		t.Fatalf("not a rejection: %v", err)
	}
	return r.Kind
}

func TestDispatch(t *testing.T) {
	onlyAlice := func(c *fold.Ctx) error {
		if c.Op.Actor != "alice" {
			return oplog.Reject(oplog.KindUntrustedKey, "not alice")
		}
		return nil
	}
	reg := fold.MustNew([]fold.Guard{onlyAlice}, notes())
	st := &fold.MemRecords{}

	if k := kind(t, reg.Apply(st, entry("note.add", "alice", `{"text":"hi"}`))); k != "" {
		t.Fatalf("honest note: %s", k)
	}
	var got noteBody
	if ok, err := st.Record("note", "1", &got); err != nil || !ok || got.Text != "hi" {
		t.Fatalf("record: %v %v %+v", ok, err, got)
	}
	// The guard runs first, before the body is even looked at.
	if k := kind(t, reg.Apply(st, entry("note.add", "eve", `{"text":""}`))); k != oplog.KindUntrustedKey {
		t.Errorf("guard: %s", k)
	}
	if k := kind(t, reg.Apply(st, entry("note.fly", "eve", `{}`))); k != oplog.KindUntrustedKey {
		t.Errorf("guard before type: %s", k)
	}
	// The body's Check, and strict decoding, reject before Apply.
	for _, body := range []string{`{"text":""}`, `{"text":"x","more":1}`, `[]`} {
		if k := kind(t, reg.Apply(st, entry("note.add", "alice", body))); k != oplog.KindInvalidBody {
			t.Errorf("body %s: %s", body, k)
		}
	}
	if k := kind(t, reg.Apply(st, entry("note.fly", "alice", `{}`))); k != oplog.KindInvalidBody {
		t.Errorf("unknown type: %s", k)
	}
	// The writer's Check is the same function.
	if _, err := reg.Check(entry("note.add", "alice", `{"text":""}`).Op); kind(t, err) != oplog.KindInvalidBody {
		t.Errorf("writer check: %v", err)
	}
	if b, err := reg.Check(entry("note.add", "alice", `{"text":"x"}`).Op); err != nil || b.(*noteBody).Text != "x" {
		t.Errorf("writer check of a good body: %v %v", b, err)
	}
}

func TestRegistryComposition(t *testing.T) {
	if _, err := fold.New(nil, notes(), notes()); !errors.Is(err, fold.ErrDuplicateType) {
		t.Errorf("a type registered twice: %v", err)
	}
	empty := fold.MustNew(nil)
	withNotes := fold.MustNew(nil, notes())
	if empty.Digest() == withNotes.Digest() {
		t.Error("the digest does not change with the families")
	}
	if got := withNotes.Types(); len(got) != 1 || got[0] != "note.add" {
		t.Errorf("types: %v", got)
	}
}

// A state that lacks what a family needs is an error, never a rejection.
func TestStateMismatch(t *testing.T) {
	type wants interface{ Special() }
	fam := fold.Family{Name: "x", Ops: []fold.Op{{Type: "x.y", Apply: func(c *fold.Ctx) error {
		_, err := fold.As[wants](c)
		return err
	}}}}
	err := fold.MustNew(nil, fam).Apply(&fold.MemRecords{}, entry("x.y", "a", `{}`))
	if !errors.Is(err, fold.ErrState) {
		t.Errorf("got %v", err)
	}
}

// Field names match exactly: encoding/json alone would take "Text" or
// "tExt" for "text", and of {"text":…,"Text":…} whichever came last.
func TestDecodeBodyExactSpelling(t *testing.T) {
	type pin struct {
		Path string `json:"path"`
	}
	type body struct {
		Text string         `json:"text"`
		Pins []pin          `json:"pins,omitempty"`
		Meta map[string]pin `json:"meta,omitempty"`
	}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"text":"a"}`, true},
		{`{"pins":[{"path":"x"}],"text":"a"}`, true},
		{`{"meta":{"Any Key":{"path":"x"}},"text":"a"}`, true},
		{`{"Text":"a"}`, false},
		{`{"Text":"b","text":"a"}`, false},
		{`{"pins":[{"PATH":"x"}],"text":"a"}`, false},
		{`{"meta":{"k":{"Path":"x"}},"text":"a"}`, false},
	} {
		var b body
		err := fold.DecodeBody(&oplog.Op{Type: "x.y", Body: []byte(tc.body)}, &b)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.body, err, tc.ok)
		}
		if !tc.ok && kind(t, err) != oplog.KindInvalidBody {
			t.Errorf("%s: kind %q", tc.body, kind(t, err))
		}
	}
}
