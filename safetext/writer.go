package safetext

import (
	"io"
	"sync"
	"unicode/utf8"
)

// Writer escapes what passes through it (see Escape), so that nothing
// written to a terminal through it can move the cursor, change colours,
// ring the bell or reorder text. A UTF-8 sequence split across writes is
// held until its end arrives; Flush writes out what is held.
// It is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	held []byte
	buf  []byte
}

// NewWriter returns a Writer that writes escaped text to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p and writes it. It reports len(p) when every byte was
// written or held.
func (e *Writer) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.held) == 0 && clean(p) {
		return e.w.Write(p)
	}
	in := p
	if len(e.held) > 0 {
		in = append(e.held, p...)
		e.held = nil
	}
	out, rest := appendEscaped(e.buf[:0], in, false)
	if rest > 0 {
		e.held = append([]byte(nil), in[len(in)-rest:]...)
	}
	e.buf = out
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes out a held incomplete sequence, escaped as invalid UTF-8.
func (e *Writer) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.held) == 0 {
		return nil
	}
	out, _ := appendEscaped(nil, e.held, true)
	e.held = nil
	_, err := e.w.Write(out)
	return err
}

// clean reports whether p needs no escaping and ends on a whole rune: no
// ASCII control but TAB and LF, no DEL, valid UTF-8 with no C1 or bidi
// control. The bytes 0xC2 (C1 controls) and 0xE2 (bidi controls) send p
// to the careful path, which is rarely taken for ordinary text.
func clean(p []byte) bool {
	ascii := true
	for _, c := range p {
		switch {
		case c >= 0x20 && c < 0x7f, c == '\t', c == '\n':
		case c == 0xc2 || c == 0xe2 || c < 0x20 || c == 0x7f:
			return false
		default:
			ascii = false
		}
	}
	return ascii || utf8.Valid(p)
}
