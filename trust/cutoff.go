package trust

import (
	"encoding/json"
	"fmt"

	"github.com/git-covenant/git-covenant/oplog"
)

// Position names a key's last accepted op: a version 2 revocation,
// rotation or grant revocation carries it, and every op of that key after
// it is invalid (or may not use the grant), wherever its Lamport clock
// sorts it.
type Position struct {
	Key string `json:"key"`
	Seq uint64 `json:"seq"`
}

// Cut is where a key's ops stop counting.
type Cut struct {
	Seq  uint64 `json:"seq"`
	By   string `json:"by"`   // commit of the op that set it
	Kind string `json:"kind"` // the rejection kind: revoked-key or rotated-key
}

// CutFor is one cut-off an accepted op sets: on a key (Grant empty) or on
// a key's use of one grant.
type CutFor struct {
	Key   string
	Grant string
	Cut
}

// CutsOf returns the cut-offs a folded version 2 op sets; nil for any
// other op. The fold calls it after accepting the op, to see whether ops
// it folded earlier (sorted before it by a low Lamport clock) come after a
// cut-off, in which case the fold runs again with the cut-offs known from
// the start (SeedCuts).
func CutsOf(st State, e *oplog.Entry) []CutFor {
	op := e.Op
	if !op.Causal() {
		return nil
	}
	switch op.Type {
	case OpRevokeID, OpRotate:
		var b struct {
			Name   string    `json:"name"`
			Cutoff *Position `json:"cutoff"`
		}
		if json.Unmarshal(op.Body, &b) != nil {
			return nil
		}
		kind := oplog.KindRevokedKey
		if op.Type == OpRotate {
			kind = oplog.KindRotatedKey
			if b.Cutoff == nil {
				return []CutFor{{Key: op.Actor, Cut: Cut{Seq: op.Seq, By: e.Commit, Kind: kind}}}
			}
		}
		if b.Cutoff == nil {
			return nil
		}
		return []CutFor{{Key: b.Cutoff.Key, Cut: Cut{Seq: b.Cutoff.Seq, By: e.Commit, Kind: kind}}}
	case OpRevoke:
		var b struct {
			Grant  string    `json:"grant"`
			Cutoff *Position `json:"cutoff"`
		}
		if json.Unmarshal(op.Body, &b) != nil || b.Cutoff == nil {
			return nil
		}
		return []CutFor{{Key: b.Cutoff.Key, Grant: b.Grant, Cut: Cut{Seq: b.Cutoff.Seq, By: e.Commit, Kind: oplog.KindUnauthorized}}}
	}
	return nil
}

// SeedCuts records cut-offs before a fold, so that ops after them are
// rejected even where they sort before the op that set them.
func SeedCuts(st State, cuts []CutFor) error {
	for _, c := range cuts {
		a, err := st.Actor(c.Key)
		if err != nil {
			return err
		}
		if err := setCut(st, a, c); err != nil {
			return err
		}
	}
	return nil
}

func setCut(st State, a *Actor, c CutFor) error {
	if c.Grant != "" {
		if a.GrantCuts == nil {
			a.GrantCuts = map[string]uint64{}
		}
		if old, ok := a.GrantCuts[c.Grant]; !ok || c.Seq < old {
			a.GrantCuts[c.Grant] = c.Seq
		}
	} else if a.Cut == nil || c.Seq < a.Cut.Seq {
		cut := c.Cut
		a.Cut = &cut
	}
	return st.PutActor(a)
}

// checkCut rejects an op of a key after its cut-off.
func checkCut(a *Actor, op *oplog.Op) error {
	if a.Cut != nil && op.Seq > a.Cut.Seq {
		return oplog.Reject(a.Cut.Kind, "op at seq %d of key %s comes after seq %d, the key's last accepted position named by %s", op.Seq, op.Actor, a.Cut.Seq, short(a.Cut.By))
	}
	return nil
}

// grantCut reports why a key may no longer use a grant at seq, or "".
func grantCut(a *Actor, g *Grant, seq uint64) string {
	if c, ok := a.GrantCuts[g.ID]; ok && seq > c {
		return fmt.Sprintf("grant %s was revoked for key %s after its seq %d", g.ID, a.KeyID, c)
	}
	return ""
}

// cutoff checks the position a version 2 retirement names: required, and
// of a key the identity has.
func cutoff(op *oplog.Op, pos *Position, keys []string) error {
	if !op.Causal() {
		return nil
	}
	if pos == nil {
		return oplog.Reject(oplog.KindInvalidBody, "a version 2 %s names the key's last accepted position (cutoff)", op.Type)
	}
	for _, k := range keys {
		if k == pos.Key {
			return nil
		}
	}
	return oplog.Reject(oplog.KindInvalidBody, "%s cutoff names key %s, which is not the identity's", op.Type, pos.Key)
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
