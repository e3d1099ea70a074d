package safetext

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"Fix the flaky login test", nil},
		{"tabs\tand\nnewlines", nil},
		{"ünïcödé, 日本語, emoji 🎉, עברית", nil},
		{"a\x1b[31mb", ErrControl},
		{"bell\a", ErrControl},
		{"carriage\rreturn", ErrControl},
		{"nul\x00", ErrControl},
		{"del\x7f", ErrControl},
		{"c1 \u009b31m", ErrControl},
		{"bidi \u202eevil", ErrControl},
		{"isolate \u2066x\u2069", ErrControl},
		{"bad \xff utf-8", ErrInvalidUTF8},
		{"truncated \xe2\x80", ErrInvalidUTF8},
	}
	for _, c := range cases {
		if err := Check(c.in); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("Check(%q) = %v, want %v", c.in, err, c.want)
		}
	}
}

func TestEscape(t *testing.T) {
	cases := map[string]string{
		"plain":                "plain",
		"a\x1b[31mb\a":         `a\u001b[31mb\u0007`,
		"x\r\n":                `x\u000d` + "\n",
		"del\x7f c1\u009b":     `del\u007f c1\u009b`,
		"bidi\u202e!":          `bidi\u202e!`,
		"bad\xffbyte":          `bad\xffbyte`,
		"keep\ttab é 日 \u2028": "keep\ttab é 日 \u2028",
	}
	for in, want := range cases {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		if err := Check(Escape(in)); err != nil {
			t.Errorf("Escape(%q) still refused: %v", in, err)
		}
	}
}

// Every split of the input across two writes gives the same output as one
// write: a multi-byte sequence cut in two is held, not escaped.
func TestWriterSplits(t *testing.T) {
	in := "ok é\u009b日\x1b\u202e🎉 \xff end"
	want := Escape(in)
	for i := 0; i <= len(in); i++ {
		var b bytes.Buffer
		w := NewWriter(&b)
		for _, part := range []string{in[:i], in[i:]} {
			if n, err := w.Write([]byte(part)); err != nil || n != len(part) {
				t.Fatalf("split %d: Write = %d, %v", i, n, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("split at %d: %q, want %q", i, b.String(), want)
		}
	}
	// A sequence still incomplete at the end is flushed as bytes.
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Write([]byte("cut \xe6\x97"))
	if b.String() != "cut " {
		t.Fatalf("held bytes written early: %q", b.String())
	}
	w.Flush()
	if b.String() != `cut \xe6\x97` {
		t.Fatalf("flushed %q", b.String())
	}
}

// JSON output through the Writer decodes to the same value.
func TestWriterKeepsJSON(t *testing.T) {
	v := map[string]any{"title": "a\x1b[31mb\a", "del": "x\x7f\u0085\u202e", "n": 3, "list": []string{"é", "\t"}}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Write(raw)
	w.Flush()
	if bytes.ContainsAny(b.Bytes(), "\x1b\a\x7f") || strings.Contains(b.String(), "\u0085") || strings.Contains(b.String(), "\u202e") {
		t.Fatalf("raw control left: %q", b.String())
	}
	var back, orig any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("escaped JSON does not parse: %v\n%s", err, b.String())
	}
	json.Unmarshal(raw, &orig)
	a, _ := json.Marshal(back)
	o, _ := json.Marshal(orig)
	if !bytes.Equal(a, o) {
		t.Fatalf("JSON changed meaning:\n%s\n%s", a, o)
	}
}

func TestCheckValue(t *testing.T) {
	type inner struct {
		Questions []string `json:"questions"`
	}
	type body struct {
		Title   string            `json:"title"`
		Handoff *inner            `json:"handoff"`
		Tags    map[string]string `json:"tags"`
		Raw     json.RawMessage   `json:"raw"`
		Bytes   []byte            `json:"bytes"`
	}
	ok := body{Title: "fine", Handoff: &inner{Questions: []string{"a?", "b?"}}, Tags: map[string]string{"k": "v"},
		Raw: json.RawMessage(`{"x":"y"}`), Bytes: []byte{0x1b}}
	if err := CheckValue(ok); err != nil {
		t.Fatalf("clean body refused: %v", err)
	}
	bad := ok
	bad.Handoff = &inner{Questions: []string{"a?", "b\x1b?"}}
	if err := CheckValue(&bad); !errors.Is(err, ErrControl) || !strings.Contains(err.Error(), "handoff.questions[1]") {
		t.Fatalf("got %v, want a control error naming handoff.questions[1]", err)
	}
	bad = ok
	bad.Tags = map[string]string{"k\a": "v"}
	if err := CheckValue(bad); !errors.Is(err, ErrControl) {
		t.Fatalf("control in a map key: %v", err)
	}
	bad = ok
	bad.Raw = json.RawMessage(`{"x":"\u001b"}`)
	if err := CheckValue(bad); !errors.Is(err, ErrControl) || !strings.Contains(err.Error(), "raw.x") {
		t.Fatalf("escaped control in raw JSON: %v", err)
	}
	bad = ok
	bad.Title = "t\xfe"
	if err := CheckValue(bad); !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "title") {
		t.Fatalf("invalid UTF-8: %v", err)
	}
}
