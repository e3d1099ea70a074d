package attest

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// fuzzKey is a fixed key: the fuzzer must be able to reach an envelope
// that verifies, then change one byte of it.
var fuzzKey = ed25519.NewKeyFromSeed([]byte(strings.Repeat("k", ed25519.SeedSize)))

// FuzzParseBundle: provenance bundles arrive in notes anyone can push.
// Parse and ParseStatement never panic; a refusal is ErrMalformed; an
// envelope that verifies under the key carries a signature by it over
// exactly its payload type and payload.
func FuzzParseBundle(f *testing.F) {
	payload, err := NewStatement([]Subject{{Name: "commit", Digest: map[string]string{"gitCommit": strings.Repeat("a", 40)}}},
		TestResultType, map[string]any{"result": "PASSED", "command": "make test"})
	if err != nil {
		f.Fatal(err)
	}
	b, err := Sign(payload, fuzzKey, "k1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(payload)
	f.Add([]byte(`{"mediaType":"` + BundleMediaType + `","dsseEnvelope":{"payload":"","payloadType":"x","signatures":[]}}`))
	f.Add([]byte(`{}`))
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, raw []byte) {
		ParseStatement(raw) // never panics
		env, err := Parse(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("refusal is not ErrMalformed: %v", err)
			}
			return
		}
		if env.Verify(pub) != nil {
			return
		}
		// Verified: some signature covers exactly this type and payload.
		for _, s := range env.Signatures {
			if ed25519.Verify(pub, PAE(env.PayloadType, env.Payload), s.Sig) {
				return
			}
		}
		t.Fatalf("an envelope verifies but no signature covers its payload: %q", raw)
	})
}
