// Package runtoken binds an MCP server to a daemon run through the
// daemon's socket: the agent inside the run holds the run's token, never
// a key, and the daemon checks the token and signs its writes. It imports
// daemon and mcpserver; mcpserver itself stays below the daemon, which
// mounts it.
package runtoken

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/mcpserver"
	"github.com/git-covenant/git-covenant/tasks"
)

// Socket is a run reached through the daemon's socket with its token.
type Socket struct {
	Path  string // the daemon's socket ($GIT_COVENANT_SOCKET inside a run)
	Token string
}

// FromFile reads the token of a run from its file.
func FromFile(socket, tokenFile string) (*Socket, error) {
	tok, err := daemon.ReadToken(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("%w: run token: %v", daemon.ErrBadToken, err)
	}
	if socket == "" {
		return nil, fmt.Errorf("%w: no daemon socket given (GIT_COVENANT_SOCKET)", daemon.ErrNotRunning)
	}
	return &Socket{Path: socket, Token: tok}, nil
}

// Binding asks the daemon what the token is bound to; it fails once the
// run has ended.
func (s *Socket) Binding(ctx context.Context) (*mcpserver.RunBinding, error) {
	var w daemon.Whoami
	if err := daemon.Call(ctx, s.Path, daemon.Request{Op: "whoami", Token: s.Token}, &w); err != nil {
		if errors.Is(err, daemon.ErrBadToken) {
			return nil, fmt.Errorf("%w: %s", mcpserver.ErrRunToken, strings.TrimPrefix(err.Error(), daemon.ErrBadToken.Error()+": "))
		}
		return nil, err
	}
	return &mcpserver.RunBinding{Run: w.Run, Identity: w.Identity, Task: w.Task, Epoch: w.Epoch}, nil
}

// Do sends one write to the daemon.
func (s *Socket) Do(ctx context.Context, r mcpserver.RunRequest) (*tasks.Task, error) {
	req := daemon.Request{Op: r.Op, Token: s.Token, Task: r.Task, Text: r.Text, To: r.To, Note: r.Note, TTL: r.TTL, Handoff: r.Handoff}
	if u := r.Usage; u != nil {
		req.Usage = &daemon.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, Credits: u.Credits}
	}
	var t tasks.Task
	if err := daemon.Call(ctx, s.Path, req, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

var _ mcpserver.Run = (*Socket)(nil)
