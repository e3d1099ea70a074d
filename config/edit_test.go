package config

import (
	"errors"
	"strings"
	"testing"
)

func TestSetTouchesOnlyItsKey(t *testing.T) {
	base := "# top\nversion = 1\n[provenance]\nrequire = [\n  \"refs/heads/main\", # ]\n]\nblob_rule = true # keep\n\n[[trust.roots]]\nname = \"alice\"\nkey = \"" + key + "\"\n"
	out, err := Set([]byte(base), "provenance.require", []string{"refs/heads/a"})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(base, "require = [\n  \"refs/heads/main\", # ]\n]\n", "require = [\"refs/heads/a\"]\n", 1)
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	// A new key goes at the end of its table, before the next one.
	out, err = Set(out, "provenance.commands", []string{`say "hi"\`})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "blob_rule = true # keep\ncommands = [\"say \\\"hi\\\"\\\\\"]\n\n[[trust.roots]]") {
		t.Fatalf("insert:\n%s", out)
	}
	c, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get("provenance.commands"); len(v) != 1 || v[0] != `say "hi"\` {
		t.Fatalf("round trip: %q", v)
	}
	// No [provenance] table: one is added.
	noTable := "version = 1\n[[trust.roots]]\nname = \"alice\"\nkey = \"" + key + "\"\n"
	out, err = Set([]byte(noTable), "provenance.blob_rule", true)
	if err != nil || !strings.HasSuffix(string(out), "\n[provenance]\nblob_rule = true\n") {
		t.Fatalf("new table: %v\n%s", err, out)
	}
	// Removing.
	out, err = Set(out, "provenance.blob_rule", nil)
	if err != nil || strings.Contains(string(out), "blob_rule") {
		t.Fatalf("unset: %v\n%s", err, out)
	}
	// Invalid results and forms this does not edit are refused.
	if _, err := Set([]byte(noTable), "provenance.require", []string{"main"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid value: %v", err)
	}
	dotted := "version = 1\nprovenance.blob_rule = false\n[[trust.roots]]\nname = \"alice\"\nkey = \"" + key + "\"\n"
	if _, err := Set([]byte(dotted), "provenance.blob_rule", true); !errors.Is(err, ErrInvalid) {
		t.Fatalf("dotted key: %v", err)
	}
	if _, err := Set([]byte(noTable), "trust.roots", nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
}
