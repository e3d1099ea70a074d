package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/internal/testgit"
)

// One target for this machine, built by scripts/release.sh (archive, SBOM,
// SHA256SUMS, then an audit-root attestation made by the release's own
// binary over a verified covenant history), then built again by
// internal/release alone: the release files are byte-identical, sha256sum
// accepts them, `attest verify` accepts the bundle and refuses it once an
// archive changes, and the archive's Makefile installs without Go.
func TestReleaseReproducibleAndAttested(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice with release flags")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	target := runtime.GOOS + "/" + runtime.GOARCH
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	os.MkdirAll(home, 0o755)
	env := append(testgit.Env(home), "GIT_COVENANT_HOME="+filepath.Join(home, "covenant"), "GIT_COVENANT_AS=")

	// A repository with a covenant identity, whose history attests.
	repo := testgit.Init(t)
	gcDev, err := testgit.BuildBinary(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if out, errs, st := testgit.Exec(repo, env, gcDev, "init", "--name", "releaser"); st != 0 {
		t.Fatalf("init: %s%s", out, errs)
	}

	const version = "v0.0.0-test"
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	sh := exec.Command("sh", "scripts/release.sh")
	sh.Dir = root
	sh.Env = append(env, "VERSION="+version, "DIST="+a, "RELEASE_TARGETS="+target, "COVENANT_REPO="+repo, "SOURCE_DATE_EPOCH=1767225600")
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	build := exec.Command("go", "run", "./internal/release", "-version", version, "-out", b, "-targets", target, "-epoch", "1767225600")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("second build: %v\n%s", err, out)
	}
	sumsA, _ := os.ReadFile(filepath.Join(a, "SHA256SUMS"))
	sumsB, _ := os.ReadFile(filepath.Join(b, "SHA256SUMS"))
	if len(sumsA) == 0 || !bytes.Equal(sumsA, sumsB) {
		t.Fatalf("not reproducible:\n%s\n---\n%s", sumsA, sumsB)
	}
	if n := strings.Count(string(sumsA), "\n"); n != 2 {
		t.Fatalf("SHA256SUMS lists %d files, want the archive and the SBOM:\n%s", n, sumsA)
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = a
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}

	// The SBOM names the main module at the version and its modules.
	var bom struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct{ Name, Version string }
		Metadata   struct {
			Component struct{ Name, Version string }
		}
	}
	raw, _ := os.ReadFile(filepath.Join(a, "git-covenant-"+version+".cdx.json"))
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range bom.Components {
		found = found || (c.Name == "go.etcd.io/bbolt" && c.Version != "")
	}
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Version != version || !found {
		t.Fatalf("sbom: %s", raw)
	}

	// The archive installs with make, no Go on PATH, and the binary
	// reports the version.
	host := runtime.GOOS + "-" + runtime.GOARCH
	archive := filepath.Join(a, "git-covenant-"+version+"-"+host+".tar.gz")
	x := filepath.Join(tmp, "x")
	os.MkdirAll(x, 0o755)
	if out, err := exec.Command("tar", "-xzf", archive, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	prefix := filepath.Join(tmp, "prefix")
	mk := exec.Command("make", "-C", filepath.Join(x, "git-covenant-"+version+"-"+host), "install", "PREFIX="+prefix)
	mk.Env = append(env, "PATH=/usr/bin:/bin")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, f := range []string{"bin/git-covenant", "share/man/man1/git-covenant.1", "share/bash-completion/completions/git-covenant", "share/zsh/site-functions/_git-covenant"} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("make install: %v", err)
		}
	}
	gc := filepath.Join(prefix, "bin", "git-covenant")
	if out, _, _ := testgit.Exec(repo, env, gc, "--version"); !strings.Contains(out, version) {
		t.Errorf("--version: %q", out)
	}

	// The attestation verifies, binds every release file, and fails once
	// an archive changes.
	bundle := filepath.Join(a, "git-covenant-"+version+".audit.sigstore.json")
	out, errs, st := testgit.Exec(repo, env, gc, "attest", "verify", bundle, "--json")
	if st != 0 {
		t.Fatalf("attest verify: %d %s%s", st, out, errs)
	}
	for _, name := range []string{filepath.Base(archive), "SHA256SUMS", "git-covenant-" + version + ".cdx.json"} {
		if !strings.Contains(out, name) {
			t.Errorf("attest verify does not name %s: %s", name, out)
		}
	}
	data, _ := os.ReadFile(archive)
	data[len(data)/2] ^= 1
	os.WriteFile(archive, data, 0o644)
	if out, errs, st := testgit.Exec(repo, env, gc, "attest", "verify", bundle); st != 10 {
		t.Fatalf("attest verify of a changed archive: exit %d, want 10\n%s%s", st, out, errs)
	}
}
