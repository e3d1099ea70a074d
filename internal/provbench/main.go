// Command provbench measures the provenance figures of `make bench`: the
// pre-push verification of 10 new commits on a history of many attested
// commits (`git covenant verify <old>..<new> --require-provenance` as a
// whole process) and the throughput of `verify` over 1,000 attested
// commits, each next to a floor measured in the same run (git rev-list of
// the same range, git notes list).
//
// The history is generated fast: commits with git fast-import, bundles
// signed in-process through the provenance and attest packages with the
// identity's key, and the notes written by one more fast-import.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"github.com/git-covenant/git-covenant/identity"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/internal/bench"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/provenance"
)

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "provbench: "+format+"\n", args...) }

func main() {
	bin := flag.String("bin", "bin/git-covenant", "git-covenant binary")
	flag.Parse()
	if err := run(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "provbench:", err)
		os.Exit(1)
	}
}

func run(binPath string) error {
	n := bench.EnvInt("BENCH_PROV_COMMITS", 10000)
	through := bench.EnvInt("BENCH_PROV_RANGE", 1000)
	runs := bench.EnvInt("BENCH_RUNS", 20)
	bin, err := filepath.Abs(binPath)
	if err != nil {
		return err
	}
	_, dir, r, cleanup, err := bench.Workspace("git-covenant-provbench-")
	if err != nil {
		return err
	}
	defer cleanup()
	start := time.Now()
	// n attested commits, then 10 more: the push.
	if err := commits(dir, n+10); err != nil {
		return err
	}
	list, err := bench.Git(dir, "rev-list", "--reverse", "main")
	if err != nil {
		return err
	}
	all := strings.Fields(list)
	attested := all[len(all)-(n+10):]
	logf("%d commits made in %s", len(attested), time.Since(start).Round(time.Millisecond))
	signStart := time.Now()
	if err := attest(r, dir, attested); err != nil {
		return err
	}
	logf("%d bundles signed and noted in %s", len(attested), time.Since(signStart).Round(time.Millisecond))
	if _, err := bench.Git(dir, "repack", "-adq"); err != nil {
		return err
	}
	if _, err := bench.Git(dir, "branch", "-q", "old", "main~10"); err != nil {
		return err
	}
	// The objects moved into one pack: open the repository afresh.
	if r, err = bench.Open(dir); err != nil {
		return err
	}
	// Check once in-process that every commit of both ranges verifies.
	for _, rng := range []string{"old..main", fmt.Sprintf("main~%d..main", through)} {
		cs, err := r.RevList(context.Background(), []string{rng})
		if err != nil {
			return err
		}
		rep, err := r.VerifyProvenance(context.Background(), covenant.ProvenanceOptions{Commits: cs, Require: true})
		if err != nil {
			return err
		}
		if f := rep.Failures(); f > 0 {
			return fmt.Errorf("%s: %d commit(s) fail provenance verification", rng, f)
		}
	}

	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	timeIt := func(k int, args ...string) (bench.Stats, error) {
		p := bench.Proc{Dir: dir, Args: args, Stdout: devnull}
		if _, err := p.Time(); err != nil { // warm
			return bench.Stats{}, err
		}
		var ds []time.Duration
		for i := 0; i < k; i++ {
			d, err := p.Time()
			if err != nil {
				return bench.Stats{}, err
			}
			ds = append(ds, d)
		}
		return bench.Summarize(ds), nil
	}
	push, err := timeIt(runs, bin, "verify", "old..main", "--require-provenance")
	if err != nil {
		return err
	}
	pushRevList, err := timeIt(runs, "git", "rev-list", "old..main")
	if err != nil {
		return err
	}
	notesList, err := timeIt(runs, "git", "notes", "--ref=covenant", "list")
	if err != nil {
		return err
	}
	// The same through the installed pre-push hook, as git runs it.
	os.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if _, err := (bench.Proc{Dir: dir, Args: []string{bin, "hooks", "install"}, Stdout: devnull}).Time(); err != nil {
		return err
	}
	if _, err := (bench.Proc{Dir: dir, Args: []string{bin, "config", "provenance.require", "refs/heads/main"}, Stdout: devnull}).Time(); err != nil {
		return err
	}
	oldSHA, err := bench.Git(dir, "rev-parse", "old")
	if err != nil {
		return err
	}
	newSHA, err := bench.Git(dir, "rev-parse", "main")
	if err != nil {
		return err
	}
	hookPath, err := bench.Git(dir, "rev-parse", "--git-path", "hooks/pre-push")
	if err != nil {
		return err
	}
	hook, err := timeIt(runs, "sh", "-c", fmt.Sprintf("echo 'refs/heads/main %s refs/heads/main %s' | %s origin /nonexistent", newSHA, oldSHA, hookPath))
	if err != nil {
		return err
	}
	rng := fmt.Sprintf("main~%d..main", through)
	thr, err := timeIt(5, bin, "verify", rng, "--require-provenance")
	if err != nil {
		return err
	}
	thrRevList, err := timeIt(5, "git", "rev-list", rng)
	if err != nil {
		return err
	}
	// The floor for throughput: git reading as many note blobs.
	catNotes, err := timeIt(5, "sh", "-c", fmt.Sprintf("git notes --ref=covenant list | head -n %d | cut -d' ' -f1 | git cat-file --batch >/dev/null", through))
	if err != nil {
		return err
	}

	fmt.Printf("\n## Provenance (`go run ./internal/provbench`, BENCH_PROV_COMMITS=%d, BENCH_PROV_RANGE=%d)\n\n", n, through)
	fmt.Println("| figure | target | measured | floor | floor measured | ratio | met? |")
	fmt.Println("|---|---|---|---|---|---|---|")
	fmt.Printf("| pre-push: `verify old..main --require-provenance`, 10 new commits on %d attested, warm | < 100 ms | %s (median of %d, min %s) | `git rev-list old..main` / `git notes --ref=covenant list` | %s / %s | %.1fx / %.1fx | %s |\n",
		n, ms(push.Median), push.N, ms(push.Min), ms(pushRevList.Median), ms(notesList.Median),
		float64(push.Median)/float64(pushRevList.Median), float64(push.Median)/float64(notesList.Median), met(push.Median < 100*time.Millisecond))
	fmt.Printf("| pre-push hook script itself (`rev-list` + `verify --stdin --ref refs/heads/main`, provenance required by policy), same 10 commits | < 100 ms | %s (median of %d, min %s) | `git rev-list old..main` | %s | %.1fx | %s |\n",
		ms(hook.Median), hook.N, ms(hook.Min), ms(pushRevList.Median), float64(hook.Median)/float64(pushRevList.Median), met(hook.Median < 100*time.Millisecond))
	fmt.Printf("| `verify %s --require-provenance`, %d attested commits | (none) | %.0f commits/s (%s, median of %d) | `git rev-list` of the range / `git notes list \\| git cat-file --batch` of %d note blobs | %s / %s | %.1fx / %.1fx | - |\n",
		rng, through, float64(through)/thr.Median.Seconds(), ms(thr.Median), thr.N, through, ms(thrRevList.Median), ms(catNotes.Median),
		float64(thr.Median)/float64(thrRevList.Median), float64(thr.Median)/float64(catNotes.Median))
	fmt.Println()
	return nil
}

// commits appends k commits to main with git fast-import, each changing
// one of 100 files.
func commits(dir string, k int) error {
	head, err := bench.Git(dir, "rev-parse", "main")
	if err != nil {
		return err
	}
	var b bytes.Buffer
	when := time.Now().Add(-time.Hour).Unix()
	for i := 0; i < k; i++ {
		msg := fmt.Sprintf("change %d", i)
		content := fmt.Sprintf("line %d\n", i)
		fmt.Fprintf(&b, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n", when+int64(i/10), len(msg), msg)
		if i == 0 {
			fmt.Fprintf(&b, "from %s\n", head)
		}
		fmt.Fprintf(&b, "M 100644 inline src/f%02d.txt\ndata %d\n%s\n", i%100, len(content), content)
	}
	if err := fastImport(dir, &b); err != nil {
		return err
	}
	_, err = bench.Git(dir, "reset", "-q", "--hard", "main")
	return err
}

func fastImport(dir string, in io.Reader) error {
	cmd := exec.Command("git", "fast-import", "--quiet", "--force")
	cmd.Dir = dir
	cmd.Stdin = in
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git fast-import: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	return nil
}

// attest signs a passing `make test` bundle for each commit in-process,
// anchors each in the identity's feed (provenance.anchor ops written
// through the service, 1,000 per ref update) and writes the bundles as
// notes on refs/notes/covenant in one fast-import.
func attest(r *covenant.Service, dir string, cs []string) error {
	id, err := r.Actor("")
	if err != nil {
		return err
	}
	kdir, err := identity.DefaultDir(os.Getenv)
	if err != nil {
		return err
	}
	signer, err := (&identity.Keystore{Dir: kdir}).Signer(id.Name)
	if err != nil {
		return err
	}
	st, err := gitstore.Open(dir)
	if err != nil {
		return err
	}
	keyID := id.KeyID
	sign := func(msg []byte) ([]byte, error) {
		s, err := signer.Sign(nil, msg)
		if err != nil {
			return nil, err
		}
		return s.Blob, nil
	}
	now := time.Now()
	out := sha256.Sum256([]byte("ok\n"))
	var b bytes.Buffer
	var anchors []covenant.Draft
	w := bufio.NewWriter(&b)
	fmt.Fprintf(w, "commit %s\ncommitter Bench <bench@example.com> %d +0000\ndata 5\nbench\n", provenance.NotesRef, now.Unix())
	for _, c := range cs {
		h, err := gitstore.ParseHash(c)
		if err != nil {
			return err
		}
		ev := provenance.Evidence{Command: []string{"make", "test"}, ExitCode: 0, DurationMs: 1000,
			StartedAt: oplog.FormatTime(now), OutputSHA256: hex.EncodeToString(out[:]), OutputBytes: 3}
		pred := &provenance.Predicate{Result: provenance.Passed, Configuration: []provenance.Descriptor{{Name: "make test"}},
			Covenant: provenance.Extension{Version: 1, Actor: provenance.Actor{Name: id.Name, Key: keyID},
				RecordedAt: oplog.FormatTime(now), Evidence: ev}}
		bundle, err := provenance.Sign(st, h, pred, keyID, sign)
		if err != nil {
			return err
		}
		commit, err := st.ReadCommit(h)
		if err != nil {
			return err
		}
		changes, err := provenance.Changes(st, commit)
		if err != nil {
			return err
		}
		anchors = append(anchors, covenant.Draft{Type: provenance.OpAnchor, Summary: "provenance " + c[:12],
			Body: provenance.AnchorBody{Commit: c, Bundle: provenance.BundleDigest(bundle), Paths: provenance.ChangedPaths(changes)}})
		fmt.Fprintf(w, "N inline %s\ndata %d\n%s\n\n", c, len(bundle)+1, bundle)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// Each bundle's provenance.anchor op, in batches of 1,000 per ref update.
	for len(anchors) > 0 {
		k := min(len(anchors), 1000)
		if _, err := r.Append(context.Background(), anchors[:k]); err != nil {
			return err
		}
		anchors = anchors[k:]
	}
	return fastImport(dir, &b)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
