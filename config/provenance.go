package config

import (
	"fmt"
	"strings"

	"github.com/git-covenant/git-covenant/glob"
	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// Provenance is the optional [provenance] table: which refs and paths need
// provenance on their commits, which validation commands count, and
// whether the blob rule applies.
//
//	[provenance]
//	require = ["refs/heads/main"]     # refs (globs) whose commits need it
//	paths = ["src/**"]                # only commits changing these; empty: all
//	commands = ["make test"]          # command lines that count; empty: any
//	blob_rule = true                  # attested blobs cover rebased commits
type Provenance struct {
	Require  []string `toml:"require,omitempty"`
	Paths    []string `toml:"paths,omitempty"`
	Commands []string `toml:"commands,omitempty"`
	BlobRule bool     `toml:"blob_rule,omitempty"`
	// UnanchoredThrough is a commit id: bundles on it and its ancestors
	// count without a provenance.anchor op (recorded by a version that
	// wrote none). Later commits always need an anchored bundle.
	UnanchoredThrough string `toml:"unanchored_through,omitempty"`
}

// check validates the [provenance] table.
func (p *Provenance) check() error {
	for i, r := range p.Require {
		if !strings.HasPrefix(r, "refs/") {
			return fmt.Errorf("provenance.require[%d] = %q: name a full ref such as refs/heads/main", i, r)
		}
		if err := glob.Valid(r); err != nil {
			return fmt.Errorf("provenance.require[%d] = %q: bad pattern (see 'git covenant help' for the glob syntax: * within a segment, ** across /)", i, r)
		}
	}
	for i, g := range p.Paths {
		if g == "" || strings.HasPrefix(g, "/") {
			return fmt.Errorf("provenance.paths[%d] = %q: give a relative path or glob", i, g)
		}
		if err := glob.Valid(g); err != nil {
			return fmt.Errorf("provenance.paths[%d] = %q: bad pattern (* within a segment, ** across /)", i, g)
		}
	}
	for i, c := range p.Commands {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("provenance.commands[%d] is empty", i)
		}
	}
	if u := p.UnanchoredThrough; u != "" && !commitID.MatchString(u) {
		return fmt.Errorf("provenance.unanchored_through = %q: give a full commit id (40 hex digits), not a branch that moves", u)
	}
	return nil
}

var commitID = &lazyre.Regexp{Expr: `^[0-9a-f]{40}$`}

// RequiresProvenance reports whether commits bound for ref need provenance.
// Patterns use package glob's syntax: * stays within a segment, a ** segment
// crosses / (refs/heads/release/** covers refs/heads/release/3.0/hotfix).
func (p *Provenance) RequiresProvenance(ref string) bool {
	if p == nil {
		return false
	}
	for _, r := range p.Require {
		if r == ref || glob.Match(r, ref) {
			return true
		}
	}
	return false
}
