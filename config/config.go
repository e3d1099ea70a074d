// Package config owns .covenant/config.toml, the committed, reviewed-like-code
// file that pins the trust roots and the policy of a covenant repository.
// Parsing is strict: unknown keys and bad values are errors that name where
// they are, and nothing is written on error.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/mailbox"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Path is where the config lives, relative to the top of the working tree.
const Path = ".covenant/config.toml"

// Version is the config format version this build reads and writes.
const Version = 1

// ErrInvalid means the config file does not parse or fails validation.
var ErrInvalid = errors.New("invalid config")

// Config is the parsed .covenant/config.toml.
type Config struct {
	Version int   `toml:"version"`
	Trust   Trust `toml:"trust"`
	// Workflow is the task lifecycle; nil in the file means the default.
	Workflow *tasks.Workflow `toml:"workflow,omitempty"`
	// Provenance is the optional provenance policy (see provenance.go).
	Provenance *Provenance `toml:"provenance,omitempty"`
	// Mailbox is the mailbox's retry policy; nil means the default.
	Mailbox *mailbox.Policy `toml:"mailbox,omitempty"`
	// Secrets and Memory are the optional [secrets] and [memory] tables
	// (see memory.go); neither changes the fold.
	Secrets *Secrets `toml:"secrets,omitempty"`
	Memory  *Memory  `toml:"memory,omitempty"`
}

// MailboxPolicy returns the configured mailbox policy, or the default one.
func (c *Config) MailboxPolicy() mailbox.Policy {
	if c.Mailbox != nil {
		return *c.Mailbox
	}
	return mailbox.DefaultPolicy()
}

// Lifecycle returns the configured workflow, or the default one.
func (c *Config) Lifecycle() *tasks.Workflow {
	if c.Workflow != nil {
		return c.Workflow
	}
	return tasks.DefaultWorkflow()
}

// Trust is the [trust] table.
type Trust struct {
	Roots []trust.Root `toml:"roots"`
}

// New returns a config with one trust root.
func New(root trust.Root) *Config {
	return &Config{Version: Version, Trust: Trust{Roots: []trust.Root{root}}}
}

// Parse decodes and validates a config file's content.
func Parse(b []byte) (*Config, error) {
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %s line %d: %s", ErrInvalid, Path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, Path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%w: %s: unknown key %s", ErrInvalid, Path, strings.Join(keys, ", "))
	}
	if c.Version != Version {
		return nil, fmt.Errorf("%w: %s: version = %d, this build reads version %d", ErrInvalid, Path, c.Version, Version)
	}
	if len(c.Trust.Roots) == 0 {
		return nil, fmt.Errorf("%w: %s: [[trust.roots]] names no root key", ErrInvalid, Path)
	}
	seen := map[string]bool{}
	for i, r := range c.Trust.Roots {
		if err := identity.CheckName(r.Name); err != nil {
			return nil, fmt.Errorf("%w: %s: trust.roots[%d]: %v", ErrInvalid, Path, i, err)
		}
		pub, err := identity.ParsePublicKey(r.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: trust.roots[%d] (%s): %v", ErrInvalid, Path, i, r.Name, err)
		}
		id := identity.KeyID(pub)
		if seen[id] {
			return nil, fmt.Errorf("%w: %s: trust.roots[%d] (%s): key listed twice", ErrInvalid, Path, i, r.Name)
		}
		seen[id] = true
		c.Trust.Roots[i].Key = identity.FormatPublicKey(pub)
	}
	if c.Workflow != nil {
		if err := c.Workflow.Check(func(name string) string { return locate(b, name) }); err != nil {
			return nil, fmt.Errorf("%w: %s%v", ErrInvalid, Path, err)
		}
	}
	if c.Provenance != nil {
		if err := c.Provenance.check(); err != nil {
			return nil, fmt.Errorf("%w: %s%s: %v", ErrInvalid, Path, locate(b, "provenance"), err)
		}
	}
	if c.Mailbox != nil {
		if err := c.Mailbox.Check(); err != nil {
			return nil, fmt.Errorf("%w: %s%s: %v", ErrInvalid, Path, locate(b, "mailbox"), err)
		}
	}
	if c.Secrets != nil {
		if err := c.Secrets.check(); err != nil {
			return nil, fmt.Errorf("%w: %s%s: %v", ErrInvalid, Path, locate(b, "on_hit"), err)
		}
	}
	if c.Memory != nil {
		if err := c.Memory.check(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, Path, err)
		}
	}
	return &c, nil
}

// Encode renders the config as TOML with a header comment.
func (c *Config) Encode() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# git-covenant configuration. Committed and reviewed like code:\n")
	b.WriteString("# the keys below are the roots of trust for every signed operation.\n")
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Digest identifies the parts of the config the fold depends on; the index
// is rebuilt when it changes.
func (c *Config) Digest() string {
	keys := []string{}
	for _, r := range c.Trust.Roots {
		keys = append(keys, r.Name+"="+r.Key)
	}
	sort.Strings(keys)
	wf, _ := json.Marshal(c.Lifecycle())
	text := fmt.Sprintf("v%d\n%s\n%s", c.Version, strings.Join(keys, "\n"), wf)
	if c.Mailbox != nil { // absent, the digest is what it was before [mailbox] existed
		mb, _ := json.Marshal(c.Mailbox)
		text += "\nmailbox " + string(mb)
	}
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// locate returns " line N" for the first line of the file that mentions
// name as a quoted string or a key, or "" if none does.
func locate(b []byte, name string) string {
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"`+name+`"`) || strings.HasPrefix(strings.TrimSpace(line), name+" ") || strings.HasPrefix(strings.TrimSpace(line), name+"=") {
			return fmt.Sprintf(" line %d", i+1)
		}
	}
	return ""
}
