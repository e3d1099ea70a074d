package covenant

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/hooks"
)

// ConfigEdit changes one key of .covenant/config.toml.
type ConfigEdit struct {
	Key string
	// Value sets the key (a list is given comma-separated).
	Value *string
	// Add appends items to a list key.
	Add []string
	// Unset removes the key.
	Unset bool
}

// configFile reads the working tree's config file.
func (s *Service) configFile() (string, []byte, error) {
	top := s.WorkTree()
	if top == "" {
		return "", nil, fmt.Errorf("%w: config needs a working tree", ErrBare)
	}
	path := filepath.Join(top, filepath.FromSlash(config.Path))
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("%w: no %s", ErrNotCovenant, config.Path)
	}
	return path, raw, err
}

// ConfigGet returns the value of a config key, a list one item each.
func (s *Service) ConfigGet(key string) ([]string, error) {
	k, err := config.LookupKey(key)
	if err != nil {
		return nil, err
	}
	_, raw, err := s.configFile()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		return nil, err
	}
	return cfg.Get(k.Name)
}

// ConfigSet edits one key of the working tree's config, touching only the
// key's lines; the whole file is validated first, and an invalid value is
// refused with the file left unchanged. The file is replaced atomically.
func (s *Service) ConfigSet(e ConfigEdit) error {
	k, err := config.LookupKey(e.Key)
	if err != nil {
		return err
	}
	path, raw, err := s.configFile()
	if err != nil {
		return err
	}
	var value any
	switch {
	case e.Unset:
	case len(e.Add) > 0:
		cfg, err := config.Parse(raw)
		if err != nil {
			return err
		}
		cur, err := cfg.Get(k.Name)
		if err != nil {
			return err
		}
		value = append(cur, e.Add...)
	case e.Value != nil:
		vals := []string{*e.Value}
		if k.Kind == "list" {
			vals = vals[:0]
			for _, v := range strings.Split(*e.Value, ",") {
				if v = strings.TrimSpace(v); v == "" {
					return fmt.Errorf("%w: %s = %q: an empty item (use --unset to clear the list)", config.ErrInvalid, k.Name, *e.Value)
				}
				vals = append(vals, v)
			}
		}
		if value, err = config.ParseValue(k, vals); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: give a value, items to add or unset", ErrBadInput)
	}
	out, err := config.Set(raw, k.Name, value)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, info.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// InstallHooks installs git-covenant's git hooks where git looks for them
// (core.hooksPath and worktrees honoured); see hooks.Install.
func (s *Service) InstallHooks(ctx context.Context, force bool) ([]hooks.Result, error) {
	dir, err := s.hooksDir(ctx)
	if err != nil {
		return nil, err
	}
	return hooks.Install(dir, force)
}

// UninstallHooks removes the hooks and restores the ones they chained to.
func (s *Service) UninstallHooks(ctx context.Context) ([]hooks.Result, error) {
	dir, err := s.hooksDir(ctx)
	if err != nil {
		return nil, err
	}
	return hooks.Uninstall(dir)
}

// HookGit returns the git a hook's checks run (hooks.PushCommits, the
// commit-message trailers): the service's git executor in dir (where the
// hook runs, so relative remote URLs resolve there), with trimmed stdout.
func (s *Service) HookGit(ctx context.Context, dir string) hooks.Git {
	g := s.store().Git().WithDir(dir)
	return func(args ...string) (string, error) {
		out, err := g.Output(ctx, args)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(out)), nil
	}
}

// hooksDir asks git where hooks live, honouring core.hooksPath and worktrees.
func (s *Service) hooksDir(ctx context.Context) (string, error) {
	dir := s.gitWorkDir()
	out, err := s.store().Git().WithDir(dir).Output(ctx, []string{"rev-parse", "--git-path", "hooks"})
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(out))
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p, nil
}
