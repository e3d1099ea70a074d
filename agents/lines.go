package agents

import (
	"strconv"
	"strings"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// lineIndex maps dotted keys ("timeout", "limits.memory", "secrets.1.file")
// to the line they are set on, so that a check after decoding can say
// where a value is. It reads the plain TOML manifests are written in:
// [table] and [[array]] headers, key = value lines; multi-line strings
// and arrays are skipped over.
type lineIndex struct {
	keys  map[string]int
	lines []string
}

var (
	headerRE = &lazyre.Regexp{Expr: `^\s*(\[\[?)\s*([A-Za-z0-9_.\-" ]+?)\s*\]\]?\s*(#.*)?$`}
	keyRE    = &lazyre.Regexp{Expr: `^\s*([A-Za-z0-9_\-]+|"[^"]*")(\s*\.\s*([A-Za-z0-9_\-]+|"[^"]*"))*\s*=`}
)

func keyLines(b []byte) lineIndex {
	idx := lineIndex{keys: map[string]int{}, lines: strings.Split(string(b), "\n")}
	table, array := "", ""
	counts := map[string]int{}
	inString := ""
	depth := 0
	for i, line := range idx.lines {
		n := i + 1
		if inString != "" {
			if strings.Count(line, inString)%2 == 1 {
				inString = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDepth(line)
			continue
		}
		if m := headerRE.FindStringSubmatch(line); m != nil {
			name := unquoteKey(m[2])
			if m[1] == "[[" {
				table, array = name+"."+strconv.Itoa(counts[name]), name
				counts[name]++
				idx.set(name, n)
			} else {
				table, array = name, ""
			}
			idx.set(table, n)
			continue
		}
		m := keyRE.FindString(line)
		if m == "" {
			continue
		}
		key := unquoteKey(strings.TrimSuffix(strings.TrimSpace(m), "="))
		if table != "" {
			key = table + "." + key
		}
		idx.set(key, n)
		if array != "" {
			idx.set(array+"."+strings.TrimPrefix(key, table+"."), n)
		}
		rest := line[len(m):]
		for _, q := range []string{`"""`, `'''`} {
			if strings.Count(rest, q)%2 == 1 {
				inString = q
			}
		}
		depth = bracketDepth(rest)
	}
	return idx
}

func (idx lineIndex) set(k string, n int) {
	if _, ok := idx.keys[k]; !ok {
		idx.keys[k] = n
	}
}

// has reports whether key is set in the file.
func (idx lineIndex) has(key string) bool {
	_, ok := idx.keys[key]
	return ok
}

// elem returns the line of the element value of the array at key: the
// first line from the key's on that holds it quoted, else the key's line.
func (idx lineIndex) elem(key, value string) int {
	start := idx.of(key)
	if start == 0 {
		return 0
	}
	quoted := []string{strconv.Quote(value), "'" + value + "'"}
	for n := start; n <= len(idx.lines) && n < start+500; n++ {
		for _, q := range quoted {
			if strings.Contains(idx.lines[n-1], q) {
				return n
			}
		}
	}
	return start
}

// of returns the line of key, or of the nearest enclosing key or table
// that has one; 0 if none does.
func (idx lineIndex) of(key string) int {
	for k := key; k != ""; {
		if n, ok := idx.keys[k]; ok {
			return n
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// bracketDepth counts [ minus ] outside quoted strings.
func bracketDepth(s string) int {
	d := 0
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#':
			return d
		case c == '[':
			d++
		case c == ']':
			d--
		}
	}
	return d
}

func unquoteKey(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"`)
	}
	return strings.Join(parts, ".")
}
