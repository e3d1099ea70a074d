package identity

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestKeystoreNewListDefault(t *testing.T) {
	ks := &Keystore{Dir: filepath.Join(t.TempDir(), "ks")}
	if _, err := ks.Default(); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("empty keystore default: %v", err)
	}
	a, err := ks.New("alice", Human, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.New("bot", Agent, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.New("alice", Agent, now); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	ids, err := ks.List()
	if err != nil || len(ids) != 2 || ids[0].Name != "alice" || ids[1].Role != Agent {
		t.Fatalf("list: %v %v", ids, err)
	}
	if d, _ := ks.Default(); d != "alice" {
		t.Fatalf("default %q, want the first created", d)
	}
	s, err := ks.Signer("alice")
	if err != nil {
		t.Fatal(err)
	}
	if KeyID(s.PublicKey()) != a.KeyID() {
		t.Fatal("signer key differs from the public key")
	}
	for _, p := range []string{ks.Dir, filepath.Join(ks.Dir, "identities", "alice")} {
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %o", p, fi.Mode().Perm())
		}
	}
	fi, _ := os.Stat(filepath.Join(ks.Dir, "identities", "alice", "key"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %o", fi.Mode().Perm())
	}
}

func TestSignerRefusesInsecureKeys(t *testing.T) {
	// A space in the path: the fix must still name the whole of it.
	ks := &Keystore{Dir: filepath.Join(t.TempDir(), "key store")}
	if _, err := ks.New("alice", Human, now); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(ks.Dir, "identities", "alice", "key")

	os.Chmod(key, 0o644)
	_, err := ks.Signer("alice")
	var ie *InsecureError
	if !errors.Is(err, ErrInsecure) || !errors.As(err, &ie) {
		t.Errorf("world-readable key: %v", err)
	} else if want := "chmod 600 '" + key + "'"; ie.Fix != want || ie.Path != key {
		t.Errorf("world-readable key: fix %q for %s, want %q for %s", ie.Fix, ie.Path, want, key)
	}
	os.Chmod(key, 0o640)
	if _, err := ks.Signer("alice"); !errors.Is(err, ErrInsecure) {
		t.Errorf("group-readable key: %v", err)
	}
	os.Chmod(key, 0o600)

	os.Chmod(ks.Dir, 0o755)
	if _, err := ks.Signer("alice"); !errors.As(err, &ie) || ie.Fix != "chmod 700 '"+ks.Dir+"'" {
		t.Errorf("open keystore directory: %v", err)
	}
	os.Chmod(ks.Dir, 0o700)

	real := filepath.Join(t.TempDir(), "real-key")
	b, _ := os.ReadFile(key)
	os.WriteFile(real, b, 0o600)
	os.Remove(key)
	os.Symlink(real, key)
	if _, err := ks.Signer("alice"); !errors.Is(err, ErrInsecure) {
		t.Errorf("symlinked key: %v", err)
	}
	os.Remove(key)
	if _, err := ks.Signer("alice"); !errors.Is(err, ErrBadKey) {
		t.Errorf("missing key: %v", err)
	}
	os.WriteFile(key, []byte("not a key"), 0o600)
	if _, err := ks.Signer("alice"); !errors.Is(err, ErrBadKey) {
		t.Errorf("garbage key: %v", err)
	}
	if _, err := ks.Signer("nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown identity: %v", err)
	}
}

func TestParsePublicKey(t *testing.T) {
	ks := &Keystore{Dir: filepath.Join(t.TempDir(), "ks")}
	id, _ := ks.New("alice", Human, now)
	pub, err := ParsePublicKey(id.AuthorizedKey())
	if err != nil || KeyID(pub) != id.KeyID() {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "ssh-ed25519", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 x", id.AuthorizedKey() + "\n" + id.AuthorizedKey()} {
		if _, err := ParsePublicKey(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParsePublicKey(%q): %v", bad, err)
		}
	}
	if err := CheckName("ok-name_1.x"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "-x", "a b", "a/b", string(make([]byte, 65))} {
		if err := CheckName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q): %v", bad, err)
		}
	}
}

func TestDefaultIsFirstCreatedEvenWithinOneSecond(t *testing.T) {
	ks := &Keystore{Dir: filepath.Join(t.TempDir(), "ks")}
	for _, n := range []string{"zed", "alice", "bob"} {
		if _, err := ks.New(n, Human, now); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := ks.Default(); d != "zed" {
		t.Fatalf("default %q, want zed, the first created", d)
	}
}
