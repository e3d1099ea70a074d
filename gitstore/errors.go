package gitstore

import "errors"

var (
	// ErrNotRepository means no git repository was found at or above the directory.
	ErrNotRepository = errors.New("not a git repository")
	// ErrUnsupportedRepository means the repository uses a format this build cannot write safely.
	ErrUnsupportedRepository = errors.New("unsupported repository format")
	// ErrBadHash means a string is not a 40-digit hexadecimal object name.
	ErrBadHash = errors.New("malformed object name")
	// ErrRefConflict means a compare-and-swap found the ref at another value than expected.
	ErrRefConflict = errors.New("ref changed concurrently")
	// ErrRefLocked means another process held the ref's lock file for too long.
	ErrRefLocked = errors.New("ref is locked by another process")
	// ErrBadRefName means a ref name is not one git-covenant may write.
	ErrBadRefName = errors.New("invalid ref name")
	// ErrObjectNotFound means an object named by a ref, tree or commit is missing.
	ErrObjectNotFound = errors.New("object not found")
	// ErrCorruptObject means an object's content does not hash to its name or cannot be parsed.
	ErrCorruptObject = errors.New("corrupt object")
	// ErrWrongType means an object exists but is not of the type its
	// referrer needs (a tag or a blob where a commit belongs).
	ErrWrongType = errors.New("object of the wrong type")
	// ErrBadRef means a ref's content is not an object name: garbage, or a
	// symbolic ref where a direct one is required, or a chain of symbolic
	// refs deeper than MaxSymrefDepth (a loop).
	ErrBadRef = errors.New("unreadable ref")
	// ErrMalformedCommit means a feed commit does not have the shape feeds require.
	ErrMalformedCommit = errors.New("malformed feed commit")
	// ErrBadSignature means a commit signature is missing, unparsable or does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrOutsideWorkTree means a path resolves (through symlinks) outside
	// the work tree, or into the git directory.
	ErrOutsideWorkTree = errors.New("path resolves outside the work tree")
	// ErrNotRegularFile means a work-tree path is a directory, device or pipe.
	ErrNotRegularFile = errors.New("not a regular file")
	// ErrGit means the git binary could not be run, or exited non-zero.
	ErrGit = errors.New("git failed")
)

// LockError names the lock file that stopped a write, so the hint can say
// which file to look at. It wraps ErrRefLocked or a caller's sentinel.
type LockError struct {
	Path   string // the lock file
	Reason string // why it is not removed, for the message
	Err    error
}

func (e *LockError) Error() string { return e.Err.Error() + ": " + e.Path + ": " + e.Reason }
func (e *LockError) Unwrap() error { return e.Err }

// LockFile is the lock file's path.
func (e *LockError) LockFile() string { return e.Path }
