// Package solanatest starts the loopback Solana JSON-RPC server of
// testdata/node/solana (litesvm, the Solana runtime, behind JSON-RPC on
// 127.0.0.1) for tests: a real process, stopped when the test ends.
package solanatest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Dir finds testdata/node/solana from the working directory up.
func Dir() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "testdata", "node", "solana"), nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		d = up
	}
}

// Available says why the server cannot run here ("" when it can): no
// node, or the npm packages are not installed (make deps runs npm ci).
func Available() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not installed (make deps installs it)"
	}
	d, err := Dir()
	if err != nil {
		return err.Error()
	}
	if _, err := os.Stat(filepath.Join(d, "node_modules", "litesvm", "package.json")); err != nil {
		return "litesvm is not installed in testdata/node/solana (make deps runs npm ci there)"
	}
	return ""
}

// Server is a running server.
type Server struct {
	URL string
	cmd *exec.Cmd
	in  io.WriteCloser
}

// Start runs the server, skipping the test when it cannot run here, and
// stops it when the test ends (its standard input closes, then a kill).
func Start(t testing.TB) *Server {
	t.Helper()
	if why := Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("solana test server: %s", why)
		}
		t.Skip(why)
	}
	d, _ := Dir()
	cmd := exec.Command("node", "server.js")
	cmd.Dir = d
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{cmd: cmd, in: in}
	t.Cleanup(s.stop)
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-line:
		var v struct {
			URL string `json:"url"`
		}
		if !ok || json.Unmarshal([]byte(l), &v) != nil || v.URL == "" {
			t.Fatalf("solana test server did not start: %q\n%s", l, stderr.String())
		}
		s.URL = v.URL
	case <-time.After(60 * time.Second):
		t.Fatalf("solana test server did not start in 60s\n%s", stderr.String())
	}
	return s
}

func (s *Server) stop() {
	_ = s.in.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}
