package checkpoint

import (
	"fmt"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
)

// Family is the attest.checkpoint op type. A checkpoint needs only a
// trusted signer (the registry's guards) and a body of the right shape; it
// changes no state.
func Family() fold.Family {
	return fold.Family{Name: "checkpoint", Ops: []fold.Op{{
		Type: OpType,
		Check: func(op *oplog.Op) (any, error) {
			if op.Task != "" {
				return nil, fmt.Errorf("%s names a task", op.Type)
			}
			b, err := Parse(op.Body)
			if err != nil {
				return nil, fmt.Errorf("%s %v", op.Type, err)
			}
			return b, nil
		},
		Apply: func(*fold.Ctx) error { return nil },
	}}}
}
