package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/ssh"
)

// Keystore is a directory of identities:
//
//	<dir>/config.toml                 default identity
//	<dir>/identities/<name>/key       OpenSSH private key, 0600
//	<dir>/identities/<name>/key.pub   OpenSSH public key line
//	<dir>/identities/<name>/meta.toml name, role, creation time
//
// Directories are 0700.
type Keystore struct {
	Dir string
}

// DefaultDir resolves the keystore directory: $GIT_COVENANT_HOME, else
// $XDG_CONFIG_HOME/git-covenant, else $HOME/.config/git-covenant.
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv("GIT_COVENANT_HOME"); d != "" {
		return filepath.Abs(d)
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "git-covenant"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "git-covenant"), nil
	}
	return "", errors.New("cannot locate the keystore: set GIT_COVENANT_HOME or HOME")
}

type meta struct {
	Name    string    `toml:"name"`
	Role    string    `toml:"role"`
	Created time.Time `toml:"created"`
}

type storeConfig struct {
	Default string `toml:"default"`
}

func (k *Keystore) idDir(name string) string { return filepath.Join(k.Dir, "identities", name) }

func (k *Keystore) ensureDirs() error {
	for _, d := range []string{k.Dir, filepath.Join(k.Dir, "identities")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := checkDir(d); err != nil {
			return err
		}
	}
	return nil
}

// checkDir refuses a directory that others can read or enter.
func checkDir(d string) error {
	fi, err := os.Stat(d)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return &InsecureError{Path: d, Reason: fmt.Sprintf("has mode %04o", fi.Mode().Perm()), Fix: "chmod 700 " + shellQuote(d)}
	}
	return nil
}

// New creates an identity with a fresh ed25519 key.
func (k *Keystore) New(name string, role Role, now time.Time) (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return k.add(name, role, priv, now)
}

// Import brings an existing unencrypted OpenSSH ed25519 private key file in
// under a name.
func (k *Keystore) Import(name string, role Role, path string, now time.Time) (*Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	raw, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, fmt.Errorf("%w: %s is passphrase-protected, which is not supported; create a dedicated key with 'git covenant id new'", ErrBadKey, path)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKey, path, err)
	}
	var priv ed25519.PrivateKey
	switch p := raw.(type) {
	case ed25519.PrivateKey:
		priv = p
	case *ed25519.PrivateKey:
		priv = *p
	default:
		return nil, fmt.Errorf("%w: %s is a %T key; only ed25519 is supported", ErrBadKey, path, raw)
	}
	return k.add(name, role, priv, now)
}

func (k *Keystore) add(name string, role Role, priv ed25519.PrivateKey, now time.Time) (*Identity, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	if err := k.ensureDirs(); err != nil {
		return nil, err
	}
	signer, err := NewSigner(priv)
	if err != nil {
		return nil, err
	}
	pub := signer.PublicKey()
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		return nil, err
	}
	// Write into a temporary directory and rename it into place, so a
	// crash leaves no half-made identity and a concurrent New of the same
	// name fails cleanly.
	tmp, err := os.MkdirTemp(filepath.Join(k.Dir, "identities"), ".new-"+name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	id := &Identity{Name: name, Role: role, Created: now.UTC(), PublicKey: pub}
	m := meta{Name: name, Role: string(role), Created: id.Created}
	var mb strings.Builder
	if err := toml.NewEncoder(&mb).Encode(m); err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"key", pem.EncodeToMemory(block), 0o600},
		{"key.pub", []byte(id.AuthorizedKey() + "\n"), 0o644},
		{"meta.toml", []byte(mb.String()), 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(tmp, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(tmp, k.idDir(name)); err != nil {
		if _, statErr := os.Stat(k.idDir(name)); statErr == nil {
			return nil, fmt.Errorf("%w: %s", ErrExists, name)
		}
		return nil, err
	}
	// The first identity becomes the default, recorded so that later ones
	// (even made within the same second) never displace it.
	var c storeConfig
	if _, err := toml.DecodeFile(filepath.Join(k.Dir, "config.toml"), &c); err != nil || c.Default == "" {
		if err := k.SetDefault(name); err != nil {
			return nil, err
		}
	}
	return id, nil
}

// Get loads an identity's public half.
func (k *Keystore) Get(name string) (*Identity, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	d := k.idDir(name)
	var m meta
	if _, err := toml.DecodeFile(filepath.Join(d, "meta.toml"), &m); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return nil, fmt.Errorf("%w: %s/meta.toml: %v", ErrBadKey, d, err)
	}
	b, err := os.ReadFile(filepath.Join(d, "key.pub"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	pub, err := ParsePublicKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s/key.pub: %w", d, err)
	}
	role, err := ParseRole(m.Role)
	if err != nil {
		return nil, fmt.Errorf("%s/meta.toml: %w", d, err)
	}
	return &Identity{Name: name, Role: role, Created: m.Created, PublicKey: pub}, nil
}

// List returns every identity, oldest first.
func (k *Keystore) List() ([]*Identity, error) {
	entries, err := os.ReadDir(filepath.Join(k.Dir, "identities"))
	if errors.Is(err, fs.ErrNotExist) {
		return []*Identity{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []*Identity{}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		id, err := k.Get(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Default returns the name of the default identity: the first one created,
// unless changed with SetDefault.
func (k *Keystore) Default() (string, error) {
	var c storeConfig
	if _, err := toml.DecodeFile(filepath.Join(k.Dir, "config.toml"), &c); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", filepath.Join(k.Dir, "config.toml"), err)
	}
	if c.Default != "" {
		if _, err := os.Stat(k.idDir(c.Default)); err == nil {
			return c.Default, nil
		}
	}
	ids, err := k.List()
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", ErrNoIdentity
	}
	return ids[0].Name, nil
}

// SetDefault records the default identity.
func (k *Keystore) SetDefault(name string) error {
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(storeConfig{Default: name}); err != nil {
		return err
	}
	p := filepath.Join(k.Dir, "config.toml")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// Signer loads an identity's private key, refusing symlinked key files and
// files or directories that anyone but the owner can read.
func (k *Keystore) Signer(name string) (ssh.Signer, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	d := k.idDir(name)
	if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	for _, dir := range []string{k.Dir, d} {
		if err := checkDir(dir); err != nil {
			return nil, err
		}
	}
	p := filepath.Join(d, "key")
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &InsecureError{Path: p, Reason: "is a symlink"}
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadKey, p)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, &InsecureError{Path: p, Reason: fmt.Sprintf("has mode %04o", fi.Mode().Perm()), Fix: "chmod 600 " + shellQuote(p)}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	raw, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKey, p, err)
	}
	var priv ed25519.PrivateKey
	switch pk := raw.(type) {
	case ed25519.PrivateKey:
		priv = pk
	case *ed25519.PrivateKey:
		priv = *pk
	default:
		return nil, fmt.Errorf("%w: %s is not an ed25519 key", ErrBadKey, p)
	}
	return NewSigner(priv)
}

// Staged is a new key made for a rotation, not yet in use.
type Staged struct {
	Path      string // private key file
	PublicKey ssh.PublicKey
}

// StageRotation makes a new key for name beside the current one.
func (k *Keystore) StageRotation(name string, now time.Time) (*Staged, error) {
	if _, err := k.Get(name); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(k.idDir(name), ".rotate-")
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "key")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	signer, err := NewSigner(priv)
	if err != nil {
		return nil, err
	}
	return &Staged{Path: p, PublicKey: signer.PublicKey()}, nil
}

// CommitRotation switches name to the staged key, keeping the old private
// key as key.rotated-<unix time>.
func (k *Keystore) CommitRotation(name string, s *Staged, now time.Time) error {
	d := k.idDir(name)
	old := filepath.Join(d, fmt.Sprintf("key.rotated-%d", now.Unix()))
	if err := os.Rename(filepath.Join(d, "key"), old); err != nil {
		return err
	}
	if err := os.Rename(s.Path, filepath.Join(d, "key")); err != nil {
		os.Rename(old, filepath.Join(d, "key"))
		return err
	}
	os.Remove(filepath.Dir(s.Path))
	id := &Identity{Name: name, PublicKey: s.PublicKey}
	return os.WriteFile(filepath.Join(d, "key.pub"), []byte(id.AuthorizedKey()+"\n"), 0o644)
}
