package memory

import (
	"sort"
	"strings"
	"unicode"
)

// MaxTerms bounds the search terms kept per memory.
const MaxTerms = 128

// Tokens splits text into search terms: runs of letters and digits, lower
// case, at least two characters (one for a digit run), in order, with
// repeats.
func Tokens(text string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len(f) >= 2 || (len(f) == 1 && f[0] >= '0' && f[0] <= '9') {
			out = append(out, f)
		}
	}
	return out
}

// Terms are a memory's search terms: its text's, tags' and pin paths'
// tokens, each once, at most MaxTerms (the first ones), sorted.
func Terms(m *Memory) []string {
	seen := map[string]bool{}
	add := func(s string) {
		for _, t := range Tokens(s) {
			if len(seen) < MaxTerms {
				seen[t] = true
			}
		}
	}
	add(m.Text)
	for _, t := range m.Tags {
		add(t)
	}
	for _, p := range m.Pins {
		add(p.Path)
	}
	terms := make([]string, 0, len(seen))
	for t := range seen {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	return terms
}
