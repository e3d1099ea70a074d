package oplog

import (
	"bytes"
	"testing"
)

// FuzzDecode checks that an op decodes only in its one canonical spelling:
// whatever Decode accepts, Encode gives back byte for byte, and whatever
// Canonicalize returns is a fixed point of it. The seeds in
// testdata/fuzz/FuzzDecode include the refusals of strictCases.
func FuzzDecode(f *testing.F) {
	if raw, err := validOp().Encode(); err == nil {
		f.Add(raw)
	}
	for _, c := range strictCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
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
