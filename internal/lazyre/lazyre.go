// Package lazyre holds regular expressions that compile on first use.
//
// A package-level regexp.MustCompile runs in every process that links the
// package, whatever command it runs: at start-up the binary compiled about
// fifty of them (a pattern like `[a-z]{0,63}` expands into 63 copies), a
// measurable part of every command's start. Declared as
//
//	var idRE = &lazyre.Regexp{Expr: `^tk-[0-9a-f]{12}$`}
//
// the value is laid out by the linker (no code runs at init) and compiles
// once, safely from any goroutine, the first time a method is called. A
// bad pattern panics at that first use, as MustCompile would at init; the
// packages' tests exercise every pattern.
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is a regular expression compiled on first use. Use it through a
// pointer; the zero value with an empty Expr matches everything.
type Regexp struct {
	Expr string
	once sync.Once
	re   *regexp.Regexp
}

// Re returns the compiled expression.
func (l *Regexp) Re() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.Expr) })
	return l.re
}

// MatchString is regexp.Regexp.MatchString.
func (l *Regexp) MatchString(s string) bool { return l.Re().MatchString(s) }

// FindString is regexp.Regexp.FindString.
func (l *Regexp) FindString(s string) string { return l.Re().FindString(s) }

// FindStringSubmatch is regexp.Regexp.FindStringSubmatch.
func (l *Regexp) FindStringSubmatch(s string) []string { return l.Re().FindStringSubmatch(s) }

// FindAllStringSubmatch is regexp.Regexp.FindAllStringSubmatch.
func (l *Regexp) FindAllStringSubmatch(s string, n int) [][]string {
	return l.Re().FindAllStringSubmatch(s, n)
}

// ReplaceAllString is regexp.Regexp.ReplaceAllString.
func (l *Regexp) ReplaceAllString(src, repl string) string {
	return l.Re().ReplaceAllString(src, repl)
}
