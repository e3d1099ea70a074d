package covenant

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/trust"
)

// InitResult says what Init did.
type InitResult struct {
	Already         bool   `json:"already"`
	Identity        string `json:"identity"`
	KeyID           string `json:"key_id"`
	CreatedIdentity bool   `json:"created_identity"`
	Committed       bool   `json:"committed"`
	ConfigPath      string `json:"config"`
}

// ErrBare means the command needs a working tree.
var ErrBare = errors.New("this command needs a working tree, not a bare repository")

var nonName = &lazyre.Regexp{Expr: `[^A-Za-z0-9._-]+`}

// DefaultName suggests an identity name from the login name.
func DefaultName(getenv func(string) string) string {
	n := strings.Trim(nonName.ReplaceAllString(getenv("USER"), "-"), "-._")
	if n == "" {
		return "owner"
	}
	return n
}

// InitRequest says how to initialize a repository.
type InitRequest struct {
	// Name is the identity to use or create; "" means the acting one,
	// else one named after $USER.
	Name string
	// NoCommit stages the config without committing it.
	NoCommit bool
}

// Init makes the repository a covenant repository: an identity (created if
// the keystore has none), a config naming it as trust root, committed on the
// current branch unless NoCommit, and the identity's genesis op.
func (s *Service) Init(ctx context.Context, req InitRequest) (*InitResult, error) {
	st := s.store()
	if st.WorkTree == "" {
		return nil, ErrBare
	}
	res := &InitResult{ConfigPath: config.Path}
	cfg, err := s.Config()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		res.Already = true
		if id, err := s.Actor(""); err == nil {
			res.Identity, res.KeyID = id.Name, id.KeyID
		}
		return res, nil
	}
	name := req.Name
	if name != "" {
		s = s.As(name)
	}
	id, err := s.Actor("")
	switch {
	case errors.Is(err, identity.ErrNoIdentity) || errors.Is(err, identity.ErrNotFound):
		if name == "" {
			name = DefaultName(s.c.getenv)
		}
		created, err := s.c.keys.New(name, identity.Human, s.now())
		if err != nil {
			return nil, err
		}
		s = s.As(created.Name)
		if id, err = s.Actor(""); err != nil {
			return nil, err
		}
		res.CreatedIdentity = true
	case err != nil:
		return nil, err
	}
	res.Identity, res.KeyID = id.Name, id.KeyID
	cfg = config.New(trust.Root{Name: id.Name, Key: id.Key})
	raw, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	if _, err := config.Parse(raw); err != nil {
		return nil, err
	}
	path := filepath.Join(st.WorkTree, filepath.FromSlash(config.Path))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return nil, err
	}
	if err := s.gitCommitConfig(ctx, id, req.NoCommit); err != nil {
		os.Remove(path)
		return nil, err
	}
	res.Committed = !req.NoCommit
	if _, err := s.write(ctx, func(*index.Tx, *trust.Actor) ([]Draft, error) { return nil, nil }, nil); err != nil {
		return nil, err
	}
	return res, nil
}

// gitCommitConfig stages the config and commits it alone, with the git
// binary so the user's hooks and commit signing apply.
func (s *Service) gitCommitConfig(ctx context.Context, id *Actor, noCommit bool) error {
	if err := s.git(ctx, nil, "add", "--", config.Path); err != nil {
		return err
	}
	if noCommit {
		return nil
	}
	var env []string
	if err := s.git(ctx, nil, "config", "user.email"); err != nil {
		email := id.KeyID + "@covenant.invalid"
		env = []string{"GIT_AUTHOR_NAME=" + id.Name, "GIT_AUTHOR_EMAIL=" + email, "GIT_COMMITTER_NAME=" + id.Name, "GIT_COMMITTER_EMAIL=" + email}
	}
	return s.git(ctx, env, "commit", "-q", "-m", "covenant: initialize with trust root "+id.Name, "--", config.Path)
}

// git runs the git binary in the working tree with the service's
// environment plus env.
func (s *Service) git(ctx context.Context, env []string, args ...string) error {
	_, err := s.store().Git().WithDir(s.store().WorkTree).WithEnv(env...).Output(ctx, args)
	return err
}

// RegisterIdentity records that a key belongs to a named identity with a
// role (an identity.admin op), and grants it scopes in the same write.
func (s *Service) RegisterIdentity(ctx context.Context, name string, role identity.Role, key string, scopes []string) (*trust.Actor, error) {
	pub, err := identity.ParsePublicKey(key)
	if err != nil {
		return nil, err
	}
	req := GrantRequest{To: name, Scopes: scopes}
	keyID := identity.KeyID(pub)
	_, err = s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		ds := []Draft{{Type: trust.OpRegister, Summary: name + " (" + string(role) + ")",
			Body: trust.IdentityBody{Name: name, Role: string(role), Key: identity.FormatPublicKey(pub)}}}
		if len(scopes) > 0 {
			parent, err := parentFor(tx, me, req)
			if err != nil {
				return nil, err
			}
			ds = append(ds, Draft{Type: trust.OpGrant, Body: req.body(parent), Summary: name + ": " + strings.Join(scopes, " ")})
		}
		return ds, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	var a *trust.Actor
	err = s.read(ctx, func(ix *index.Index) (err error) {
		a, err = ix.Actor(keyID)
		return err
	})
	return a, err
}

// AllowedSigners renders an allowed-signers file (see ssh-keygen(1)) of
// every key any identity ever had, for `git verify-commit` with
// gpg.ssh.allowedSignersFile: a key registered or rotated in is valid from
// that op's time, a key rotated out or revoked until that op's time. git
// checks these against the commit's committer date, which the signer
// chooses; the fold's cut-off is what really holds (ADR 0011).
func (s *Service) AllowedSigners(ctx context.Context) (string, error) {
	var actors []*trust.Actor
	err := s.read(ctx, func(ix *index.Index) (err error) {
		actors, err = ix.Actors()
		return err
	})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	stamp := func(t time.Time) string { return t.UTC().Format("20060102150405") + "Z" }
	for _, a := range actors {
		if !a.Known() || a.Key == "" {
			continue
		}
		opts := `namespaces="git"`
		if a.Since != nil {
			opts += `,valid-after="` + stamp(*a.Since) + `"`
		}
		if a.Retired != "" && a.RetiredAt != nil {
			until := *a.RetiredAt
			if a.Since != nil && !until.After(*a.Since) {
				until = a.Since.Add(time.Second) // ssh-keygen wants before > after; both are inclusive
			}
			opts += `,valid-before="` + stamp(until) + `"`
		}
		fmt.Fprintf(&b, "%s %s %s\n", a.Name, opts, a.Key)
	}
	return b.String(), nil
}
