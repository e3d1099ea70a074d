package daemon

import (
	"context"
	"io"
	"os"
	"path/filepath"

	httpgw "github.com/git-covenant/git-covenant/gateway"
)

// HTTPOptions configure the daemon's HTTP gateway (package gateway).
type HTTPOptions struct {
	// Off turns the HTTP gateway off.
	Off bool
	// Addr is host:port ("" means 127.0.0.1 and a port the OS chooses);
	// a non-loopback address needs CertFile and KeyFile.
	Addr              string
	CertFile, KeyFile string
	// Mounts are extra handlers (the MCP endpoint at /mcp, A2A).
	Mounts []httpgw.Mount
}

// HTTPFile is where a running daemon writes its gateway's URL (one line),
// in the covenant directory; removed when the daemon stops.
const HTTPFile = "daemon.http"

// serveHTTP starts the HTTP gateway over the operator's service, unless
// it is off, and writes its URL to HTTPFile.
func (d *Daemon) serveHTTP(ctx context.Context) (*httpgw.Server, error) {
	h := d.o.HTTP
	if h.Off {
		return nil, nil
	}
	gw, err := httpgw.New(httpgw.Options{Service: d.svc, Addr: h.Addr, CertFile: h.CertFile, KeyFile: h.KeyFile, Log: d.o.Log, Now: d.o.Now,
		Status: func() any { return d.Status() }, Mounts: h.Mounts})
	if err != nil {
		return nil, err
	}
	if err := gw.Start(ctx); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d.cov, HTTPFile), []byte(gw.URL()+"\n"), 0o600); err != nil {
		gw.Close()
		return nil, err
	}
	d.mu.Lock()
	d.http = gw
	d.mu.Unlock()
	d.Logf("HTTP gateway at %s", gw.URL())
	return gw, nil
}

func (d *Daemon) closeHTTP(gw *httpgw.Server) {
	d.mu.Lock()
	d.http = nil
	d.mu.Unlock()
	gw.Close()
	os.Remove(filepath.Join(d.cov, HTTPFile))
}

// echo is where a run's output goes as it arrives: the agent's output
// parser, and the gateway's event stream.
func (d *Daemon) echo(parser io.Writer, run, task string) io.Writer {
	d.mu.Lock()
	gw := d.http
	d.mu.Unlock()
	if gw == nil {
		return parser
	}
	return io.MultiWriter(parser, runOutput{gw, run, task})
}

type runOutput struct {
	gw        *httpgw.Server
	run, task string
}

func (o runOutput) Write(p []byte) (int, error) {
	o.gw.PublishRunOutput(o.run, o.task, p)
	return len(p), nil
}

// gatewayServer names the HTTP gateway apart from the unix-socket gateway
// of gateway.go.
type gatewayServer = httpgw.Server
