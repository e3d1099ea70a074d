package covenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/redact"
)

// IgnoreFile is the committed file of gitignore-syntax patterns naming
// paths whose content is never stored (handoff --file, memory --pin),
// at the top of the working tree.
const IgnoreFile = ".covenantignore"

// builtinIgnore are the patterns every repository starts from; a
// .covenantignore line such as !.env.sample re-includes.
const builtinIgnore = `.env
.env.*
*.pem
*.key
*.p12
*.pfx
id_rsa
id_dsa
id_ecdsa
id_ed25519
.netrc
.git-credentials
**/.aws/credentials
`

// scrub passes a draft through the secret rules (package redact) before it
// is signed: the body's strings, the summary (the commit subject) and the
// artifacts. A hit is replaced by [REDACTED:<rule>] and returned as a
// finding naming the op type and field; with [secrets] on_hit = "refuse"
// the write is refused instead. The caller's draft is not modified.
func scrub(cfg *config.Config, d Draft) (Draft, []redact.Finding, error) {
	var all []redact.Finding
	field := func(f string) string { return d.Type + " " + f }
	if d.Body != nil {
		raw, err := json.Marshal(d.Body)
		if err != nil {
			return d, nil, err
		}
		out, fs, err := redact.JSON(field("body"), raw)
		if err != nil {
			return d, nil, err
		}
		if len(fs) > 0 {
			d.Body = json.RawMessage(out)
			all = append(all, fs...)
		}
	}
	if s, fs := redact.String(field("summary"), d.Summary); len(fs) > 0 {
		d.Summary = s
		all = append(all, fs...)
	}
	if len(d.Artifacts) > 0 {
		arts := make(map[string][]byte, len(d.Artifacts))
		for name, b := range d.Artifacts {
			out, fs := redact.Bytes(field("artifact "+name), b)
			arts[name] = out
			all = append(all, fs...)
		}
		d.Artifacts = arts
	}
	if len(all) > 0 && cfg.Refuse() {
		return d, all, refusal(all)
	}
	return d, all, nil
}

// refusal is the error of a write refused for secrets.
func refusal(fs []redact.Finding) error {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.String()
	}
	return fmt.Errorf("%w: %w: %s ([secrets] on_hit = \"refuse\"; remove the secret and try again)", ErrBadInput, redact.ErrSecret, strings.Join(names, "; "))
}

// redactedTrailers are the commit-message trailers that say what a
// write redacted (never the secret).
func redactedTrailers(fs []redact.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "Covenant-Redacted: %s\n", f)
	}
	return b.String()
}

// reportRedactions says on the service's log (the CLI's stderr) what was
// redacted and where.
func (s *Service) reportRedactions(fs []redact.Finding) {
	for _, f := range fs {
		s.logf("redacted: %s", f)
	}
}

// ignoreRules are the built-in patterns and the working tree's
// .covenantignore.
func (s *Service) ignoreRules() (*gitstore.IgnoreRules, error) {
	r := &gitstore.IgnoreRules{}
	r.Add("built-in", builtinIgnore)
	top := s.WorkTree()
	if top == "" {
		return r, nil
	}
	b, err := os.ReadFile(filepath.Join(top, IgnoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	r.Add(IgnoreFile, string(b))
	return r, nil
}

// IgnoreCheck is the decision on a path (or on text from standard input):
// whether its content may be stored, which pattern decided, and what the
// secret rules find in its content.
type IgnoreCheck struct {
	Path     string           `json:"path"` // "-": text given, no path
	Ignored  bool             `json:"ignored"`
	Source   string           `json:"source,omitempty"` // built-in or .covenantignore
	Line     int              `json:"line,omitempty"`
	Pattern  string           `json:"pattern,omitempty"`
	Findings []redact.Finding `json:"findings"`
	Stored   bool             `json:"stored"` // a pin or handoff would store its content
}

// CheckIgnore explains what a write would do with a path of the working
// tree (slash-separated, relative to its top), or with content (path
// "-"): the .covenantignore decision and the secret findings. Content nil
// for a path reads the file, if it exists.
func (s *Service) CheckIgnore(rel string, content []byte) (*IgnoreCheck, error) {
	out := &IgnoreCheck{Path: rel, Findings: []redact.Finding{}}
	if rel != "-" {
		if s.WorkTree() == "" {
			return nil, ErrBare
		}
		r, err := s.ignoreRules()
		if err != nil {
			return nil, err
		}
		d := r.Decide(rel, false)
		out.Ignored, out.Source, out.Line, out.Pattern = d.Ignored, d.Source, d.Line, d.Pattern
		if content == nil && !d.Ignored {
			b, err := s.store().ReadWorkFile(rel)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			content = b
		}
	}
	if _, fs := redact.Bytes(out.Path, content); len(fs) > 0 {
		out.Findings = fs
	}
	out.Stored = !out.Ignored && len(out.Findings) == 0
	return out, nil
}

// storable decides whether a pinned file's content may be written as a
// blob: not when .covenantignore names its path or the secret rules find
// something in it. The pin still records the blob id. With on_hit =
// "refuse" such a file refuses the write.
func (s *Service) storable(cfg *config.Config, what, rel string, content []byte) (bool, error) {
	r, err := s.ignoreRules()
	if err != nil {
		return false, err
	}
	if d := r.Decide(rel, false); d.Ignored {
		if cfg.Refuse() {
			return false, fmt.Errorf("%w: %w: %s %s is ignored (%s line %d: %s)", ErrBadInput, redact.ErrSecret, what, rel, d.Source, d.Line, d.Pattern)
		}
		s.logf("not stored: %s %s is ignored (%s line %d: %s); only its blob id is recorded", what, rel, d.Source, d.Line, d.Pattern)
		return false, nil
	}
	if _, fs := redact.Bytes(what+" "+rel, content); len(fs) > 0 {
		if cfg.Refuse() {
			return false, refusal(fs)
		}
		for _, f := range fs {
			s.logf("not stored: %s (the file's content); only its blob id is recorded", f)
		}
		return false, nil
	}
	return true, nil
}
