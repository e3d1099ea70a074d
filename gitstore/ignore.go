package gitstore

import (
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreRules is a list of patterns in gitignore syntax (a .covenantignore
// file after built-in rules), matched as git matches .gitignore: the last
// pattern that matches a path decides, a leading ! re-includes, a trailing
// / matches directories (and so everything below them). The matching is
// go-git's; this type keeps where each pattern came from so a decision
// can be explained.
type IgnoreRules struct {
	rules []ignoreRule
}

type ignoreRule struct {
	p      gitignore.Pattern
	source string
	line   int
	text   string
}

// IgnoreDecision is the outcome of matching one path: Ignored, and the
// pattern that decided (Line 0 and no Pattern: none matched).
type IgnoreDecision struct {
	Ignored bool
	Source  string
	Line    int
	Pattern string
}

// Add appends the patterns of one file (or built-in list) named source.
// Blank lines and # comments are skipped.
func (r *IgnoreRules) Add(source string, data string) {
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r.rules = append(r.rules, ignoreRule{p: gitignore.ParsePattern(line, nil), source: source, line: i + 1, text: line})
	}
}

// Decide matches a slash-separated path relative to the top of the work
// tree.
func (r *IgnoreRules) Decide(path string, isDir bool) IgnoreDecision {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(r.rules) - 1; i >= 0; i-- {
		switch r.rules[i].p.Match(parts, isDir) {
		case gitignore.Exclude:
			return IgnoreDecision{Ignored: true, Source: r.rules[i].source, Line: r.rules[i].line, Pattern: r.rules[i].text}
		case gitignore.Include:
			return IgnoreDecision{Source: r.rules[i].source, Line: r.rules[i].line, Pattern: r.rules[i].text}
		}
	}
	return IgnoreDecision{}
}
