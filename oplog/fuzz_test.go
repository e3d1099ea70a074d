package oplog

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode checks that an op decodes only in its one canonical spelling:
// whatever Decode accepts, Encode gives back byte for byte, and whatever
// Canonicalize returns is a fixed point of it. It also holds the one-pass
// checks to the slow ones they replace: CheckCanonical accepts exactly the
// fixed points of the tree-building canonicalizer, and Decode accepts and
// refuses (with the same error class) exactly what referenceDecode does,
// giving the same op. The seeds in testdata/fuzz/FuzzDecode include the
// refusals of strictCases.
func FuzzDecode(f *testing.F) {
	if raw, err := validOp().Encode(); err == nil {
		f.Add(raw)
	}
	for _, c := range strictCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgainstReference(t, b)
		if c, err := Canonicalize(b); err == nil {
			again, err := Canonicalize(c)
			if err != nil || !bytes.Equal(again, c) {
				t.Fatalf("Canonicalize is not idempotent: %q -> %q -> %q, %v", b, c, again, err)
			}
		}
		o, err := Decode(b)
		if err != nil {
			return
		}
		raw, err := o.Encode()
		if err != nil {
			t.Fatalf("decoded op does not encode: %v", err)
		}
		if !bytes.Equal(raw, b) {
			t.Fatalf("decoded %q but it encodes as %q", b, raw)
		}
		if w := o.When(); w.Before(MinTime) || !w.Before(MaxTime) {
			t.Fatalf("decoded a time outside the window: %s", o.Time)
		}
	})
}

// checkAgainstReference compares the one-pass checks with the slow ones.
func checkAgainstReference(t *testing.T, b []byte) {
	t.Helper()
	tree, treeErr := canonicalizeTree(b)
	fixed := treeErr == nil && bytes.Equal(tree, b)
	if err := CheckCanonical(b); (err == nil) != fixed && !(errors.Is(err, errTooDeep) && fixed) {
		t.Fatalf("CheckCanonical(%q) = %v, but the tree canonicalizer gives %q, %v", b, err, tree, treeErr)
	}
	if c, err := Canonicalize(b); (err == nil) != (treeErr == nil) || (err == nil && !bytes.Equal(c, tree)) {
		t.Fatalf("Canonicalize(%q) = %q, %v; the tree canonicalizer gives %q, %v", b, c, err, tree, treeErr)
	}
	got, err := Decode(b)
	want, refErr := referenceDecode(b)
	if (err == nil) != (refErr == nil) {
		t.Fatalf("Decode(%q) = %+v, %v; the reference gives %+v, %v", b, got, err, want, refErr)
	}
	for _, class := range []error{ErrNotCanonical, ErrMalformed, ErrTooLarge} {
		if errors.Is(err, class) != errors.Is(refErr, class) {
			t.Fatalf("Decode(%q) refuses with %v; the reference with %v", b, err, refErr)
		}
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) = %+v; the reference gives %+v", b, got, want)
	}
}

// TestOnePassChecksAgainstReference runs the comparison of FuzzDecode on
// the spellings most likely to split the one-pass scan from the tree
// canonicalizer: every escape, keys whose escaped and decoded byte orders
// differ, separators, numbers at the edges, nesting at encoding/json's
// depth limit, and envelopes with each field of the wrong JSON type.
func TestOnePassChecksAgainstReference(t *testing.T) {
	env := func(extra string) string {
		return `{"actor":"0123456789abcdef0123456789abcdef"` + extra + `,"lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":2}`
	}
	cases := []string{
		`{}`, `[]`, `""`, `0`, `-1`, `1.0`, `1e3`, `-`, `--1`, `00`, `01`, `-01`, `true`, `truex`, `nul`, `null`, `[1,]`, `{"a":1,}`,
		`{"a":1}`, `{"a":1,"a":1}`, `{"b":1,"a":1}`, `{"":1,"a":1}`, `{"a":1,"":1}`, `{"a" :1}`, `{"a":1} `, ` {"a":1}`, "{\"a\":1}\n",
		`"\""`, `"\\"`, `"\/"`, `"/"`, `"\b\f\n\r\t"`, `"\u0008"`, `"\u000a"`, `"\u0000"`, `"\u001f"`, `"\u001F"`, `"\u0020"`, `"\u007f"`, "\"\x7f\"",
		`"\u2028"`, `"\u2029"`, "\"\u2028\"", `"\u202a"`, `"\u00e9"`, "\"\u00e9\"", `"\ud800"`, `"\ufffd"`, "\"\xed\xa0\x80\"", "\"\xff\"", "\"\x01\"", `"<>&"`, `"\u003c"`,
		`{"\n":1,"A":1}`, `{"A":1,"\n":1}`, `{"\u0001":1,"\n":1}`, `{"\n":1,"\u0001":1}`, `{"\u2028":1,"z":1}`, `{"z":1,"\u2028":1}`, "{\"\u00e9\":1,\"z\":1}", "{\"z\":1,\"\u00e9\":1}",
		`[18446744073709551616]`, `[-9223372036854775809]`, `{"a":[{"b":[]}],"c":{"d":null}}`, `[`, `{`, `"abc`, `{"a"`, `{"a":`, `[1`, `"\u00`, `"\`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		env(``), env(`,"body":{}`), env(`,"body":{"a":"<"}`), env(`,"body":"x"`), env(`,"body":7`), env(`,"body":null`), env(`,"body":[]`),
		env(`,"epoch":null`), env(`,"epoch":"1"`), env(`,"epoch":1`), env(`,"epoch":-1`), env(`,"epoch":18446744073709551615`),
		env(`,"seen":null`), env(`,"seen":{}`), env(`,"seen":[]`), env(`,"seen":{"00112233445566778899aabbccddeeff":null}`),
		env(`,"seen":{"00112233445566778899aabbccddeeff":"1"}`), env(`,"seen":{"00112233445566778899aabbccddeeff":2,"ffffffffffffffffffffffffffffffff":3}`),
		env(`,"seen":{"00112233445566778899aabbccddeeff":{"a":1}}`), env(`,"seen":{"00112233445566778899aabbccddeeff":-2}`),
		env(`,"task":null`), env(`,"task":7`), env(`,"task":"a\nb"`), env(`,"task":"\u2028"`), env(`,"task":"x"`),
		`{"actor":null,"lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":2}`,
		`{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":null}`,
		`{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":9223372036854775808}`,
		`{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":"2"}`,
		`{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":2,"z":1}`,
		`{"a":1,"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":2}`,
		`{"actor":"0123456789abcdef0123456789abcdef","b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":2}`,
	}
	for _, c := range strictCases {
		cases = append(cases, c)
	}
	for _, c := range cases {
		checkAgainstReference(t, []byte(c))
	}
	// The one-pass scan must refuse what the rules forbid, not just agree:
	// a few that the comparison alone would let through if both were wrong.
	for _, c := range []string{`{"b":1,"a":1}`, `{"a":1,"a":1}`, `"\u003c"`, `"\/"`, `1.0`, `-0`, "\"\u2028\"", `{"a":1} `} {
		if CheckCanonical([]byte(c)) == nil {
			t.Errorf("CheckCanonical accepted %s", c)
		}
	}
}

// BenchmarkDecode compares the one-pass Decode with the decode, re-encode
// and compare it replaced, on a typical task.create op.
func BenchmarkDecode(b *testing.B) {
	o := validOp()
	o.Task = "tk-000000000001"
	o.Seen = map[string]uint64{"00112233445566778899aabbccddeeff": 41}
	o.Body = []byte(`{"labels":["perf","index"],"priority":2,"title":"Rebuild the index in one transaction \u003c2x"}`)
	raw, err := o.Encode()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    func([]byte) (*Op, error)
	}{{"onepass", Decode}, {"reference", referenceDecode}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := c.f(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
