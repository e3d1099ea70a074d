package attest

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// The example from the DSSE protocol description.
func TestPAE(t *testing.T) {
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
}

func TestSignParseVerify(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := NewStatement([]Subject{{Name: "commit", Digest: map[string]string{"gitCommit": strings.Repeat("a", 40)}}},
		TestResultType, map[string]any{"result": "PASSED"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Sign(payload, priv, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "\n") || !strings.Contains(string(b), `"mediaType":"`+BundleMediaType+`"`) {
		t.Fatalf("bundle: %s", b)
	}
	env, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if env.KeyHint != "k1" || env.Signatures[0].KeyID != "" {
		t.Fatalf("hints: %+v", env)
	}
	if err := env.Verify(pub); err != nil {
		t.Fatal(err)
	}
	st, err := ParseStatement(env.Payload)
	if err != nil || st.PredicateType != TestResultType || st.Subjects[0].Digest["gitCommit"] != strings.Repeat("a", 40) {
		t.Fatalf("statement %+v, %v", st, err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if err := env.Verify(other); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("verify under another key: %v", err)
	}
	for _, bad := range []string{`{}`, `not json`, strings.Replace(string(b), BundleMediaType, "application/json", 1)} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Parse(%.40q) = %v, want ErrMalformed", bad, err)
		}
	}
}
