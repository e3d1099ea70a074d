package covenant_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/tasks"
	bolt "go.etcd.io/bbolt"
)

// TestVerifyFullRepairsAnEditedIndex edits the bbolt index under
// .git/covenant/ the way anyone with write access to the clone can: a
// task's title, its list row, a grant removed, an accepted op marked
// rejected and a finding planted. Reads believe the cache (that is what a
// cache is for); verify --full folds the feeds alone, names every edit as
// index-mismatch (exit 10) and rebuilds the index, after which reads are
// right and verify --full is clean again.
func TestVerifyFullRepairsAnEditedIndex(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	f.mustCLI("id", "new", "bob", "--role", "agent")
	bobKey := strings.TrimSpace(f.mustCLI("id", "show", "bob"))
	f.mustCLI("id", "register", "bob", "--role", "agent", "--key", bobKey, "--grant", "task.create")
	r := f.open()
	w, err := r.CreateTask(context.Background(), tasks.CreateBody{Title: "honest title"})
	if err != nil {
		t.Fatal(err)
	}
	id := w.ID
	if _, err := r.CreateTask(context.Background(), tasks.CreateBody{Title: "second"}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	wantShow := f.mustCLI("task", "show", id, "--json")
	wantList := f.mustCLI("task", "list", "--json")
	wantGrants := f.mustCLI("cap", "list", "--json")
	if res := f.cli("verify", "--full"); res.code != 0 {
		t.Fatalf("verify --full before the edit: %s", res)
	}

	d, err := f.store().CovenantDir()
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(d, "index.db"), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		edit := func(bucket string, match func(k, v []byte) bool, fn func(map[string]any)) {
			b := tx.Bucket([]byte(bucket))
			var key, val []byte
			b.ForEach(func(k, v []byte) error {
				if key == nil && match(k, v) {
					key, val = append([]byte(nil), k...), append([]byte(nil), v...)
				}
				return nil
			})
			if key == nil {
				t.Fatalf("no row to edit in bucket %s", bucket)
			}
			var row map[string]any
			if err := json.Unmarshal(val, &row); err != nil {
				t.Fatal(err)
			}
			fn(row)
			raw, _ := json.Marshal(row)
			if err := b.Put(key, raw); err != nil {
				t.Fatal(err)
			}
		}
		lie := func(row map[string]any) { row["title"] = "a lie" }
		edit("tasks", func(k, _ []byte) bool { return string(k) == id }, lie)
		edit("list", func(_, v []byte) bool { return strings.Contains(string(v), id) }, lie)
		edit("log", func(_, v []byte) bool { return strings.Contains(string(v), `"type":"task.create"`) },
			func(row map[string]any) {
				row["rejected"] = map[string]any{"kind": "unauthorized", "reason": "planted"}
			})
		gb := tx.Bucket([]byte("grants"))
		k, _ := gb.Cursor().First()
		if k == nil {
			t.Fatal("no grant in the index")
		}
		if err := gb.Delete(k); err != nil {
			return err
		}
		return tx.Bucket([]byte("findings")).Put([]byte("fold/planted"), []byte(`{"kind":"revoked-key","reason":"planted"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	// The cache is believed: reads answer from it.
	if got := f.mustCLI("task", "show", id, "--json"); !strings.Contains(got, "a lie") {
		t.Fatalf("task show after the edit does not read the index (the test edited nothing?):\n%s", got)
	}
	if res := f.cli("verify"); res.code == 0 {
		t.Fatalf("incremental verify does not read the planted finding: %s", res)
	}

	res := f.cli("verify", "--full", "--json")
	if res.code != 10 {
		t.Fatalf("verify --full over an edited index: %s", res)
	}
	var rep struct {
		Findings []struct{ Kind, Reason string }
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, fd := range rep.Findings {
		if fd.Kind != "index-mismatch" {
			t.Errorf("unexpected finding %s: %s", fd.Kind, fd.Reason)
		}
		reasons = append(reasons, fd.Reason)
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{"index task " + id, "index list ", "index grant cap-", "index log ", "index finding fold/planted"} {
		if !strings.Contains(all, want) {
			t.Errorf("verify --full does not name %q:\n%s", want, all)
		}
	}
	if !strings.Contains(res.stderr, "rebuilding") {
		t.Errorf("verify --full does not say it repairs the index: %s", res.stderr)
	}

	// Repaired: reads are right and everything verifies.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"task", "show", id, "--json"}, wantShow},
		{[]string{"task", "list", "--json"}, wantList},
		{[]string{"cap", "list", "--json"}, wantGrants},
	} {
		if got := f.mustCLI(c.args...); got != c.want {
			t.Errorf("%s after the repair:\n%s\nwant:\n%s", strings.Join(c.args, " "), got, c.want)
		}
	}
	if res := f.cli("verify", "--full"); res.code != 0 {
		t.Fatalf("verify --full after the repair: %s", res)
	}
	if res := f.cli("verify"); res.code != 0 {
		t.Fatalf("verify after the repair: %s", res)
	}
}
