package tokens_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/tokens"
)

func add(t *testing.T, f *tokens.File, name string, exp *time.Time) string {
	t.Helper()
	secret, hash, err := tokens.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := tokens.NewID()
	err = f.Update(func(ts []tokens.Token) ([]tokens.Token, error) {
		return append(ts, tokens.Token{ID: id, Name: name, Operator: "alice", Scopes: []string{"read"}, SHA256: hash, CreatedAt: t0, ExpiresAt: exp}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// The file keeps hashes only, mode 0600; a secret authenticates until it
// is rotated out, revoked or expired; a change by another handle (another
// process) is seen at the next call.
func TestFile(t *testing.T) {
	dir := t.TempDir()
	f, other := tokens.NewFile(dir), tokens.NewFile(dir)
	exp := t0.Add(time.Hour)
	s1 := add(t, f, "one", nil)
	s2 := add(t, f, "two", &exp)
	raw, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), s1) || strings.Contains(string(raw), s2) || strings.Contains(string(raw), tokens.SecretPrefix) {
		t.Fatalf("the token file holds a secret:\n%s", raw)
	}
	if !strings.Contains(string(raw), tokens.Hash(s1)) {
		t.Fatalf("the token file lacks the hash:\n%s", raw)
	}
	if fi, _ := os.Stat(f.Path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if tk, err := f.Authenticate(s1, t0); err != nil || tk.Name != "one" {
		t.Fatalf("authenticate: %v %+v", err, tk)
	}
	if tk, err := f.Authenticate(s2, t0); err != nil || tk.Name != "two" {
		t.Fatalf("authenticate: %v %+v", err, tk)
	}
	for name, s := range map[string]string{"empty": "", "unknown": "gcvt_nope", "a hash": tokens.Hash(s1), "truncated": s1[:len(s1)-1]} {
		if _, err := f.Authenticate(s, t0); !errors.Is(err, tokens.ErrRefused) {
			t.Errorf("%s secret: %v", name, err)
		}
	}
	if _, err := f.Authenticate(s2, exp); !errors.Is(err, tokens.ErrRefused) {
		t.Errorf("expired: %v", err)
	}
	// Another handle revokes one: refused at once, here.
	now := t0
	if err := other.Update(func(ts []tokens.Token) ([]tokens.Token, error) {
		i, err := tokens.Find(ts, "one")
		if err != nil {
			return nil, err
		}
		ts[i].RevokedAt = &now
		return ts, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate(s1, t0); !errors.Is(err, tokens.ErrRefused) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked: %v", err)
	}
	if _, err := tokens.Find(mustLoad(t, f), "one"); !errors.Is(err, tokens.ErrNoSuchToken) {
		t.Errorf("a revoked token is found by name: %v", err)
	}
	// A malformed file is an error, never an open door.
	if err := os.WriteFile(f.Path, []byte(`{"version":1,"tokens":[{"id":"tok-aaaaaaaaaaaa","name":"x","operator":"a","sha256":"","scopes":[]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate("", t0); !errors.Is(err, tokens.ErrFile) {
		t.Errorf("malformed file: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 { // tokens.json and its lock
		t.Errorf("left behind: %v", entries)
	}
}

// Concurrent updates from several handles lose nothing.
func TestFileConcurrentUpdates(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			add(t, tokens.NewFile(dir), "t"+string(rune('a'+i)), nil)
		}(i)
	}
	wg.Wait()
	if ts := mustLoad(t, tokens.NewFile(dir)); len(ts) != 8 {
		t.Errorf("%d tokens, want 8", len(ts))
	}
	if _, err := os.Stat(filepath.Join(dir, tokens.FileName)); err != nil {
		t.Fatal(err)
	}
}

func mustLoad(t *testing.T, f *tokens.File) []tokens.Token {
	t.Helper()
	ts, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
