package oplog

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// referenceDecode is Decode as it was before the single-pass scan: build
// the canonical form through a tree of values and compare, decode the
// fields twice (once into a map to see which are present and spelled how,
// once into the struct), then re-encode the op and compare again. It is
// slow and obviously strict; FuzzDecode holds Decode to it.
func referenceDecode(b []byte) (*Op, error) {
	if len(b) > MaxOpSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	c, err := canonicalizeTree(b)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(c, b) {
		return nil, ErrNotCanonical
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for k := range fields {
		known := false
		for _, f := range envelopeFields {
			known = known || f == k
		}
		if !known {
			return nil, fmt.Errorf("%w: unknown field %q", ErrMalformed, k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var o Op
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	for k, empty := range map[string]bool{"task": o.Task == "", "epoch": o.Epoch == 0, "body": len(o.Body) == 0 || string(o.Body) == "null"} {
		if _, present := fields[k]; present && empty {
			return nil, fmt.Errorf("%w: empty optional field %q (omit it)", ErrMalformed, k)
		}
	}
	again, err := o.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: re-encoding the op gives other bytes", ErrMalformed)
	}
	return &o, nil
}
