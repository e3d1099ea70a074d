package identity

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

var (
	// ErrNotFound means no identity of that name exists in the keystore.
	ErrNotFound = errors.New("no such identity")
	// ErrExists means an identity of that name already exists.
	ErrExists = errors.New("identity already exists")
	// ErrNoIdentity means the keystore is empty.
	ErrNoIdentity = errors.New("no identity yet")
	// ErrBadName means an identity name has characters outside [A-Za-z0-9._-].
	ErrBadName = errors.New("invalid identity name")
	// ErrBadRole means a role is not human, agent or daemon.
	ErrBadRole = errors.New("invalid role")
	// ErrBadKey means a key is unreadable, of the wrong type or malformed.
	ErrBadKey = errors.New("unusable key")
	// ErrInsecure means a key file or directory has permissions that let others read it, or is a symlink.
	ErrInsecure = errors.New("insecure key storage")
)

// InsecureError is an ErrInsecure about one file or directory: what is
// wrong with it and, where a chmod mends it, the command.
type InsecureError struct {
	Path   string
	Reason string // "has mode 0644", "is a symlink"
	Fix    string // "chmod 600 <path>", or "" when no chmod helps
}

func (e *InsecureError) Error() string {
	s := ErrInsecure.Error() + ": " + e.Path + " " + e.Reason
	if e.Fix != "" {
		s += "; run: " + e.Fix
	}
	return s
}

func (e *InsecureError) Unwrap() error { return ErrInsecure }

// shellQuote quotes a path for a POSIX shell when it needs it, so that a
// Fix can be pasted as it is.
func shellQuote(p string) string {
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%,=", r)) {
			return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
	}
	return p
}

// Role is what kind of actor an identity is.
type Role string

const (
	Human  Role = "human"
	Agent  Role = "agent"
	Daemon Role = "daemon"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Human, Agent, Daemon:
		return r, nil
	}
	return "", fmt.Errorf("%w %q (want human, agent or daemon)", ErrBadRole, s)
}

var nameRE = &lazyre.Regexp{Expr: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`}

// CheckName validates an identity name.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrBadName, name)
	}
	return nil
}

// Identity is a named key in the local keystore.
type Identity struct {
	Name      string
	Role      Role
	Created   time.Time
	PublicKey ssh.PublicKey
}

// KeyID is the identity's key id.
func (id *Identity) KeyID() string { return KeyID(id.PublicKey) }

// AuthorizedKey is the public key as one OpenSSH line with the name as comment.
func (id *Identity) AuthorizedKey() string { return FormatPublicKey(id.PublicKey) + " " + id.Name }

// KeyID names a public key: the first 32 hex digits of the SHA-256 of its
// SSH wire encoding. It names the key's feed ref.
func KeyID(pub ssh.PublicKey) string {
	sum := sha256.Sum256(pub.Marshal())
	return hex.EncodeToString(sum[:16])
}

// FormatPublicKey returns "ssh-ed25519 AAAA…" without a comment.
func FormatPublicKey(pub ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

// ParsePublicKey accepts one OpenSSH public key line ("ssh-ed25519 AAAA…
// [comment]") and returns the key; other key types are refused.
func ParsePublicKey(s string) (ssh.PublicKey, error) {
	pub, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(s)))
	if err != nil {
		return nil, fmt.Errorf("%w: not an OpenSSH public key line: %v", ErrBadKey, err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, fmt.Errorf("%w: more than one key given", ErrBadKey)
	}
	if pub.Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("%w: %s keys are not supported, use ssh-ed25519", ErrBadKey, pub.Type())
	}
	return pub, nil
}

// NewSigner wraps an ed25519 private key as an ssh.Signer.
func NewSigner(priv ed25519.PrivateKey) (ssh.Signer, error) {
	return ssh.NewSignerFromKey(priv)
}
