package identity

import (
	"strings"
	"testing"
)

// FuzzParsePublicKey: keys come from configs, registrations and
// allowed-signers lines on any branch. ParsePublicKey never panics, takes
// only ed25519 keys, and what it accepts formats back to a key it accepts
// with the same id.
func FuzzParsePublicKey(f *testing.F) {
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@example")
	f.Add("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ")
	f.Add("ssh-ed25519 AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := ParsePublicKey(s)
		if err != nil {
			return
		}
		if pub.Type() != "ssh-ed25519" {
			t.Fatalf("accepted a %s key", pub.Type())
		}
		again, err := ParsePublicKey(FormatPublicKey(pub))
		if err != nil || KeyID(again) != KeyID(pub) {
			t.Fatalf("formatted key does not parse back: %v", err)
		}
		if strings.ContainsAny(FormatPublicKey(pub), "\n\r") {
			t.Fatal("formatted key spans lines")
		}
	})
}
