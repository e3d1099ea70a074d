package covenant

import (
	"testing"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
)

// Every op type the service registers passes the guards first: an op of any
// type from a key nobody trusts is refused as such, whatever its body.
func TestEveryFamilyIsGuarded(t *testing.T) {
	reg := registry(&config.Config{})
	if len(reg.Types()) < 10 {
		t.Fatalf("registry holds only %v", reg.Types())
	}
	for _, typ := range reg.Types() {
		op := &oplog.Op{V: 1, Type: typ, Actor: "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", Seq: 1, Lamport: 1, Time: "2026-01-01T00:00:00Z", Body: []byte(`{}`)}
		err := reg.Apply(tasks.NewMemState(), &oplog.Entry{Op: op, Commit: "c", Feed: op.Actor})
		if r, ok := oplog.AsRejection(err); !ok || r.Kind != oplog.KindUntrustedKey {
			t.Errorf("%s from an untrusted key: %v", typ, err)
		}
	}
}
