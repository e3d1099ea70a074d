package remote

import (
	"errors"

	"github.com/git-covenant/git-covenant/gitstore"
)

var (
	// ErrUnknownRemote means the repository has no remote of that name.
	ErrUnknownRemote = errors.New("no such remote")
	// ErrBadRemoteName means a remote name cannot be used in ref names.
	ErrBadRemoteName = errors.New("invalid remote name")
	// ErrGit means the git binary failed; the message carries its error.
	ErrGit = gitstore.ErrGit
	// ErrRemoteMoved means the remote kept changing while sync pushed.
	ErrRemoteMoved = errors.New("remote kept changing during push")
	// ErrNotQuarantined means a key has no quarantined versions, or the
	// commit is not one of them.
	ErrNotQuarantined = errors.New("not a quarantined feed version")
	// ErrLeaseMarker means the remote refused a lease marker for a reason
	// other than another claim.
	ErrLeaseMarker = errors.New("lease marker push failed")
)
