package config

import (
	"fmt"
	"path"
	"strings"
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
}

// check validates the [provenance] table.
func (p *Provenance) check() error {
	for i, r := range p.Require {
		if !strings.HasPrefix(r, "refs/") {
			return fmt.Errorf("provenance.require[%d] = %q: name a full ref such as refs/heads/main", i, r)
		}
		if _, err := path.Match(r, "refs/x"); err != nil {
			return fmt.Errorf("provenance.require[%d] = %q: bad pattern", i, r)
		}
	}
	for i, g := range p.Paths {
		if g == "" || strings.HasPrefix(g, "/") {
			return fmt.Errorf("provenance.paths[%d] = %q: give a relative path or glob", i, g)
		}
		if _, err := path.Match(g, "x"); err != nil {
			return fmt.Errorf("provenance.paths[%d] = %q: bad pattern", i, g)
		}
	}
	for i, c := range p.Commands {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("provenance.commands[%d] is empty", i)
		}
	}
	return nil
}

// RequiresProvenance reports whether commits bound for ref need provenance.
func (p *Provenance) RequiresProvenance(ref string) bool {
	if p == nil {
		return false
	}
	for _, r := range p.Require {
		if r == ref {
			return true
		}
		if ok, _ := path.Match(r, ref); ok {
			return true
		}
	}
	return false
}
