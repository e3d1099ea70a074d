package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// ErrUnknownKey means a key `git covenant config` does not read or write.
var ErrUnknownKey = errors.New("unknown config key")

// Key is a key `git covenant config` reads and writes.
type Key struct {
	Name  string // dotted: version, provenance.require, ...
	Kind  string // "int", "bool" or "list"
	Usage string
}

// Keys lists the keys `git covenant config` supports: version and the keys
// of the [provenance] table. The others (trust roots, workflow) are edited
// by their own commands or by hand.
var Keys = []Key{
	{"version", "int", "the config format version (this build: 1)"},
	{"provenance.require", "list", "refs (globs) whose commits need provenance, e.g. refs/heads/main"},
	{"provenance.paths", "list", "only commits changing these paths (globs) need provenance; empty: all"},
	{"provenance.commands", "list", "validation command lines that count; empty: any"},
	{"provenance.blob_rule", "bool", "attested blobs cover rebased commits (true or false)"},
}

// LookupKey returns a supported key by name.
func LookupKey(name string) (Key, error) {
	for _, k := range Keys {
		if k.Name == name {
			return k, nil
		}
	}
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Name
	}
	return Key{}, fmt.Errorf("%w %q: this command reads and writes %s", ErrUnknownKey, name, strings.Join(names, ", "))
}

// Get returns a key's value in a parsed config: one string per list item,
// "true"/"false" for a bool, the number for an int. An unset list is empty.
func (c *Config) Get(name string) ([]string, error) {
	k, err := LookupKey(name)
	if err != nil {
		return nil, err
	}
	v := c.value(k.Name)
	switch x := v.(type) {
	case int:
		return []string{strconv.Itoa(x)}, nil
	case bool:
		return []string{strconv.FormatBool(x)}, nil
	case []string:
		return x, nil
	}
	return nil, fmt.Errorf("config key %s has no value", name)
}

func (c *Config) value(name string) any {
	p := c.Provenance
	if p == nil {
		p = &Provenance{}
	}
	switch name {
	case "version":
		return c.Version
	case "provenance.require":
		return slices.Clone(p.Require)
	case "provenance.paths":
		return slices.Clone(p.Paths)
	case "provenance.commands":
		return slices.Clone(p.Commands)
	case "provenance.blob_rule":
		return p.BlobRule
	}
	return nil
}

// ParseValue turns command-line values into a key's value: an int, a bool
// (true/false, yes/no, on/off, 1/0), or a list.
func ParseValue(k Key, vals []string) (any, error) {
	switch k.Kind {
	case "int":
		if len(vals) != 1 {
			return nil, fmt.Errorf("%w: %s takes one number", ErrInvalid, k.Name)
		}
		n, err := strconv.Atoi(strings.TrimSpace(vals[0]))
		if err != nil {
			return nil, fmt.Errorf("%w: %s = %q: not a number", ErrInvalid, k.Name, vals[0])
		}
		return n, nil
	case "bool":
		if len(vals) != 1 {
			return nil, fmt.Errorf("%w: %s takes one of true or false", ErrInvalid, k.Name)
		}
		switch strings.ToLower(strings.TrimSpace(vals[0])) {
		case "true", "yes", "on", "1":
			return true, nil
		case "false", "no", "off", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%w: %s = %q: want true or false", ErrInvalid, k.Name, vals[0])
	}
	return slices.Clone(vals), nil
}

// Set returns the file content with key set to value (see ParseValue),
// touching only the lines of that key: comments and the rest of the file
// stay as they are. The result is parsed and validated; on any error the
// caller writes nothing. A nil value removes the key.
func Set(raw []byte, name string, value any) ([]byte, error) {
	k, err := LookupKey(name)
	if err != nil {
		return nil, err
	}
	table, key := "", k.Name
	if t, kk, ok := strings.Cut(k.Name, "."); ok {
		table, key = t, kk
	}
	lines := strings.SplitAfter(string(raw), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
		lines[n-1] += "\n"
	}
	newLine := ""
	if value != nil {
		newLine = key + " = " + tomlValue(value) + "\n"
	}
	// Find the table's region: top level runs to the first header.
	start, end := 0, len(lines)
	found := table == ""
	cur := ""
	for i, l := range lines {
		h, ok := header(l)
		if !ok {
			continue
		}
		if found && cur == table {
			end = i
			break
		}
		cur = h
		if h == table {
			start, found = i+1, true
		}
		if table == "" {
			end = i
			break
		}
	}
	var out []string
	switch {
	case !found && value == nil:
		out = lines
	case !found:
		out = append(out, lines...)
		if n := len(out); n > 0 && strings.TrimSpace(out[n-1]) != "" {
			out = append(out, "\n")
		}
		out = append(out, "["+table+"]\n", newLine)
	default:
		at, stop := -1, -1
		for i := start; i < end; i++ {
			if keyOf(lines[i]) == key {
				at, stop = i, valueEnd(lines, i)
				break
			}
		}
		out = append(out, lines[:start]...)
		if at < 0 {
			// Insert after the table's last non-blank line.
			ins := end
			for ins > start && strings.TrimSpace(lines[ins-1]) == "" {
				ins--
			}
			out = append(out, lines[start:ins]...)
			if newLine != "" {
				out = append(out, newLine)
			}
			out = append(out, lines[ins:]...)
		} else {
			out = append(out, lines[start:at]...)
			if newLine != "" {
				out = append(out, newLine)
			}
			out = append(out, lines[stop:]...)
		}
	}
	res := []byte(strings.Join(out, ""))
	c, err := Parse(res)
	if err != nil {
		return nil, err
	}
	want := value
	if want == nil {
		want = (&Config{}).value(k.Name)
		if k.Name == "version" {
			return nil, fmt.Errorf("%w: version cannot be removed", ErrInvalid)
		}
	}
	if got := c.value(k.Name); !reflect.DeepEqual(got, want) && !(isEmptyList(got) && isEmptyList(want)) {
		return nil, fmt.Errorf("%w: %s is written in a form this command does not edit (a dotted key or inline table?); edit %s by hand", ErrInvalid, k.Name, Path)
	}
	return res, nil
}

func isEmptyList(v any) bool {
	l, ok := v.([]string)
	return ok && len(l) == 0
}

// header returns the table name of a [table] or [[array]] header line.
func header(l string) (string, bool) {
	t := strings.TrimSpace(stripComment(l))
	if !strings.HasPrefix(t, "[") || !strings.HasSuffix(t, "]") {
		return "", false
	}
	t = strings.Trim(t, "[]")
	return strings.TrimSpace(t), true
}

// keyOf returns the bare key a "key = value" line sets.
func keyOf(l string) string {
	k, _, ok := strings.Cut(l, "=")
	if !ok {
		return ""
	}
	k = strings.TrimSpace(k)
	if strings.HasPrefix(k, "#") {
		return ""
	}
	return strings.Trim(k, `"`)
}

// valueEnd returns the index of the first line after the value that starts
// on line i (a multi-line array runs until its brackets close).
func valueEnd(lines []string, i int) int {
	depth := 0
	inStr := byte(0)
	_, rest, _ := strings.Cut(lines[i], "=")
	for j := i; j < len(lines); j++ {
		s := rest
		if j > i {
			s = lines[j]
		}
		scanTOML(s, &inStr, func(_ int, ch byte) bool {
			switch ch {
			case '#':
				return true
			case '[':
				depth++
			case ']':
				depth--
			}
			return false
		})
		if depth <= 0 {
			return j + 1
		}
	}
	return len(lines)
}

func stripComment(l string) string {
	inStr := byte(0)
	cut := len(l)
	scanTOML(l, &inStr, func(p int, ch byte) bool {
		if ch == '#' {
			cut = p
			return true
		}
		return false
	})
	return l[:cut]
}

// scanTOML calls visit with each byte of s that is outside a string,
// keeping string state in inStr across lines, until visit returns true.
func scanTOML(s string, inStr *byte, visit func(p int, ch byte) bool) {
	for p := 0; p < len(s); p++ {
		ch := s[p]
		switch {
		case *inStr == '"' && ch == '\\':
			p++
		case *inStr != 0 && ch == *inStr:
			*inStr = 0
		case *inStr != 0:
		case ch == '"' || ch == '\'':
			*inStr = ch
		default:
			if visit(p, ch) {
				return
			}
		}
	}
}

func tomlValue(v any) string {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = tomlString(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
