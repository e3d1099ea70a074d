package covenant_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
)

// stockSign signs a hand-made commit payload with alice's key through
// ssh-keygen, as `git commit -S` with gpg.format=ssh does, and inserts the
// gpgsig header before the message, whatever the headers hold.
func (h *honest) stockSign(payload []byte) []byte {
	h.t.Helper()
	return stockSignAs(h.t, filepath.Join(h.home, "identities", "alice", "key"), payload)
}

// stockSignAs signs a commit payload with the private key file through
// ssh-keygen and inserts the gpgsig header before the message.
func stockSignAs(t testing.TB, key string, payload []byte) []byte {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(tmp, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-Y", "sign", "-f", key, "-n", "git", tmp).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
	sig, err := os.ReadFile(tmp + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.Index(payload, []byte("\n\n"))
	lines := strings.Split(strings.TrimSuffix(string(sig), "\n"), "\n")
	var b bytes.Buffer
	b.Write(payload[:end+1])
	b.WriteString("gpgsig " + strings.Join(lines, "\n ") + "\n")
	b.Write(payload[end+1:])
	return b.Bytes()
}

// rawTree stores a tree object from entries as given (duplicates, any
// mode), the way a modified client can with hash-object --literally.
func (h *honest) rawTree(entries ...[3]string) string {
	h.t.Helper()
	var b bytes.Buffer
	for _, e := range entries {
		raw, err := hex.DecodeString(e[2])
		if err != nil {
			h.t.Fatal(err)
		}
		b.WriteString(e[0] + " " + e[1] + "\x00")
		b.Write(raw)
	}
	return h.gitIn(b.Bytes(), "hash-object", "-t", "tree", "-w", "--stdin", "--literally")
}

// plantCommit appends to alice's feed a commit signed with her key by
// ssh-keygen, after the honest head, carrying op (or raw op bytes) in tree
// and the given header lines, and returns its name. The feed ref is moved
// unless keep is set.
func (h *honest) plantCommit(tree string, headers string, op *oplog.Op) string {
	h.t.Helper()
	payload := "tree " + tree + "\nparent " + h.head() + "\n" + headers + "\n" + oplog.Message(op, "planted")
	return h.writeCommit(h.stockSign([]byte(payload)))
}

// TestMalformedIsAFinding plants, with git plumbing and ssh-keygen
// signatures, every kind of malformed commit and ref a modified client or a
// hostile pusher can make. Each is a named finding (verify exit 10, in both
// modes), while the honest feeds of the same repository still fold: task
// list, task show and sync go on.
func TestMalformedIsAFinding(t *testing.T) {
	type plant func(h *honest) (kind, feed, commit string)
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	person := func(p string) string {
		return "author " + p + "\ncommitter alice <x@covenant.invalid> " + unix(at) + " +0000\n"
	}
	// next is the op and its honest tree that would follow alice's head.
	next := func(h *honest) (*oplog.Op, string, string) {
		op := h.nextCreate(h.key, "planted", h.opAt(h.head()), at)
		blob := h.blob(encode(t, op))
		return op, blob, h.opTree(blob)
	}
	who := func(h *honest) string { return "alice <" + h.key + "@covenant.invalid> " + unix(at) }
	commitCase := func(f func(h *honest) string) plant {
		return func(h *honest) (string, string, string) {
			c := f(h)
			h.moveFeed(h.ref, c, h.head())
			return ledger.KindMalformed, h.key, c
		}
	}
	cases := map[string]plant{
		"author without email": commitCase(func(h *honest) string {
			op, _, tree := next(h)
			return h.plantCommit(tree, person("alice "+unix(at)+" +0000"), op)
		}),
		"bad time zone": commitCase(func(h *honest) string {
			op, _, tree := next(h)
			return h.plantCommit(tree, person(who(h)+" +0130"), op)
		}),
		"extra header": commitCase(func(h *honest) string {
			op, _, tree := next(h)
			return h.plantCommit(tree, "author "+who(h)+" +0000\ncommitter "+who(h)+" +0000\nencoding ISO-8859-1\n", op)
		}),
		"two op.json entries": commitCase(func(h *honest) string {
			op, blob, _ := next(h)
			other := h.blob(encode(t, h.nextCreate(h.key, "the other one", h.opAt(h.head()), at)))
			tree := h.rawTree([3]string{"100644", "op.json", blob}, [3]string{"100644", "op.json", other})
			return h.plantCommit(tree, "author "+who(h)+" +0000\ncommitter "+who(h)+" +0000\n", op)
		}),
		"symlink op.json": commitCase(func(h *honest) string {
			op, blob, _ := next(h)
			tree := h.rawTree([3]string{"120000", "op.json", blob})
			return h.plantCommit(tree, "author "+who(h)+" +0000\ncommitter "+who(h)+" +0000\n", op)
		}),
		"executable op.json": commitCase(func(h *honest) string {
			op, blob, _ := next(h)
			tree := h.rawTree([3]string{"100755", "op.json", blob})
			return h.plantCommit(tree, "author "+who(h)+" +0000\ncommitter "+who(h)+" +0000\n", op)
		}),
		"gitlink beside op.json": commitCase(func(h *honest) string {
			op, blob, _ := next(h)
			tree := h.rawTree([3]string{"160000", "module", h.head()}, [3]string{"100644", "op.json", blob})
			return h.plantCommit(tree, "author "+who(h)+" +0000\ncommitter "+who(h)+" +0000\n", op)
		}),
		"undeclared artifact": commitCase(func(h *honest) string {
			op, blob, _ := next(h)
			art := h.rawTree([3]string{"100644", "x.txt", blob})
			tree := h.rawTree([3]string{"40000", "artifacts", art}, [3]string{"100644", "op.json", blob})
			return h.plantCommit(tree, "author "+who(h)+" +0000\ncommitter "+who(h)+" +0000\n", op)
		}),
		"differently cased op fields": commitCase(func(h *honest) string {
			op, _, _ := next(h)
			raw := replaceOnce(t, encode(t, op), `"actor":`, `"ACtor":`)
			tree := h.opTree(h.blob(raw))
			return h.plantCommit(tree, "author "+who(h)+" +0000\ncommitter "+who(h)+" +0000\n", op)
		}),
		"op dated 9999-12-31": commitCase(func(h *honest) string {
			op, _, _ := next(h)
			raw := replaceOnce(t, encode(t, op), `"time":"2026-06-01T12:00:00Z"`, `"time":"9999-12-31T00:00:00Z"`)
			tree := h.opTree(h.blob(raw))
			far := "alice <" + h.key + "@covenant.invalid> 253402214400 +0000"
			return h.plantCommit(tree, "author "+far+"\ncommitter "+far+"\n", op)
		}),
		"symbolic ref loop": func(h *honest) (string, string, string) {
			k := strings.Repeat("a", 32)
			h.git("symbolic-ref", gitstore.FeedRef(k), gitstore.FeedRef(k))
			return ledger.KindBadRef, k, ""
		},
		"symbolic ref to a feed": func(h *honest) (string, string, string) {
			k := strings.Repeat("b", 32)
			h.git("symbolic-ref", gitstore.FeedRef(k), h.ref)
			return ledger.KindBadRef, k, ""
		},
		"tag as feed tip": func(h *honest) (string, string, string) {
			k := strings.Repeat("c", 32)
			h.git("tag", "-a", "-m", "a tag", "t1", h.head())
			tag := h.git("rev-parse", "refs/tags/t1")
			h.git("update-ref", gitstore.FeedRef(k), tag)
			return ledger.KindMalformed, k, tag
		},
		"blob as feed tip": func(h *honest) (string, string, string) {
			k := strings.Repeat("d", 32)
			blob := h.blob([]byte("not a commit\n"))
			h.git("update-ref", gitstore.FeedRef(k), blob)
			return ledger.KindMalformed, k, blob
		},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHonest(t)
			honestHead := h.head()
			kind, feed, commit := p(h)
			h.expectCaught(kind, feed, commit, []string{"planted", "the other one"}, nil)
			// Honest history still folds and reads go on.
			if got := titles(h.taskList()); !slices.Equal(got, []string{"alpha", "bravo", "charlie"}) {
				t.Fatalf("task list after planting: %v", got)
			}
			h.mustCLI("task", "show", h.ids["alpha"])
			h.mustCLI("task", "resume", h.ids["bravo"], "--json")
			// Writes of the honest identity go on where its own feed is not
			// the broken one.
			if feed != h.key {
				if _, err := h.open().CreateTask(context.Background(), tasks.CreateBody{Title: "delta"}); err != nil {
					t.Fatalf("write beside a bad ref: %v", err)
				}
				if res := h.cli("verify"); res.code != 10 {
					t.Fatalf("verify after the write: %s", res)
				}
			} else if h.head() == honestHead {
				t.Fatal("the plant did not move the feed")
			}
		})
	}
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// TestMalformedRemoteHead: a remote's feed head with an author line
// without <email> (stock git stores and serves it) is refused and named by
// sync, which still applies and pushes everything else.
func TestMalformedRemoteHead(t *testing.T) {
	h := newHonest(t)
	h.mustCLI("id", "new", "bob", "--role", "agent")
	h.mustCLI("id", "register", "bob", "--role", "agent", "--key", filepath.Join(h.home, "identities", "bob", "key.pub"), "--grant", "task.create")
	bare := filepath.Join(t.TempDir(), "remote.git")
	h.gitRaw(h.dir, nil, "init", "-q", "--bare", bare)
	h.git("remote", "add", "origin", bare)
	h.mustCLI("sync")
	// Plant the malformed commit on the remote only.
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	op := h.nextCreate(h.key, "planted", h.opAt(h.head()), at)
	tree := h.opTree(h.blob(encode(t, op)))
	bad := h.plantCommit(tree, "author alice "+unix(at)+" +0000\ncommitter alice <"+h.key+"@covenant.invalid> "+unix(at)+" +0000\n", op)
	h.git("push", "-q", bare, bad+":"+h.ref)
	// Bob writes; his op must reach the remote.
	res := h.cli("--as", "bob", "task", "create", "bob's task")
	if res.code != 0 {
		t.Fatalf("bob's create: %s", res)
	}
	bobKey := ""
	for k := range h.feeds() {
		if k != h.key {
			bobKey = k
		}
	}
	res = h.cli("sync")
	if res.code != 10 || !strings.Contains(res.stdout+res.stderr, ledger.KindMalformed) || !strings.Contains(res.stdout+res.stderr, bad[:12]) {
		t.Fatalf("sync with a malformed remote head: want exit 10 naming it, got %s", res)
	}
	if got, want := strings.TrimSpace(string(h.gitRaw(bare, nil, "rev-parse", gitstore.FeedRef(bobKey)))), h.git("rev-parse", gitstore.FeedRef(bobKey)); got != want {
		t.Fatalf("bob's feed on the remote is %s, want %s", got, want)
	}
	if h.head() == bad {
		t.Fatal("the malformed head was applied locally")
	}
	if got := titles(h.taskList()); !slices.Contains(got, "bob's task") || slices.Contains(got, "planted") {
		t.Fatalf("task list after sync: %v", got)
	}
	h.verifyClean()
}
