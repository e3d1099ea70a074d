package covenant

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/trust"
)

// InitResult says what Init did.
type InitResult struct {
	Already         bool               `json:"already"`
	Identity        string             `json:"identity"`
	KeyID           string             `json:"key_id"`
	CreatedIdentity bool               `json:"created_identity"`
	Committed       bool               `json:"committed"`
	ConfigPath      string             `json:"config"`
	Identities      *identity.Identity `json:"-"`
}

// ErrBare means the command needs a working tree.
var ErrBare = errors.New("this command needs a working tree, not a bare repository")

var nonName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// DefaultName suggests an identity name from the login name.
func DefaultName(getenv func(string) string) string {
	n := strings.Trim(nonName.ReplaceAllString(getenv("USER"), "-"), "-._")
	if n == "" {
		return "owner"
	}
	return n
}

// Init makes the repository a covenant repository: an identity (created if
// the keystore has none), a config naming it as trust root, committed on the
// current branch unless noCommit, and the identity's genesis op.
func (r *Repo) Init(name string, noCommit bool, getenv func(string) string) (*InitResult, error) {
	if r.Store.WorkTree == "" {
		return nil, ErrBare
	}
	res := &InitResult{ConfigPath: config.Path}
	if r.Config != nil {
		res.Already = true
		if id, err := r.Identity(); err == nil {
			res.Identity, res.KeyID = id.Name, id.KeyID()
		}
		return res, nil
	}
	if name != "" {
		r.As = name
	}
	id, err := r.Identity()
	switch {
	case errors.Is(err, identity.ErrNoIdentity) || errors.Is(err, identity.ErrNotFound):
		if name == "" {
			name = DefaultName(getenv)
		}
		if id, err = r.Keys.New(name, identity.Human, r.Now()); err != nil {
			return nil, err
		}
		r.As = id.Name
		res.CreatedIdentity = true
	case err != nil:
		return nil, err
	}
	if _, err := r.Keys.Signer(id.Name); err != nil {
		return nil, err
	}
	res.Identity, res.KeyID = id.Name, id.KeyID()
	cfg := config.New(trust.Root{Name: id.Name, Key: identity.FormatPublicKey(id.PublicKey)})
	raw, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	if _, err := config.Parse(raw); err != nil {
		return nil, err
	}
	path := filepath.Join(r.Store.WorkTree, filepath.FromSlash(config.Path))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return nil, err
	}
	r.Config = cfg
	if err := r.gitCommitConfig(id, noCommit); err != nil {
		os.Remove(path)
		r.Config = nil
		return nil, err
	}
	res.Committed = !noCommit
	if _, err := r.Write(func(*index.Tx, *trust.Actor) ([]Draft, error) { return nil, nil }); err != nil {
		return nil, err
	}
	return res, nil
}

// gitCommitConfig stages the config and commits it alone, with the git
// binary so the user's hooks and commit signing apply.
func (r *Repo) gitCommitConfig(id *identity.Identity, noCommit bool) error {
	if err := r.git(nil, "add", "--", config.Path); err != nil {
		return err
	}
	if noCommit {
		return nil
	}
	var env []string
	if err := r.git(nil, "config", "user.email"); err != nil {
		email := id.KeyID() + "@covenant.invalid"
		env = []string{"GIT_AUTHOR_NAME=" + id.Name, "GIT_AUTHOR_EMAIL=" + email, "GIT_COMMITTER_NAME=" + id.Name, "GIT_COMMITTER_EMAIL=" + email}
	}
	return r.git(env, "commit", "-q", "-m", "covenant: initialize with trust root "+id.Name, "--", config.Path)
}

func (r *Repo) git(env []string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Store.WorkTree
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// RegisterIdentity records that a key belongs to a named identity with a
// role (an identity.admin op), and grants it scopes in the same write.
func (r *Repo) RegisterIdentity(name string, role identity.Role, key string, scopes []string) (*trust.Actor, error) {
	pub, err := identity.ParsePublicKey(key)
	if err != nil {
		return nil, err
	}
	req := GrantRequest{To: name, Scopes: scopes}
	keyID := identity.KeyID(pub)
	_, err = r.Write(func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
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
	})
	if err != nil {
		return nil, err
	}
	ix, done, err := r.Read()
	if err != nil {
		return nil, err
	}
	defer done()
	return ix.Actor(keyID)
}

// AllowedSigners renders an allowed-signers file (see ssh-keygen(1)) of
// every key any identity ever had, for `git verify-commit` with
// gpg.ssh.allowedSignersFile: a key registered or rotated in is valid from
// that op's time, a key rotated out or revoked until that op's time. git
// checks these against the commit's committer date, which the signer
// chooses; the fold's cut-off is what really holds (ADR 0008).
func (r *Repo) AllowedSigners() (string, error) {
	ix, done, err := r.Read()
	if err != nil {
		return "", err
	}
	defer done()
	actors, err := ix.Actors()
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
