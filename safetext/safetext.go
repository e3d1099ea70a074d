// Package safetext is the rule for text that others write and an operator's
// terminal shows: task titles and bodies, handoff notes, comments, reasons,
// commit subjects, anything read from someone else's feed or commit.
//
// Writers refuse (Check, CheckValue) text that is not valid UTF-8 or that
// holds a control character: every rune of Unicode category Cc except TAB
// (U+0009) and LF (U+000A) — so C0 controls such as ESC and BEL, CR, DEL
// and the C1 controls U+0080–U+009F — and the bidirectional formatting
// controls U+202A–U+202E and U+2066–U+2069, which reorder what a reader
// sees. Readers cannot rely on that (a history written by an older or a
// modified client may hold anything), so output goes through a Writer
// that shows each such rune as \uXXXX and each byte of invalid UTF-8 as
// \xNN. The \uXXXX form is also a valid JSON escape of the same rune, so
// JSON output keeps its meaning through the Writer.
//
// It imports only the standard library.
package safetext

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

var (
	// ErrControl means a text holds a control character the rule refuses.
	ErrControl = errors.New("text holds a control character")
	// ErrInvalidUTF8 means a text is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("text is not valid UTF-8")
)

// Refused reports whether r is a rune the rule refuses in stored text and
// escapes on output: Cc other than TAB and LF, and the bidi controls.
func Refused(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// Check returns an error naming the first rune or byte of s the rule
// refuses, or nil.
func Check(s string) error {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("%w (byte 0x%02x at offset %d)", ErrInvalidUTF8, s[i], i)
		}
		if Refused(r) {
			return fmt.Errorf("%w: %s at offset %d (text may hold printable characters, tabs and newlines)", ErrControl, name(r), i)
		}
		i += n
	}
	return nil
}

// name spells a refused rune for an error message.
func name(r rune) string {
	names := map[rune]string{0x07: "BEL", 0x08: "BS", 0x0d: "CR", 0x1b: "ESC", 0x7f: "DEL", 0x9b: "CSI", 0x202e: "RIGHT-TO-LEFT OVERRIDE"}
	if n, ok := names[r]; ok {
		return fmt.Sprintf("%U (%s)", r, n)
	}
	return fmt.Sprintf("%U", r)
}

// Escape returns s with every refused rune written \uXXXX and every byte
// of invalid UTF-8 written \xNN.
func Escape(s string) string {
	if Check(s) == nil {
		return s
	}
	out, _ := appendEscaped(nil, []byte(s), true)
	return string(out)
}

// appendEscaped appends p to dst, escaped, and returns it with the number
// of bytes of p it left out: unless final, an incomplete UTF-8 sequence at
// the end of p, which the caller keeps for the next call.
func appendEscaped(dst, p []byte, final bool) ([]byte, int) {
	start := 0
	for i := 0; i < len(p); {
		c := p[i]
		if c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' {
			i++
			continue
		}
		if c >= 0x80 && !final && !utf8.FullRune(p[i:]) {
			return append(dst, p[start:i]...), len(p) - i
		}
		r, n := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, p[start:i]...)
			dst = fmt.Appendf(dst, `\x%02x`, c)
		case Refused(r):
			dst = append(dst, p[start:i]...)
			dst = fmt.Appendf(dst, `\u%04x`, r)
		default:
			i += n
			continue
		}
		i += n
		start = i
	}
	return append(dst, p[start:]...), 0
}
