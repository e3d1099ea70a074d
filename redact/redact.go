package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrSecret means text held a secret and the write was refused
// (on_hit = "refuse").
var ErrSecret = errors.New("secret in content")

// Finding is one redaction: which rule, in which field, on which line
// (1-based) of that field's text. It never holds the secret.
type Finding struct {
	Rule  string `json:"rule"`
	Field string `json:"field"`
	Line  int    `json:"line"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s in %s line %d", f.Rule, f.Field, f.Line)
}

// Mark is what replaces a secret.
func Mark(rule string) string { return "[REDACTED:" + rule + "]" }

type span struct {
	start, end int
	rule       string
}

// find returns the secrets in s, in order, without overlaps.
func find(s string) []span {
	lower := ""
	var out []span
	for _, r := range rules {
		if lower == "" {
			lower = strings.ToLower(s)
		}
		hit := false
		for _, k := range r.keywords {
			if strings.Contains(lower, k) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		if r.window > 0 {
			out = r.windowed(s, lower, out)
			continue
		}
		for _, m := range r.re.Re().FindAllStringSubmatchIndex(s, -1) {
			out = r.keep(s, m, 0, out)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// keep adds the secret of match m (offsets relative to base) unless the
// rule's conditions refuse it or an earlier rule found it.
func (r *Rule) keep(s string, m []int, base int, out []span) []span {
	a, b := m[2*r.group], m[2*r.group+1]
	if a < 0 {
		return out
	}
	a, b = a+base, b+base
	if !r.accept(s[a:b]) || overlaps(out, a, b) {
		return out
	}
	return append(out, span{a, b, r.ID})
}

// windowed runs an anchored rule from the start of each word of s that
// holds one of its keywords.
func (r *Rule) windowed(s, lower string, out []span) []span {
	tried := -1
	for _, k := range r.keywords {
		for from := 0; ; {
			i := strings.Index(lower[from:], k)
			if i < 0 {
				break
			}
			i += from
			from = i + len(k)
			ws := i
			for ws > 0 && wordByte(s[ws-1]) {
				ws--
			}
			if ws == tried || r.assign && !assignment(s, from) {
				continue
			}
			tried = ws
			end := min(len(s), ws+r.window)
			if m := r.re.Re().FindStringSubmatchIndex(s[ws:end]); m != nil {
				out = r.keep(s, m, ws, out)
			}
		}
	}
	return out
}

// assignment reports whether an = or : follows the word that runs on at
// s[i:] (past closing quotes and blanks).
func assignment(s string, i int) bool {
	for i < len(s) && wordByte(s[i]) {
		i++
	}
	for i < len(s) && (s[i] == '"' || s[i] == '\'' || s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i < len(s) && (s[i] == '=' || s[i] == ':')
}

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

func overlaps(spans []span, a, b int) bool {
	for _, s := range spans {
		if a < s.end && s.start < b {
			return true
		}
	}
	return false
}

// String redacts the secrets in s, reporting each under field.
func String(field, s string) (string, []Finding) {
	spans := find(s)
	if len(spans) == 0 {
		return s, nil
	}
	var b strings.Builder
	fs := make([]Finding, 0, len(spans))
	prev, line, counted := 0, 1, 0
	for _, sp := range spans {
		line += strings.Count(s[counted:sp.start], "\n")
		counted = sp.start
		b.WriteString(s[prev:sp.start])
		b.WriteString(Mark(sp.rule))
		prev = sp.end
		fs = append(fs, Finding{Rule: sp.rule, Field: field, Line: line})
	}
	b.WriteString(s[prev:])
	return b.String(), fs
}

// Bytes redacts the secrets in b (an artifact such as a command's output).
func Bytes(field string, b []byte) ([]byte, []Finding) {
	s, fs := String(field, string(b))
	if fs == nil {
		return b, nil
	}
	return []byte(s), fs
}

// JSON redacts every string value (and object key) of a JSON document,
// naming each field by its path under prefix (body.questions[1]). A
// document with no hit is returned as it was.
func JSON(prefix string, raw []byte) ([]byte, []Finding, error) {
	if len(raw) == 0 || !mayHit(raw) {
		return raw, nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, nil, fmt.Errorf("redact %s: %w", prefix, err)
	}
	var fs []Finding
	v = walk(v, prefix, &fs)
	if len(fs) == 0 {
		return raw, nil, nil
	}
	out, err := json.Marshal(v)
	return out, fs, err
}

// mayHit is a cheap first look: could any rule's keyword be in raw?
func mayHit(raw []byte) bool {
	lower := bytes.ToLower(raw)
	for _, r := range rules {
		for _, k := range r.keywords {
			if bytes.Contains(lower, []byte(k)) {
				return true
			}
		}
	}
	return false
}

func walk(v any, path string, fs *[]Finding) any {
	switch x := v.(type) {
	case string:
		s, f := String(path, x)
		*fs = append(*fs, f...)
		return s
	case []any:
		for i := range x {
			x[i] = walk(x[i], path+"["+strconv.Itoa(i)+"]", fs)
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			k2, f := String(path+" key", k)
			*fs = append(*fs, f...)
			out[k2] = walk(val, path+"."+k, fs)
		}
		return out
	}
	return v
}
