package remote

import (
	"fmt"
	"strings"

	"github.com/git-covenant/git-covenant/gitstore"
)

// ConfigLine is one value of a multi-valued git config key.
type ConfigLine struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SetupResult says what Setup or Undo changed.
type SetupResult struct {
	Remote  string       `json:"remote"`
	URL     string       `json:"url"`
	Added   []ConfigLine `json:"added"`
	Removed []ConfigLine `json:"removed"`
}

// recordKey lists, in the remote's own config section, every value setup
// added ("fetch <refspec>" or "push <refspec>"), so that --undo removes
// exactly those and nothing the user configured.
const recordKey = "covenantAdded"

// URL returns the remote's URL, or ErrUnknownRemote.
func (g *Git) URL(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	res, err := g.run("remote", "get-url", name)
	if err != nil {
		return "", err
	}
	if res.code != 0 {
		if strings.Contains(string(res.stderr), "No such remote") {
			return "", fmt.Errorf("%w %q (see 'git remote -v')", ErrUnknownRemote, name)
		}
		return "", res.err([]string{"remote"})
	}
	return strings.TrimSpace(string(res.stdout)), nil
}

// Remotes returns the names of the configured remotes.
func (g *Git) Remotes() ([]string, error) {
	out, err := g.must("remote")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// getAll returns the values of a multi-valued config key.
func (g *Git) getAll(key string) ([]string, error) {
	res, err := g.run("config", "--get-all", key)
	if err != nil {
		return nil, err
	}
	switch res.code {
	case 0:
		return strings.Split(strings.TrimRight(string(res.stdout), "\n"), "\n"), nil
	case 1:
		return nil, nil // no such key
	}
	return nil, res.err([]string{"config"})
}

// wantedSpecs are the refspecs setup adds: fetch feeds and lease markers
// into the staging namespace (forced there, so staging mirrors the remote
// even after a rewrite; sync decides what moves locally) and notes beside
// them; push feeds and notes, never forced, so a remote that diverged
// refuses the push instead of losing history.
func wantedSpecs(name string) (fetch, push []string) {
	s := stageOf(name)
	fetch = []string{
		"+" + gitstore.FeedPrefix + "*:" + s.feeds() + "*",
		"+" + LeasePrefix + "*:" + s.leases() + "*",
		"+" + NotesRef + "*:" + s.notes() + "*",
	}
	// Patterns for notes: an exact source that does not exist (yet) would
	// make every plain `git fetch` and `git push` fail.
	push = []string{gitstore.FeedPrefix + "*:" + gitstore.FeedPrefix + "*", NotesRef + "*:" + NotesRef + "*"}
	return fetch, push
}

// Setup adds the covenant refspecs to a remote's configuration, skipping
// any already there. When the remote had no push refspecs it also adds
// HEAD, because configured push refspecs replace push.default and plain
// `git push` would otherwise stop pushing the current branch.
func Setup(g *Git, name string) (*SetupResult, error) {
	url, err := g.URL(name)
	if err != nil {
		return nil, err
	}
	res := &SetupResult{Remote: name, URL: url, Added: []ConfigLine{}, Removed: []ConfigLine{}}
	fetch, push := wantedSpecs(name)
	section := "remote." + name + "."
	haveFetch, err := g.getAll(section + "fetch")
	if err != nil {
		return nil, err
	}
	havePush, err := g.getAll(section + "push")
	if err != nil {
		return nil, err
	}
	if len(havePush) == 0 {
		push = append([]string{"HEAD"}, push...)
	}
	add := func(kind string, want, have []string) error {
		for _, spec := range want {
			if contains(have, spec) {
				continue
			}
			if _, err := g.must("config", "--add", section+kind, spec); err != nil {
				return err
			}
			if _, err := g.must("config", "--add", section+recordKey, kind+" "+spec); err != nil {
				return err
			}
			res.Added = append(res.Added, ConfigLine{Key: section + kind, Value: spec})
		}
		return nil
	}
	if err := add("fetch", fetch, haveFetch); err != nil {
		return nil, err
	}
	if err := add("push", push, havePush); err != nil {
		return nil, err
	}
	return res, nil
}

// Undo removes exactly the config values Setup added to a remote.
func Undo(g *Git, name string) (*SetupResult, error) {
	url, err := g.URL(name)
	if err != nil {
		return nil, err
	}
	res := &SetupResult{Remote: name, URL: url, Added: []ConfigLine{}, Removed: []ConfigLine{}}
	section := "remote." + name + "."
	added, err := g.getAll(section + recordKey)
	if err != nil {
		return nil, err
	}
	for _, line := range added {
		kind, spec, ok := strings.Cut(line, " ")
		if !ok || (kind != "fetch" && kind != "push") {
			continue
		}
		r, err := g.run("config", "--fixed-value", "--unset-all", section+kind, spec)
		if err != nil {
			return nil, err
		}
		switch r.code {
		case 0:
			res.Removed = append(res.Removed, ConfigLine{Key: section + kind, Value: spec})
		case 5: // already gone: the user removed it
		default:
			return nil, r.err([]string{"config"})
		}
	}
	if len(added) > 0 {
		if _, err := g.must("config", "--unset-all", section+recordKey); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// MissingSpecs returns the covenant refspecs that Setup would add to a
// remote's configuration and that are not there, so that a plain `git
// fetch` or `git push` carries covenant state too (sync itself names its
// refspecs and does not need them).
func MissingSpecs(g *Git, name string) ([]ConfigLine, error) {
	if _, err := g.URL(name); err != nil {
		return nil, err
	}
	fetch, push := wantedSpecs(name)
	section := "remote." + name + "."
	var out []ConfigLine
	for _, kind := range []struct {
		key  string
		want []string
	}{{"fetch", fetch}, {"push", push}} {
		have, err := g.getAll(section + kind.key)
		if err != nil {
			return nil, err
		}
		for _, spec := range kind.want {
			if !contains(have, spec) {
				out = append(out, ConfigLine{Key: section + kind.key, Value: spec})
			}
		}
	}
	return out, nil
}
