package gateway_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gateway"
	"github.com/git-covenant/git-covenant/internal/testgit"
)

// binPath is the git-covenant binary TestMain builds once: tokens are made,
// and ops written, by the CLI in other processes, as an operator would.
var binPath string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "gateway-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binPath, err = testgit.BuildBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// fixture is a real repository (alice its trust root) with its own keystore
// and git home, and a gateway over it on loopback.
type fixture struct {
	t       *testing.T
	dir     string
	home    string
	gitHome string
	svc     *covenant.Service
	gw      *gateway.Server
	url     string
	host    string // 127.0.0.1:<port>
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{t: t, dir: testgit.Init(t), home: filepath.Join(base, "covenant-home"), gitHome: filepath.Join(base, "home")}
	os.MkdirAll(f.gitHome, 0o755)
	os.WriteFile(filepath.Join(f.gitHome, ".gitconfig"), nil, 0o644)
	f.cli("init", "--name", "alice")
	return f
}

func (f *fixture) env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + f.gitHome, "TMPDIR=" + os.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + filepath.Join(f.gitHome, ".gitconfig"),
		"GIT_COVENANT_HOME=" + f.home,
	}
}

func (f *fixture) getenv(k string) string {
	for _, kv := range f.env() {
		if a, b, _ := strings.Cut(kv, "="); a == k {
			return b
		}
	}
	return ""
}

// cli runs git-covenant in the repository and returns its stdout.
func (f *fixture) cli(args ...string) string {
	f.t.Helper()
	out, errOut, err := f.try(args...)
	if err != nil {
		f.t.Fatalf("git covenant %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func (f *fixture) try(args ...string) (string, string, error) {
	cmd := exec.Command(binPath, args...)
	cmd.Dir, cmd.Env = f.dir, f.env()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

var secretRE = regexp.MustCompile(`(?m)^gcvt_[A-Za-z0-9_-]{43}$`)

// token makes a token with the CLI (as --as, if given) and returns its secret.
func (f *fixture) token(as, name string, scopes ...string) string {
	f.t.Helper()
	args := []string{"token", "create", "--name", name}
	if as != "" {
		args = append([]string{"--as", as}, args...)
	}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	s := secretRE.FindString(f.cli(args...))
	if s == "" {
		f.t.Fatal("token create printed no secret")
	}
	return s
}

// start opens the service and serves a gateway over it.
func (f *fixture) start(o gateway.Options) {
	f.t.Helper()
	svc, err := covenant.Open(context.Background(), covenant.Options{Dir: f.dir, Getenv: f.getenv, Env: f.env()})
	if err != nil {
		f.t.Fatal(err)
	}
	f.svc = svc
	o.Service = svc
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	gw, err := gateway.New(o)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	f.gw, f.url = gw, gw.URL()
	f.host = strings.TrimPrefix(f.url, "http://")
	f.t.Cleanup(func() {
		gw.Close()
		svc.Close()
	})
}

// answer is one HTTP exchange.
type answer struct {
	status int
	body   []byte
	header http.Header
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("not JSON (%d): %v\n%s", a.status, err, a.body)
	}
}

// problem decodes an error/1 answer.
func (a answer) problem(t *testing.T) gateway.Problem {
	t.Helper()
	var p struct {
		Schema string `json:"schema"`
		gateway.Problem
	}
	a.json(t, &p)
	if p.Schema != "error/1" || p.Message == "" || p.Code == "" {
		t.Fatalf("not an error/1 document: %s", a.body)
	}
	return p.Problem
}

var client = &http.Client{Timeout: 2 * time.Minute}

// do sends a request; hdr holds extra headers ("Host" sets the Host).
func (f *fixture) do(method, path, secret string, body any, hdr ...string) answer {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			raw, _ := json.Marshal(b)
			rd = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b, header: resp.Header}
}

// waitFor polls cond until it holds, for at most 3 minutes (a busy machine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// open opens the repository through the service layer.
func (f *fixture) open() *covenant.Service {
	f.t.Helper()
	svc, err := covenant.Open(context.Background(), covenant.Options{Dir: f.dir, Getenv: f.getenv, Env: f.env()})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { svc.Close() })
	return svc
}

// selfSigned writes a certificate and key for 127.0.0.1 and localhost.
func selfSigned(t *testing.T) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(priv)
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, key
}

func tlsClient(t *testing.T, cert string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	raw, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(raw)
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
