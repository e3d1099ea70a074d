package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/oplog"
)

// Call sends one request to the gateway at socket and decodes the result
// into out (when not nil). A refusal is an error wrapping ErrBadToken,
// ErrWrongTask, ErrScope or ErrGateway, with the daemon's reason.
func Call(ctx context.Context, socket string, req Request, out any) error {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", socket)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	defer c.Close()
	if t, ok := ctx.Deadline(); ok {
		c.SetDeadline(t)
	} else {
		c.SetDeadline(time.Now().Add(5 * time.Minute))
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return err
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%w: the daemon closed the connection", ErrGateway)
	}
	var resp Response
	if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
		return err
	}
	if !resp.OK {
		return respErr(resp)
	}
	if out != nil && len(resp.Result) > 0 {
		return json.Unmarshal(resp.Result, out)
	}
	return nil
}

// RemoteError is a refusal by the daemon: its message and kind.
type RemoteError struct {
	Kind string
	Msg  string
	base error
}

func (e *RemoteError) Error() string { return e.Msg }
func (e *RemoteError) Unwrap() error { return e.base }

func respErr(r Response) error {
	base := ErrGateway
	switch r.Kind {
	case "bad-token":
		base = ErrBadToken
	case "wrong-task":
		base = ErrWrongTask
	case "":
	default:
		// The fold refused what the daemon tried to write for the agent
		// (unauthorized included): the same rejection, as if local.
		base = oplog.Reject(r.Kind, "%s", r.Error)
	}
	return &RemoteError{Kind: r.Kind, Msg: r.Error, base: base}
}

// ReadToken reads a run token from its file.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("empty run token file")
	}
	return tok, nil
}
