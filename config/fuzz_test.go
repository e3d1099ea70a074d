package config

import (
	"testing"

	"github.com/git-covenant/git-covenant/trust"
)

// FuzzParse: a committed config is untrusted bytes (any branch can carry
// one). Parse never panics; what it accepts encodes and parses again; and
// the config editor (Set) on an accepted file either refuses or returns a
// file that parses, with the value set.
func FuzzParse(f *testing.F) {
	c := New(trust.Root{Name: "alice", Key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"})
	if b, err := c.Encode(); err == nil {
		f.Add(b)
		f.Add(append(b, "\n[provenance]\nrequire = [\"refs/heads/main\"]\n# a comment\n"...))
	}
	f.Add([]byte("version = 1\n"))
	f.Add([]byte("version = 1\n[[trust.roots]]\nname = \"a\"\nkey = \"ssh-rsa AAAA\"\n"))
	f.Add([]byte("[provenance\nrequire = 'x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(b)
		if err != nil {
			return
		}
		enc, err := cfg.Encode()
		if err != nil {
			t.Fatalf("accepted config does not encode: %v", err)
		}
		if _, err := Parse(enc); err != nil {
			t.Fatalf("encoded config does not parse: %v\n%s", err, enc)
		}
		for _, kv := range []struct {
			key string
			val []string
		}{{"provenance.require", []string{"refs/heads/main"}}, {"provenance.blob_rule", []string{"true"}}, {"version", []string{"1"}}} {
			k, _ := LookupKey(kv.key)
			v, err := ParseValue(k, kv.val)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Set(b, kv.key, v)
			if err != nil {
				continue
			}
			got, err := Parse(out)
			if err != nil {
				t.Fatalf("Set %s gave a file that does not parse: %v\n%s", kv.key, err, out)
			}
			if vals, err := got.Get(kv.key); err != nil || len(vals) != len(kv.val) || vals[0] != kv.val[0] {
				t.Fatalf("Set %s = %v, then Get says %v (%v)\n%s", kv.key, kv.val, vals, err, out)
			}
		}
	})
}
