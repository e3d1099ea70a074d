package exitcode_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/exitcode"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tokens"
)

// The one table: an error's exit status and the HTTP status derived from
// it, as the CLI and the gateway report them.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err        error
		exit, http int
	}{
		{oplog.Reject(oplog.KindUnauthorized, "bot lacks task.comment: no grant"), exitcode.Unauthorized, http.StatusForbidden},
		{oplog.Reject(oplog.KindLeaseHeld, "held"), exitcode.Conflict, http.StatusConflict},
		{oplog.Reject(oplog.KindNotFound, "no task"), exitcode.NotFound, http.StatusNotFound},
		{oplog.Reject(oplog.KindInvalidBody, "bad"), exitcode.Usage, http.StatusBadRequest},
		{fmt.Errorf("show: %w", covenant.ErrTaskNotFound), exitcode.NotFound, http.StatusNotFound},
		{fmt.Errorf("%w: x", covenant.ErrBadInput), exitcode.Usage, http.StatusBadRequest},
		{covenant.ErrRefConflict, exitcode.Conflict, http.StatusConflict},
		{covenant.ErrRefLocked, exitcode.Conflict, http.StatusConflict},
		{tokens.ErrNoSuchToken, exitcode.NotFound, http.StatusNotFound},
		{context.Canceled, exitcode.Interrupted, http.StatusServiceUnavailable},
		{fmt.Errorf("disk on fire"), exitcode.Error, http.StatusInternalServerError},
	} {
		exit, _ := exitcode.Classify(c.err)
		if exit != c.exit || exitcode.HTTPStatus(exit) != c.http {
			t.Errorf("%v: exit %d (%s), HTTP %d; want %d, %d", c.err, exit, exitcode.Name(exit), exitcode.HTTPStatus(exit), c.exit, c.http)
		}
	}
	for _, e := range exitcode.Table {
		if exitcode.Name(e.Code) != e.Name {
			t.Errorf("Name(%d) = %s, want %s", e.Code, exitcode.Name(e.Code), e.Name)
		}
	}
}
