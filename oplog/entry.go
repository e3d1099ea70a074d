package oplog

import (
	"errors"
	"fmt"
)

// Entry is a verified op with where it came from.
type Entry struct {
	Op     *Op
	Commit string // feed commit hash: the op's id
	Feed   string // key id of the feed it was read from
	// Floor is the op's time witness bound (unix seconds, 0 for none), set
	// before the fold: the latest time of a witness checkpoint that does
	// not cover the op (package ledger, Bounds).
	Floor int64
}

// Rejection kinds, used by the fold, by writers refusing an op, and by verify.
const (
	KindUntrustedKey = "untrusted-key"
	KindRevokedKey   = "revoked-key"
	KindRotatedKey   = "rotated-key"
	KindUnauthorized = "unauthorized"
	KindIllegal      = "illegal-transition"
	KindNotFound     = "not-found"
	KindLeaseHeld    = "lease-conflict"
	KindStaleEpoch   = "stale-epoch"
	KindLeaseExpired = "lease-expired"
	KindInvalidBody  = "invalid-body"
	KindDuplicate    = "duplicate"
	// KindNotIndependent: a move over an independent gate whose approval is
	// by an identity that held the task's lease.
	KindNotIndependent = "not-independent"
	// KindStaleApproval: a move over an approval gate whose approval was
	// given before the task went back for rework.
	KindStaleApproval = "stale-approval"
	// KindWitnessedLate: an op whose grant was live at its own time but
	// had expired by a time witness that does not cover it (ADR 0010). A
	// conflict: an op made offline that reached no witness in time looks
	// the same.
	KindWitnessedLate = "witnessed-late"
)

// Rejection is why the fold ignores an op. It is also the error a writer
// returns when it refuses to write an op the fold would ignore.
type Rejection struct {
	Kind   string
	Reason string
}

func (r *Rejection) Error() string { return r.Reason }

// Reject builds a Rejection.
func Reject(kind, format string, args ...any) error {
	return &Rejection{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// AsRejection extracts a Rejection from err.
func AsRejection(err error) (*Rejection, bool) {
	var r *Rejection
	ok := errors.As(err, &r)
	return r, ok
}
