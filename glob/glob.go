// Package glob is the one pattern syntax of git-covenant's policy: the
// [provenance] require (refs) and paths lists and the paths of capability
// grants. Patterns and names are slash-separated. Within one segment, *
// matches any run of characters other than /, ? one character, and [...]
// a class, as path.Match does; a segment that is exactly ** matches any
// number of whole segments (zero or more), so it crosses /:
//
//	release/*        release/3.0           not release/3.0/hotfix
//	release/**       release/3.0, release/3.0/hotfix   not release
//	src/**           everything below src/
//	**/*.go          a.go, cmd/x/main.go
//	docs/**/*.md     docs/a.md, docs/x/y/a.md
//
// A trailing ** needs at least one segment (release/** does not match
// release itself). It imports only the standard library.
package glob

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrBadPattern means a pattern cannot be parsed.
var ErrBadPattern = errors.New("bad pattern")

// Valid reports whether pattern is well formed.
func Valid(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("%w: empty", ErrBadPattern)
	}
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return fmt.Errorf("%w: %q: ** must be a whole segment", ErrBadPattern, pattern)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("%w: %q", ErrBadPattern, pattern)
		}
	}
	return nil
}

// Match reports whether name matches pattern. A malformed pattern matches
// nothing.
func Match(pattern, name string) bool {
	if Valid(pattern) != nil {
		return false
	}
	return match(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

// Any reports whether name matches one of the patterns.
func Any(patterns []string, name string) bool {
	for _, p := range patterns {
		if Match(p, name) {
			return true
		}
	}
	return false
}

func match(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				return len(segs) > 0
			}
			for i := 0; i <= len(segs); i++ {
				if match(rest, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}
