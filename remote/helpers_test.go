package remote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/remote"
)

// binPath is the git-covenant binary TestMain builds for the tests that
// run whole CLI processes; gitHome is the HOME every git process of the
// tests uses, with an empty global config.
var binPath, gitHome string

// agentScopes are what the non-root identities of a cluster are granted.
var agentScopes = []string{"task.create", "task.claim", "task.move", "task.handoff", "task.comment"}

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "remote-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Built before HOME changes below, so the go build cache is found.
	if binPath, err = testgit.BuildBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	gitHome = filepath.Join(tmp, "home")
	os.MkdirAll(gitHome, 0o755)
	os.WriteFile(filepath.Join(gitHome, ".gitconfig"), nil, 0o644)
	// The git processes sync starts in-process inherit this environment:
	// never the user's configuration.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "GIT_") {
			os.Unsetenv(k)
		}
	}
	for k, v := range map[string]string{
		"HOME": gitHome, "XDG_CONFIG_HOME": filepath.Join(gitHome, ".config"),
		"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": filepath.Join(gitHome, ".gitconfig"),
		"GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
		"GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
		"GIT_TERMINAL_PROMPT": "0",
	} {
		os.Setenv(k, v)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// clone is one machine: a clone of the shared remote with its own keystore.
type clone struct {
	t    testing.TB
	name string // its identity
	dir  string
	home string // GIT_COVENANT_HOME
	now  func() time.Time
}

func (c *clone) getenv(k string) string {
	if k == "GIT_COVENANT_HOME" {
		return c.home
	}
	return os.Getenv(k)
}

// repo opens the clone through the service layer.
func (c *clone) repo() *covenant.Service {
	c.t.Helper()
	r, err := covenant.Open(context.Background(), covenant.Options{Dir: c.dir, Getenv: c.getenv, Env: c.env(), Now: c.now})
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

func (c *clone) env(extra ...string) []string {
	return append(append(os.Environ(), "GIT_COVENANT_HOME="+c.home), extra...)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cli runs the git-covenant binary in the clone.
func (c *clone) cli(args ...string) result {
	c.t.Helper()
	return run(c.dir, c.env(), binPath, args...)
}

func (c *clone) mustCLI(args ...string) string {
	c.t.Helper()
	res := c.cli(args...)
	if res.code != 0 {
		c.t.Fatalf("%s: git-covenant %s: %s", c.name, strings.Join(args, " "), res)
	}
	return res.stdout
}

func run(dir string, env []string, bin string, args ...string) result {
	var res result
	res.stdout, res.stderr, res.code = testgit.Exec(dir, env, bin, args...)
	return res
}

// git runs git in dir and returns its trimmed output.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	res := run(dir, os.Environ(), "git", args...)
	if res.code != 0 {
		t.Fatalf("git %s: %s", strings.Join(args, " "), res)
	}
	return strings.TrimSpace(res.stdout)
}

func (c *clone) git(args ...string) string {
	c.t.Helper()
	return git(c.t, c.dir, args...)
}

// sync syncs in-process and fails the test on error or findings.
func (c *clone) sync() *remote.SyncReport {
	c.t.Helper()
	rep, err := c.repo().Sync(context.Background(), "origin")
	if err != nil {
		c.t.Fatalf("%s: sync: %v", c.name, err)
	}
	if !rep.OK() {
		c.t.Fatalf("%s: sync findings: %v", c.name, rep.Findings)
	}
	return rep
}

func (c *clone) create(title string) string {
	c.t.Helper()
	r := c.repo()
	tk, err := r.CreateTask(context.Background(), taskBody(title))
	if err != nil {
		c.t.Fatalf("%s: create: %v", c.name, err)
	}
	return tk.ID
}

func (c *clone) digest() string {
	c.t.Helper()
	return strings.TrimSpace(c.mustCLI("state", "digest"))
}

// feedRefs is for-each-ref of the feeds: name and value.
func (c *clone) feedRefs() string {
	c.t.Helper()
	return c.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/covenant/feeds/")
}

// cluster is a bare remote and clones of it. Clone 0 is the trust root
// (alice); the others are registered agents with agentScopes.
type cluster struct {
	t      testing.TB
	url    string
	bare   string
	clones []*clone
}

// newCluster makes a remote reached over transport ("file" or "http")
// and n clones, each synced once so they all know every identity.
func newCluster(t testing.TB, transport string, names ...string) *cluster {
	t.Helper()
	base := t.TempDir()
	cl := &cluster{t: t, bare: filepath.Join(base, "srv", "remote.git")}
	git(t, base, "init", "-q", "--bare", "-b", "main", cl.bare)
	switch transport {
	case "file":
		cl.url = "file://" + cl.bare
	case "http":
		git(t, cl.bare, "config", "http.receivepack", "true")
		cl.url = serveGit(t, filepath.Join(base, "srv")) + "/remote.git"
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	for i, name := range names {
		c := &clone{t: t, name: name, dir: filepath.Join(base, name), home: filepath.Join(base, "keys-"+name)}
		git(t, base, "clone", "-q", cl.url, c.dir)
		if i == 0 {
			os.WriteFile(filepath.Join(c.dir, "README"), []byte("hello\n"), 0o644)
			c.git("add", "README")
			c.git("commit", "-q", "-m", "initial")
			if _, err := c.repo().Init(context.Background(), covenant.InitRequest{Name: name}); err != nil {
				t.Fatal(err)
			}
			c.git("push", "-q", "origin", "main")
		} else {
			c.git("pull", "-q", "origin", "main")
			ks := &identity.Keystore{Dir: c.home}
			id, err := ks.New(name, identity.Agent, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.clones[0].repo().RegisterIdentity(context.Background(), name, identity.Agent, identity.FormatPublicKey(id.PublicKey), agentScopes); err != nil {
				t.Fatal(err)
			}
		}
		cl.clones = append(cl.clones, c)
	}
	cl.clones[0].sync()
	for _, c := range cl.clones[1:] {
		c.sync()
	}
	return cl
}

// converge syncs every clone until none has anything to exchange.
func (cl *cluster) converge() {
	cl.t.Helper()
	for round := 0; round < 4; round++ {
		quiet := true
		for _, c := range cl.clones {
			rep := c.sync()
			if len(rep.Received)+len(rep.Sent) > 0 || rep.Notes.Received != "" {
				quiet = false
			}
		}
		if quiet && round > 0 {
			return
		}
	}
	cl.t.Fatal("clones did not converge in 4 rounds of sync")
}

// assertConverged checks that every clone has the same feeds as the
// remote, the same state digest and byte-identical task list --json.
func (cl *cluster) assertConverged() {
	cl.t.Helper()
	remoteFeeds := git(cl.t, cl.bare, "for-each-ref", "--format=%(refname) %(objectname)", "refs/covenant/feeds/")
	first := cl.clones[0]
	wantDigest, wantList := first.digest(), first.mustCLI("task", "list", "--json")
	for _, c := range cl.clones {
		if got := c.feedRefs(); got != remoteFeeds {
			cl.t.Fatalf("%s feeds:\n%s\nremote:\n%s", c.name, got, remoteFeeds)
		}
		if got := c.digest(); got != wantDigest {
			cl.t.Fatalf("%s state digest %s, %s has %s", c.name, got, first.name, wantDigest)
		}
		if got := c.mustCLI("task", "list", "--json"); got != wantList {
			cl.t.Fatalf("%s task list differs from %s's:\n%s\nwant:\n%s", c.name, first.name, got, wantList)
		}
	}
}

// serveGit serves the repositories under root over git's smart HTTP
// protocol: git http-backend behind net/http/cgi on a loopback port.
func serveGit(t testing.TB, root string) string {
	t.Helper()
	execPath := git(t, "", "--exec-path")
	h := &cgi.Handler{
		Path:   filepath.Join(execPath, "git-http-backend"),
		Logger: log.New(io.Discard, "", 0), // killed clients make it complain
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "HOME=" + gitHome,
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + filepath.Join(gitHome, ".gitconfig")},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// logCount is how many ops `git covenant log --json` lists.
func (c *clone) logCount() int {
	c.t.Helper()
	var log []json.RawMessage
	if err := json.Unmarshal([]byte(c.mustCLI("log", "--json")), &log); err != nil {
		c.t.Fatal(err)
	}
	return len(log)
}

// feedLength counts the commits of every feed.
func (c *clone) feedLength() int {
	c.t.Helper()
	n := 0
	for _, line := range strings.Split(c.git("for-each-ref", "--format=%(refname)", "refs/covenant/feeds/"), "\n") {
		if line != "" {
			n += len(strings.Fields(c.git("rev-list", "--first-parent", line)))
		}
	}
	return n
}

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return lines
}
