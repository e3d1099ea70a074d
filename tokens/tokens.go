package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/trust"
)

// Op types this package folds.
const (
	OpCreate = "token.create"
	OpRotate = "token.rotate"
	OpRevoke = "token.revoke"
)

// Kind is the record kind tokens are stored under in the fold, by id.
const Kind = "token"

// ScopeRead is the scope of a token that may only read. Every token may
// read; a token made with read alone can do nothing else. It needs no
// capability: every identity of a repository may read it.
const ScopeRead = "read"

// SecretPrefix starts every secret, so a leaked one is recognizable (secret
// scanners, logs).
const SecretPrefix = "gcvt_"

// HashPrefixLen is how many hex digits of a token's SHA-256 ops record.
const HashPrefixLen = 12

var (
	// ErrBadToken means a token op's body or a token request is out of range.
	ErrBadToken = errors.New("invalid token")
	// ErrRefused means a presented secret matches no live token.
	ErrRefused = errors.New("token refused")
	// ErrNoSuchToken means no token has that name or id.
	ErrNoSuchToken = errors.New("no such token")
	// ErrNameTaken means a live token already has that name.
	ErrNameTaken = errors.New("token name taken")
	// ErrFile means the token file is unreadable or malformed.
	ErrFile = errors.New("token file")
)

var (
	idRE   = &lazyre.Regexp{Expr: `^tok-[0-9a-f]{12}$`}
	nameRE = &lazyre.Regexp{Expr: `^[a-z0-9][a-z0-9._-]{0,63}$`}
	hashRE = &lazyre.Regexp{Expr: `^[0-9a-f]{64}$`}
	prefRE = &lazyre.Regexp{Expr: `^[0-9a-f]{12}$`}
)

// ValidID reports whether s is a token id.
func ValidID(s string) bool { return idRE.MatchString(s) }

// CheckName validates a token name: 1 to 64 of a-z 0-9 . _ -, starting
// with a letter or digit.
func CheckName(s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%w: name %q (1-64 of a-z 0-9 . _ -, starting with a letter or digit)", ErrBadToken, s)
	}
	return nil
}

// NormalizeScopes checks each scope (read, or a scope package trust knows)
// and returns them sorted without duplicates; at least one is needed.
func NormalizeScopes(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%w: a token needs at least one scope (%s for reads only)", ErrBadToken, ScopeRead)
	}
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		if s != ScopeRead {
			if err := trust.CheckScope(s); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
			}
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out, nil
}

// NewID returns a fresh random token id.
func NewID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "tok-" + hex.EncodeToString(b[:]), nil
}

// NewSecret returns a fresh secret (256 random bits) and its hex SHA-256.
func NewSecret() (secret, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	secret = SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, Hash(secret), nil
}

// Hash is the hex SHA-256 of a secret, as the token file keeps it.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Token is a token as the token file keeps it: everything but the secret.
type Token struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Operator string   `json:"operator"` // the identity it acts for
	Scopes   []string `json:"scopes"`
	// SHA256 is the hex SHA-256 of the secret.
	SHA256    string     `json:"sha256"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RotatedAt *time.Time `json:"rotated_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Reason    string     `json:"reason,omitempty"` // why it was revoked
}

// HashPrefix is the part of the hash ops and listings show.
func (t *Token) HashPrefix() string { return t.SHA256[:HashPrefixLen] }

// Status is active, expired or revoked at now.
func (t *Token) Status(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// Allows reports whether the token carries scope. Every token may read.
func (t *Token) Allows(scope string) bool {
	if scope == ScopeRead {
		return true
	}
	for _, s := range t.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

func (t *Token) check() error {
	if !ValidID(t.ID) || CheckName(t.Name) != nil || t.Operator == "" || !hashRE.MatchString(t.SHA256) {
		return fmt.Errorf("%w: malformed entry %q", ErrFile, t.ID)
	}
	return nil
}

// Listed is a token as `token list` shows it: the hash prefix, never the
// whole hash.
type Listed struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Operator   string     `json:"operator"`
	Scopes     []string   `json:"scopes"`
	HashPrefix string     `json:"hash_prefix"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RotatedAt  *time.Time `json:"rotated_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Reason     string     `json:"reason,omitempty"`
}

// List turns a token into its listing at now.
func (t *Token) List(now time.Time) Listed {
	return Listed{ID: t.ID, Name: t.Name, Operator: t.Operator, Scopes: t.Scopes, HashPrefix: t.HashPrefix(), Status: t.Status(now),
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RotatedAt: t.RotatedAt, RevokedAt: t.RevokedAt, Reason: t.Reason}
}

// Issued is what create and rotate return: the listing and the secret,
// which is shown this once and kept nowhere.
type Issued struct {
	Listed
	Secret string `json:"secret"`
}

func matches(t *Token, nameOrID string) bool {
	return t.ID == nameOrID || (t.Name == nameOrID && t.RevokedAt == nil)
}

func trim(s string) string { return strings.TrimSpace(s) }
