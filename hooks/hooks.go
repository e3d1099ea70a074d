package hooks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Marker identifies hooks written by git-covenant.
const Marker = "# installed by git-covenant"

// chainSuffix names the hook that was there before ours.
const chainSuffix = ".covenant-chained"

// ErrForeignHook means a hook exists that git-covenant did not write and
// cannot chain to.
var ErrForeignHook = errors.New("a hook that git-covenant did not install is in the way")

// Scripts returns the hooks git-covenant installs, by name (built when
// asked, not at every process start).
func Scripts() map[string]string {
	return map[string]string{
		"prepare-commit-msg": `#!/bin/sh
` + Marker + `: adds Covenant-Task and Covenant-Lease trailers
# for the task started in this working tree. Remove with: git covenant hooks uninstall
if [ -x "$0` + chainSuffix + `" ]; then "$0` + chainSuffix + `" "$@" || exit $?; fi
git covenant task trailers --hook "$1" >/dev/null 2>&1 || true
`,
		"pre-push": prePush,
	}
}

// Result says what Install or Uninstall did to one hook.
type Result struct {
	Hook    string `json:"hook"`
	Path    string `json:"path"`
	Action  string `json:"action"` // installed, chained, replaced, unchanged, removed, restored, absent
	Chained string `json:"chained,omitempty"`
}

func ours(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), Marker)
}

// Install writes every hook into dir. An existing hook of ours is updated;
// a foreign one is moved aside and chained to, or replaced when force.
func Install(dir string, force bool) ([]Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []Result
	for name, script := range Scripts() {
		p := filepath.Join(dir, name)
		res := Result{Hook: name, Path: p, Action: "installed"}
		if _, err := os.Lstat(p); err == nil {
			switch {
			case ours(p):
				if b, _ := os.ReadFile(p); string(b) == script {
					res.Action = "unchanged"
					out = append(out, res)
					continue
				}
			case force:
				res.Action = "replaced"
			default:
				if _, err := os.Lstat(p + chainSuffix); err == nil {
					return nil, fmt.Errorf("%w: %s (and %s exists); use --force to replace it", ErrForeignHook, p, p+chainSuffix)
				}
				if err := os.Rename(p, p+chainSuffix); err != nil {
					return nil, err
				}
				res.Action, res.Chained = "chained", p+chainSuffix
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, p); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// Uninstall removes our hooks from dir and puts chained ones back.
func Uninstall(dir string) ([]Result, error) {
	var out []Result
	for name := range Scripts() {
		p := filepath.Join(dir, name)
		res := Result{Hook: name, Path: p, Action: "absent"}
		if ours(p) {
			if err := os.Remove(p); err != nil {
				return nil, err
			}
			res.Action = "removed"
			if _, err := os.Lstat(p + chainSuffix); err == nil {
				if err := os.Rename(p+chainSuffix, p); err != nil {
					return nil, err
				}
				res.Action = "restored"
			}
		} else if _, err := os.Lstat(p); err == nil {
			res.Action = "unchanged"
		}
		out = append(out, res)
	}
	return out, nil
}

// Inspect says, without changing anything, what each hook in dir is:
// "installed" (ours and current), "outdated" (ours, an older version),
// "foreign" (a hook git-covenant did not write; Install would chain to
// it) or "absent". Chained names the hook ours runs first, if any.
func Inspect(dir string) []Result {
	var out []Result
	for name, script := range Scripts() {
		p := filepath.Join(dir, name)
		res := Result{Hook: name, Path: p, Action: "absent"}
		if b, err := os.ReadFile(p); err == nil {
			switch {
			case string(b) == script:
				res.Action = "installed"
			case strings.Contains(string(b), Marker):
				res.Action = "outdated"
			default:
				res.Action = "foreign"
			}
			if _, err := os.Lstat(p + chainSuffix); err == nil && res.Action != "foreign" {
				res.Chained = p + chainSuffix
			}
		} else if _, err := os.Lstat(p); err == nil {
			res.Action = "foreign" // there, but unreadable
		}
		out = append(out, res)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hook < out[j].Hook })
	return out
}
