package trust

import (
	"github.com/git-covenant/git-covenant/fold"
)

// Family is the trust op types: actor genesis, identities and grants.
func Family() fold.Family {
	return fold.Family{Name: "trust", Ops: []fold.Op{
		fold.Typed(OpGenesis, withActor(applyGenesis)),
		fold.Typed(OpRegister, withActor(applyRegister)),
		fold.Typed(OpRotate, withActor(applyRotate)),
		fold.Typed(OpRevokeID, withActor(applyRevokeIdentity)),
		fold.Typed(OpGrant, withActor(applyGrant)),
		fold.Typed(OpRevoke, withActor(applyRevoke)),
	}}
}

// Admit is the guard every op passes first: its signing key may act at all
// (a trust root or registered, and neither rotated out nor revoked).
func Admit(c *fold.Ctx) error {
	st, err := fold.As[State](c)
	if err != nil {
		return err
	}
	_, err = Authorize(st, c.Op)
	return err
}

// Signer returns the actor that signed the op being folded, once Admit let
// it through.
func Signer(c *fold.Ctx) (State, *Actor, error) {
	st, err := fold.As[State](c)
	if err != nil {
		return nil, nil, err
	}
	a, err := Authorize(st, c.Op)
	return st, a, err
}

// withActor adapts a trust op handler to the registry.
func withActor[P any](fn func(st State, actor *Actor, c *fold.Ctx, b P) error) func(*fold.Ctx, P) error {
	return func(c *fold.Ctx, b P) error {
		st, actor, err := Signer(c)
		if err != nil {
			return err
		}
		return fn(st, actor, c, b)
	}
}
