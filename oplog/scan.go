package oplog

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// This file checks canonical JSON on the bytes, in one pass and without
// building a tree of values: a document is canonical when it is exactly
// what Canonicalize would write for it. The rules, all from Canonicalize:
// no white space; object keys in strictly increasing byte order of their
// decoded strings (so no duplicates); integers only, without leading zeros
// or "-0"; strings as encoding/json writes them with HTML escaping off
// (raw valid UTF-8 except '"' and '\' escaped as \" and \\, \b \f \n \r \t
// short, the other control characters and U+2028, U+2029 as lower-case
// \u00xx / \u202x, no other escapes); nothing after the value. The fuzz
// target FuzzCanonicalBytes holds it to Canonicalize.

// maxDepth is encoding/json's nesting limit; the envelope's json.Unmarshal
// refused deeper documents, so Decode still does.
const maxDepth = 10000

var errTooDeep = errors.New("exceeded max depth")

// member is one key and value of the top-level object, as offsets into
// the document.
type member struct {
	key        []byte // raw key bytes, without quotes
	start, end int    // value
}

// scanner walks one document. It records the members of the top-level
// object when top is set.
type scanner struct {
	b     []byte
	i     int
	depth int
	top   []member
	more  bool // the top-level object had more members than top holds
}

// notCanonical is a refusal of the bytes; errTooDeep is kept apart.
func (s *scanner) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrNotCanonical, fmt.Sprintf(format, args...), s.i)
}

// CheckCanonical reports whether b is canonical JSON, the fixed point of
// Canonicalize, without decoding it into values.
func CheckCanonical(b []byte) error {
	s := scanner{b: b}
	return s.document()
}

func (s *scanner) document() error {
	if err := s.value(); err != nil {
		return err
	}
	if s.i != len(s.b) {
		return s.fail("trailing data")
	}
	return nil
}

func (s *scanner) value() error {
	if s.i >= len(s.b) {
		return s.fail("unexpected end")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object()
	case c == '[':
		return s.array()
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail("unexpected byte %q", s.b[s.i])
}

func (s *scanner) literal(w string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		return s.fail("bad literal")
	}
	s.i += len(w)
	return nil
}

// number accepts -?(0|[1-9][0-9]*); what follows is the caller's business,
// so "1.5" and "1e3" fail there (a '.' or 'e' is not ',' '}' ']' or the end).
func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
		if s.i >= len(s.b) || s.b[s.i] < '1' || s.b[s.i] > '9' {
			return s.fail("number is not a canonical integer")
		}
	}
	if s.b[s.i] == '0' {
		s.i++
		if s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			return s.fail("leading zero")
		}
		return nil
	}
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return nil
}

// str checks one string in its canonical spelling and returns its raw
// bytes (between the quotes) and whether it holds escapes.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	s.i++ // the opening quote
	start := s.i
	b := s.b
	for s.i < len(b) {
		c := b[s.i]
		switch {
		case c == '"':
			raw = b[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(b) {
				return nil, false, s.fail("unexpected end in string")
			}
			switch b[s.i+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(b) {
					return nil, false, s.fail("unexpected end in string")
				}
				r, ok := lowerHex4(b[s.i+2 : s.i+6])
				if !ok || !mustEscape(r) {
					return nil, false, s.fail("escape \\%s is not canonical", b[s.i+1:s.i+6])
				}
				s.i += 6
			default:
				return nil, false, s.fail("escape is not canonical")
			}
		case c < 0x20:
			return nil, false, s.fail("control character in string")
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, false, s.fail("invalid UTF-8")
			}
			if r == '\u2028' || r == '\u2029' {
				return nil, false, s.fail("U+%04X is written escaped", r)
			}
			s.i += n
		}
	}
	return nil, false, s.fail("unexpected end in string")
}

// mustEscape reports whether the canonical encoder writes r as \u followed
// by four hex digits.
func mustEscape(r rune) bool {
	switch r {
	case '\b', '\f', '\n', '\r', '\t':
		return false // written short
	case '\u2028', '\u2029':
		return true
	}
	return r < 0x20
}

// lowerHex4 parses four lower-case hex digits, the only case the encoder
// writes.
func lowerHex4(h []byte) (rune, bool) {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unquote decodes the raw bytes of a string str accepted. Only escapes of
// the canonical set can occur.
func unquote(raw []byte, escaped bool) []byte {
	if !escaped {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := lowerHex4(raw[i+1 : i+5])
			out = utf8.AppendRune(out, r)
			i += 4
		default: // '"' or '\\'
			out = append(out, raw[i])
		}
	}
	return out
}

func (s *scanner) push() error {
	s.depth++
	if s.depth > maxDepth {
		return errTooDeep
	}
	return nil
}

func (s *scanner) object() error {
	if err := s.push(); err != nil {
		return err
	}
	top := s.depth == 1 && s.top != nil
	s.i++
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return nil
	}
	var prev []byte
	for n := 0; ; n++ {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.fail("expected a key")
		}
		raw, esc, err := s.str()
		if err != nil {
			return err
		}
		key := unquote(raw, esc)
		if n > 0 && bytes.Compare(prev, key) >= 0 {
			return s.fail("key %q is not after %q", key, prev)
		}
		prev = key
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("expected ':'")
		}
		s.i++
		start := s.i
		if err := s.value(); err != nil {
			return err
		}
		if top {
			if n < cap(s.top) {
				s.top = append(s.top, member{key: raw, start: start, end: s.i})
			} else {
				s.more = true
			}
		}
		if s.i >= len(s.b) {
			return s.fail("unexpected end in object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return s.fail("expected ',' or '}'")
		}
	}
}

func (s *scanner) array() error {
	if err := s.push(); err != nil {
		return err
	}
	s.i++
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if err := s.value(); err != nil {
			return err
		}
		if s.i >= len(s.b) {
			return s.fail("unexpected end in array")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return nil
		default:
			return s.fail("expected ',' or ']'")
		}
	}
}
