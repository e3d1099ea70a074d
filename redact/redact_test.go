package redact

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// random returns n characters drawn from alphabet.
func random(t testing.TB, alphabet string, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upper2 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

// mixedRandom is random text of the alphabet holding a letter and a digit.
func mixedRandom(t testing.TB, n int) string {
	return "a1" + random(t, alnum, n-2)
}

func privateKeys(t *testing.T) map[string]string {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	ossh, err := ssh.MarshalPrivateKey(edk, "")
	if err != nil {
		t.Fatal(err)
	}
	pk8, err := x509.MarshalPKCS8PrivateKey(edk)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"rsa":     string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})),
		"ec":      string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})),
		"openssh": string(pem.EncodeToMemory(ossh)),
		"pkcs8":   string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8})),
	}
}

// Each planted secret is found by its rule, replaced, and reported without
// the secret; the text around it stays.
func TestSecretsAreRedacted(t *testing.T) {
	type plant struct{ name, rule, secret, text string }
	var cases []plant
	for name, k := range privateKeys(t) {
		cases = append(cases, plant{"private key " + name, "private-key", k, "my key:\n" + k + "\nthanks"})
	}
	aws := "AKIA" + random(t, upper2, 16)
	awsSecret := "a1" + random(t, alnum+"/+", 38)
	gh := "ghp_" + random(t, alnum, 36)
	ghFine := "github_pat_" + random(t, alnum+"_", 82)
	gl := "glpat-" + random(t, alnum, 20)
	slack := "xoxb-1234567890-1234567890123-" + random(t, alnum, 24)
	gen := mixedRandom(t, 32)
	cases = append(cases,
		plant{"aws key id", "aws-access-key-id", aws, "export AWS_ACCESS_KEY_ID=" + aws + "\n"},
		plant{"aws secret", "aws-secret-access-key", awsSecret, "aws_secret_access_key = " + awsSecret},
		plant{"github classic", "github-token", gh, "use token " + gh + " for the API"},
		plant{"github fine-grained", "github-token", ghFine, "GH=" + ghFine},
		plant{"gitlab", "gitlab-token", gl, "gitlab: " + gl},
		plant{"slack", "slack-token", slack, "bot " + slack},
		plant{"gcp", "gcp-api-key", "AIza" + random(t, alnum, 35), ""},
		plant{"stripe", "stripe-key", "sk_live_" + random(t, alnum, 24), ""},
		plant{"npm", "npm-token", "npm_" + random(t, alnum, 36), ""},
		plant{"jwt", "jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + random(t, alnum, 43), ""},
		plant{"url password", "url-password", "s3cr3tPassw0rd", "clone https://deploy:s3cr3tPassw0rd@example.com/x.git"},
		plant{"generic assignment", "generic-secret", gen, `config: api_key = "` + gen + `"`},
		plant{"generic bearer", "generic-secret", gen, "Authorization: Bearer " + gen},
		plant{"generic password", "generic-secret", "Xk9#mP2$vL8qW4z", "DB_PASSWORD=Xk9#mP2$vL8qW4z"},
	)
	for _, c := range cases {
		text := c.text
		if text == "" {
			text = "line one\nvalue " + c.secret + " end"
		}
		out, fs := String("body.text", text)
		if strings.Contains(out, c.secret) {
			t.Errorf("%s: secret left in %q", c.name, out)
		}
		if len(fs) != 1 || fs[0].Rule != c.rule || fs[0].Field != "body.text" {
			t.Errorf("%s: findings %+v, want one %s", c.name, fs, c.rule)
			continue
		}
		if !strings.Contains(out, Mark(c.rule)) {
			t.Errorf("%s: no mark in %q", c.name, out)
		}
		if strings.Contains(fs[0].String(), c.secret) {
			t.Errorf("%s: the finding names the secret", c.name)
		}
		// Redacting again finds nothing: the marks are not secrets.
		if again, fs := String("x", out); len(fs) != 0 || again != out {
			t.Errorf("%s: redacting twice: %+v", c.name, fs)
		}
	}
}

// What is not a secret stays as it is: public keys, object ids, digests,
// references to secrets, prose about them, short or low-entropy values.
func TestNotSecrets(t *testing.T) {
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	pub, _ := ssh.NewPublicKey(edk.Public())
	spki, _ := x509.MarshalPKIXPublicKey(edk.Public())
	for _, s := range []string{
		"Fix the flaky login test; the token refresh races the session expiry.",
		string(ssh.MarshalAuthorizedKey(pub)),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})),
		"commit 0123456789abcdef0123456789abcdef01234567",
		"output_digest: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"token: ${{ secrets.GITHUB_TOKEN }}",
		"token = os.Getenv(\"GITHUB_TOKEN\")",
		"password: changeme",
		"secret_name = aaaaaaaaaaaaaaaaaaaa1",
		"set api_key in .env before running",
		"the private key lives in the keystore, never in the repo",
		"https://example.com/path?x=1",
		"[REDACTED:github-token]",
	} {
		if out, fs := String("f", s); len(fs) != 0 || out != s {
			t.Errorf("%q: findings %+v", s, fs)
		}
	}
}

// Findings name the line of the field each secret is on.
func TestLines(t *testing.T) {
	gh := "ghp_" + random(t, alnum, 36)
	aws := "AKIA" + random(t, upper2, 16)
	out, fs := String("output.txt", "a\nb\n"+gh+"\nc\n\nkey "+aws+"\n")
	if len(fs) != 2 || fs[0].Line != 3 || fs[1].Line != 6 || fs[0].Rule != "github-token" || fs[1].Rule != "aws-access-key-id" {
		t.Fatalf("findings %+v", fs)
	}
	if want := "a\nb\n[REDACTED:github-token]\nc\n\nkey [REDACTED:aws-access-key-id]\n"; out != want {
		t.Errorf("got %q", out)
	}
}

// JSON redacts string values by path and leaves a clean document alone,
// byte for byte.
func TestJSON(t *testing.T) {
	gh := "ghp_" + random(t, alnum, 36)
	clean := []byte(`{"z":1,"a":"token refresh","list":["x"]}`)
	if out, fs, err := JSON("body", clean); err != nil || fs != nil || string(out) != string(clean) {
		t.Fatalf("clean: %s %+v %v", out, fs, err)
	}
	raw := []byte(`{"summary":"done","questions":["q","use ` + gh + `"],"n":12345678901234567890}`)
	out, fs, err := JSON("body", raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Field != "body.questions[1]" || strings.Contains(string(out), gh) {
		t.Fatalf("got %s %+v", out, fs)
	}
	if !strings.Contains(string(out), `12345678901234567890`) {
		t.Errorf("numbers lost precision: %s", out)
	}
	if _, _, err := JSON("body", []byte(`{"token": "x"`)); err == nil {
		t.Error("bad JSON passed")
	}
}

func TestRulesListed(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if r.ID == "" || r.Description == "" || seen[r.ID] {
			t.Errorf("rule %+v", r)
		}
		seen[r.ID] = true
	}
}
