package redact

import (
	"strings"
	"testing"
)

// prose is a KiB of ordinary handoff text, with the words some rules key
// on (token, key, password) but no secret.
var prose = strings.Repeat("Fixed the session token refresh; the API key handling in auth.go now reads the password from the keystore. ", 10)[:1024]

func BenchmarkStringKiB(b *testing.B) {
	b.SetBytes(int64(len(prose)))
	for i := 0; i < b.N; i++ {
		if _, fs := String("f", prose); fs != nil {
			b.Fatal(fs)
		}
	}
}

func BenchmarkPlainKiB(b *testing.B) {
	plain := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 30)[:1024]
	b.SetBytes(int64(len(plain)))
	for i := 0; i < b.N; i++ {
		String("f", plain)
	}
}

func BenchmarkSecretKiB(b *testing.B) {
	text := prose[:900] + "\ntoken ghp_" + strings.Repeat("aB3", 12) + "\n"
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		if _, fs := String("f", text); len(fs) != 1 {
			b.Fatal(fs)
		}
	}
}
