package remote_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/ledger"
)

// aliceKey returns the key id of the cluster's root.
func (cl *cluster) aliceKey() string {
	cl.t.Helper()
	r := cl.clones[0].repo()
	id, err := r.Actor("")
	if err != nil {
		cl.t.Fatal(err)
	}
	return id.KeyID
}

func hasTitle(list, title string) bool { return strings.Contains(list, `"`+title+`"`) }

// TestRewrittenFeedQuarantined: someone holding alice's key rewrites her
// feed (drops the last op, signs another in its place) and force-pushes it
// to the remote. A clone that syncs keeps both versions under quarantine,
// reports the key as equivocating (sync and verify exit 10), moves no
// local feed, and the fold ignores the ops after the fork. Only an admin
// can resolve it; once alice accepts her own version, state is what it was
// and later syncs do not quarantine the rejected version again.
func TestRewrittenFeedQuarantined(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	key := cl.aliceKey()
	alice.create("kept")
	alice.create("at the tip")
	alice.sync()
	bob.sync()
	orig := alice.git("rev-parse", gitstore.FeedRef(key))
	beforeDigest, beforeRefs := bob.digest(), bob.feedRefs()

	// Mallet has alice's key (same keystore) on another machine.
	mallet := &clone{t: t, name: "mallet", dir: filepath.Join(t.TempDir(), "mallet"), home: alice.home}
	git(t, "", "clone", "-q", cl.url, mallet.dir)
	mallet.sync()
	mallet.git("update-ref", gitstore.FeedRef(key), orig+"~1", orig)
	mallet.create("forged in place")
	forged := mallet.git("rev-parse", gitstore.FeedRef(key))
	mallet.git("push", "-q", "--force", "origin", gitstore.FeedRef(key))

	res := bob.cli("sync")
	if res.code != 10 {
		t.Fatalf("sync of an equivocating feed: want exit 10, got %s", res)
	}
	if !strings.Contains(res.stdout, "Quarantined alice") || !strings.Contains(res.stdout, "equivocation: feed "+key) {
		t.Fatalf("sync output does not report the quarantine:\n%s", res.stdout)
	}
	if got := bob.feedRefs(); got != beforeRefs {
		t.Fatalf("a local feed moved:\n%s\nwant:\n%s", got, beforeRefs)
	}
	for _, v := range []string{orig, forged} {
		if got := bob.git("rev-parse", ledger.QuarantinePrefix+key+"/"+v); got != v {
			t.Fatalf("quarantine ref for %s holds %s", v, got)
		}
	}
	list := bob.mustCLI("task", "list", "--json")
	if !hasTitle(list, "kept") || hasTitle(list, "at the tip") || hasTitle(list, "forged in place") {
		t.Fatalf("the fold should stop at the fork:\n%s", list)
	}
	res = bob.cli("verify")
	if res.code != 10 || !strings.Contains(res.stdout, "equivocation: feed "+key) {
		t.Fatalf("verify of a quarantined key: %s", res)
	}
	res = bob.cli("verify", "--full")
	if res.code != 10 || !strings.Contains(res.stdout, "equivocation: feed "+key) {
		t.Fatalf("verify --full of a quarantined key: %s", res)
	}
	q := bob.mustCLI("quarantine", "list")
	if !strings.Contains(q, orig+"  seq") || !strings.Contains(q, forged+"  seq") || !strings.Contains(q, "(local feed)") {
		t.Fatalf("quarantine list:\n%s", q)
	}
	// Syncing again changes nothing and quarantines nothing new.
	if res := bob.cli("sync"); res.code != 0 || strings.Contains(res.stdout, "Quarantined") {
		t.Fatalf("second sync: %s", res)
	}
	// Bob is no admin.
	if res := bob.cli("quarantine", "accept", key, orig); res.code != 6 {
		t.Fatalf("accept by a non-admin: want exit 6, got %s", res)
	}
	if res := bob.cli("quarantine", "accept", key, strings.Repeat("0", 40)); res.code != 6 && res.code != 4 {
		t.Fatalf("accept of an unknown version: %s", res)
	}

	// Alice finds the same on her clone and keeps her own version.
	if res := alice.cli("sync"); res.code != 10 {
		t.Fatalf("alice's sync: %s", res)
	}
	if res := alice.cli("quarantine", "accept", key, strings.Repeat("0", 40)); res.code != 4 {
		t.Fatalf("accept of a commit that is no version: want exit 4, got %s", res)
	}
	alice.mustCLI("quarantine", "accept", key, orig)
	if got := alice.git("for-each-ref", ledger.QuarantinePrefix); got != "" {
		t.Fatalf("quarantine refs left after accept:\n%s", got)
	}
	if got := alice.digest(); got != beforeDigest {
		t.Fatalf("digest after accept %s, before the attack %s", got, beforeDigest)
	}
	if res := alice.cli("verify"); res.code != 0 {
		t.Fatalf("verify after accept: %s", res)
	}
	if res := alice.cli("sync"); res.code != 0 || strings.Contains(res.stdout, "Quarantined") {
		t.Fatalf("sync after accept quarantined the rejected version again: %s", res)
	}
	if got := alice.git("rev-parse", "refs/covenant/rejected/"+key+"/"+forged); got != forged {
		t.Fatalf("rejected version not remembered: %s", got)
	}
	// Mallet goes on writing on the rejected history: still not quarantined.
	mallet.create("more forgery")
	mallet.git("push", "-q", "--force", "origin", gitstore.FeedRef(key))
	if res := alice.cli("sync"); res.code != 0 || strings.Contains(res.stdout, "Quarantined") {
		t.Fatalf("a descendant of the rejected version was quarantined again: %s", res)
	}
}

// TestTamperedRemoteFeed: someone without the key replaces a feed on the
// remote with a commit whose signature does not verify. Sync reports it,
// keeps it in staging, quarantines nothing and changes nothing local.
func TestTamperedRemoteFeed(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	key := cl.aliceKey()
	alice.create("one")
	alice.create("two")
	alice.sync()
	bob.sync()
	beforeDigest, beforeRefs := bob.digest(), bob.feedRefs()

	head := alice.git("rev-parse", gitstore.FeedRef(key))
	raw := alice.git("cat-file", "commit", head)
	raw = strings.Replace(raw, "task.create: two", "task.create: tw0", 1) + "\n"
	tmp := filepath.Join(t.TempDir(), "commit")
	os.WriteFile(tmp, []byte(raw), 0o644)
	forged := alice.git("hash-object", "-t", "commit", "-w", tmp)
	git(t, alice.dir, "push", "-q", "--force", "origin", forged+":"+gitstore.FeedRef(key))

	res := bob.cli("sync")
	if res.code != 10 || !strings.Contains(res.stdout, "bad-signature: feed "+key+" commit "+forged) {
		t.Fatalf("sync of a tampered feed: want exit 10 naming bad-signature, got %s", res)
	}
	if got := bob.feedRefs(); got != beforeRefs {
		t.Fatalf("a local feed moved:\n%s\nwant:\n%s", got, beforeRefs)
	}
	if got := bob.git("for-each-ref", ledger.QuarantinePrefix); got != "" {
		t.Fatalf("tampering by someone without the key was quarantined as equivocation:\n%s", got)
	}
	if got := bob.git("rev-parse", "refs/covenant/incoming/origin/feeds/"+key); got != forged {
		t.Fatalf("the tampered version is not kept in staging: %s", got)
	}
	if got := bob.digest(); got != beforeDigest {
		t.Fatalf("state changed: %s, was %s", got, beforeDigest)
	}
	if res := bob.cli("verify"); res.code != 0 {
		t.Fatalf("local verify after refusing the tampered feed: %s", res)
	}
}
