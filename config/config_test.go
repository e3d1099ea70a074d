package config

import (
	"errors"
	"strings"
	"testing"
)

const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfGz2bZ0JnyPA8e4/7Ipm53+aaoHuzsM26oYxK8eTwz"

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte("version = 1\n[[trust.roots]]\nname = \"alice\"\nkey = \"" + key + " alice@laptop\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Trust.Roots[0].Key != key {
		t.Fatalf("key not normalized: %q", c.Trust.Roots[0].Key)
	}
	raw, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(raw)
	if err != nil || c2.Digest() != c.Digest() {
		t.Fatalf("encode round trip: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	root := "[[trust.roots]]\nname = \"alice\"\nkey = \"" + key + "\"\n"
	cases := map[string]string{
		"syntax":        "version = \n",
		"unknown key":   "version = 1\ncolour = \"red\"\n" + root,
		"version":       "version = 2\n" + root,
		"no roots":      "version = 1\n",
		"bad key":       "version = 1\n[[trust.roots]]\nname = \"alice\"\nkey = \"ssh-ed25519 nope\"\n",
		"bad name":      "version = 1\n[[trust.roots]]\nname = \"a b\"\nkey = \"" + key + "\"\n",
		"duplicate key": "version = 1\n" + root + root,
	}
	for name, in := range cases {
		_, err := Parse([]byte(in))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	_, err := Parse([]byte("version = 1\n\n= 3\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("syntax error does not name the line: %v", err)
	}
}
