package oplog

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Decode parses an op from a feed. It insists on canonical bytes, on the
// envelope's exact field names (Go's decoder alone would match "ACtor" to
// actor), on each field's JSON type, on the required fields, on a
// canonical time inside the window, and on optional fields being omitted
// rather than empty, so an op has exactly one spelling: whatever Decode
// accepts, Encode gives back byte for byte (FuzzDecode).
//
// It reads the bytes once: CheckCanonical's scan also records where each
// top-level member lies, and the fields are then parsed from those spans
// straight into the Op, with no generic tree of values, no second decode
// and no re-encoding (the fuzz target FuzzDecodeAgainstReference holds it
// to the decode, re-encode and compare that it replaces).
func Decode(b []byte) (*Op, error) {
	if len(b) > MaxOpSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	var members [len(envelopeFields)]member
	s := scanner{b: b, top: members[:0]}
	if err := s.document(); err != nil {
		if errors.Is(err, errTooDeep) {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return nil, err
	}
	if b[0] != '{' {
		return nil, fmt.Errorf("%w: an op is a JSON object", ErrMalformed)
	}
	var o Op
	for _, m := range s.top {
		if err := o.set(string(m.key), b[m.start:m.end]); err != nil {
			return nil, err
		}
	}
	if s.more {
		return nil, fmt.Errorf("%w: unknown field", ErrMalformed)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	return &o, nil
}

// envelopeFields are op.json's keys, spelled exactly as they must be.
var envelopeFields = [...]string{"actor", "body", "epoch", "lamport", "seen", "seq", "task", "time", "type", "v"}

// set parses one member of a canonical envelope into o. A null, a value of
// the wrong JSON type, and an optional field present but empty ("task":"",
// "epoch":0; "body" must be an object) are malformed.
func (o *Op) set(key string, v []byte) error {
	var err error
	switch key {
	case "v":
		var n int64
		n, err = strconv.ParseInt(string(numberBytes(v)), 10, 0)
		o.V = int(n)
	case "type":
		o.Type, err = stringValue(v)
	case "actor":
		o.Actor, err = stringValue(v)
	case "seq":
		o.Seq, err = uintValue(v)
	case "lamport":
		o.Lamport, err = uintValue(v)
	case "time":
		o.Time, err = stringValue(v)
	case "task":
		if o.Task, err = stringValue(v); err == nil && o.Task == "" {
			return fmt.Errorf("%w: empty optional field %q (omit it)", ErrMalformed, key)
		}
	case "epoch":
		if o.Epoch, err = uintValue(v); err == nil && o.Epoch == 0 {
			return fmt.Errorf("%w: empty optional field %q (omit it)", ErrMalformed, key)
		}
	case "body":
		switch v[0] {
		case 'n':
			return fmt.Errorf("%w: empty optional field %q (omit it)", ErrMalformed, key)
		case '{':
			o.Body = append(json.RawMessage(nil), v...)
		default:
			return fmt.Errorf("%w: body is not an object", ErrMalformed)
		}
	case "seen":
		o.Seen, err = seenValue(v)
	default:
		return fmt.Errorf("%w: unknown field %q", ErrMalformed, key)
	}
	if err != nil {
		return fmt.Errorf("%w: field %q: %v", ErrMalformed, key, err)
	}
	return nil
}

var errType = errors.New("wrong JSON type")

// numberBytes returns v if it is a number (canonical already), else nil,
// which no strconv parse accepts.
func numberBytes(v []byte) []byte {
	if c := v[0]; c == '-' || (c >= '0' && c <= '9') {
		return v
	}
	return nil
}

func uintValue(v []byte) (uint64, error) {
	if c := v[0]; c < '0' || c > '9' {
		return 0, errType
	}
	return strconv.ParseUint(string(v), 10, 64)
}

// stringValue decodes a canonical JSON string.
func stringValue(v []byte) (string, error) {
	if v[0] != '"' {
		return "", errType
	}
	s := scanner{b: v}
	raw, esc, err := s.str()
	if err != nil {
		return "", err
	}
	return string(unquote(raw, esc)), nil
}

// seenValue decodes a canonical object of unsigned integers. An empty
// object decodes to an empty map, which check refuses.
func seenValue(v []byte) (map[string]uint64, error) {
	if v[0] != '{' {
		return nil, errType
	}
	seen := map[string]uint64{}
	s := scanner{b: v, i: 1}
	if v[1] == '}' {
		return seen, nil
	}
	for {
		raw, esc, err := s.str()
		if err != nil {
			return nil, err
		}
		s.i++ // ':'
		start := s.i
		if err := s.value(); err != nil {
			return nil, err
		}
		n, err := uintValue(v[start:s.i])
		if err != nil {
			return nil, fmt.Errorf("seen entry %q: %w", unquote(raw, esc), err)
		}
		seen[string(unquote(raw, esc))] = n
		if v[s.i] == '}' {
			return seen, nil
		}
		s.i++
	}
}
