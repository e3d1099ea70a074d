// Command release builds the release files of `make release VERSION=vX.Y.Z`
// (issue 17) into -out: for each target a reproducible archive
// git-covenant-<version>-<os>-<arch>.tar.gz holding the static binary,
// its man pages and shell completions, README.md and a Makefile whose
// `make install` needs no Go; a CycloneDX SBOM of the modules built into
// the binary (from its own build information, no network); and
// SHA256SUMS over them, in sha256sum's format.
//
// Reproducible: CGO_ENABLED=0, -trimpath, -buildvcs=false, -buildid= and
// the version as the only stamped value; archive entries in name order
// with fixed owner, modes and time (-epoch, default the commit time of
// HEAD), gzip without a name or time. The same source and Go toolchain
// give the same bytes, which the test checks by building twice.
//
// The attestation over these files is made afterwards with git-covenant
// itself (scripts/release.sh): `attest audit-root` over a verified history.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Targets are the platforms a release is built for.
var Targets = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}

const module = "github.com/git-covenant/git-covenant"

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

func main() {
	version := flag.String("version", "", "release version, vX.Y.Z")
	out := flag.String("out", "", "directory to write the release files to (must not exist or be empty)")
	targets := flag.String("targets", strings.Join(Targets, ","), "comma-separated os/arch list")
	epoch := flag.Int64("epoch", -1, "time stamp of archive entries, unix seconds (default: $SOURCE_DATE_EPOCH, else HEAD's commit time)")
	flag.Parse()
	if err := run(*version, *out, strings.Split(*targets, ","), *epoch); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "release: "+format+"\n", args...) }

func run(version, out string, targets []string, epoch int64) error {
	if !versionRE.MatchString(version) {
		return fmt.Errorf("VERSION %q: give vMAJOR.MINOR.PATCH, e.g. VERSION=v1.2.3", version)
	}
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty: release files are written to a fresh directory", out)
	}
	if epoch < 0 {
		var err error
		if epoch, err = sourceEpoch(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "git-covenant-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Man pages and completions are the same on every platform: made by
	// a binary for this machine, built with the same flags.
	host := filepath.Join(tmp, "host", "git-covenant")
	if err := build(version, runtime.GOOS+"/"+runtime.GOARCH, host); err != nil {
		return err
	}
	shared := map[string][]byte{}
	manDir := filepath.Join(tmp, "man")
	if err := exec.Command(host, "gen-man", manDir).Run(); err != nil {
		return fmt.Errorf("gen-man: %w", err)
	}
	pages, err := os.ReadDir(manDir)
	if err != nil {
		return err
	}
	for _, p := range pages {
		b, err := os.ReadFile(filepath.Join(manDir, p.Name()))
		if err != nil {
			return err
		}
		shared["share/man/man1/"+p.Name()] = b
	}
	for shell, path := range map[string]string{
		"bash": "share/bash-completion/completions/git-covenant",
		"zsh":  "share/zsh/site-functions/_git-covenant",
		"fish": "share/fish/vendor_completions.d/git-covenant.fish",
	} {
		b, err := exec.Command(host, "completion", shell).Output()
		if err != nil {
			return fmt.Errorf("completion %s: %w", shell, err)
		}
		shared[path] = b
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		return err
	}
	shared["README.md"] = readme
	shared["Makefile"] = []byte(installMakefile)

	var files []string
	var sbomFrom string
	for _, t := range targets {
		goos, goarch, ok := strings.Cut(t, "/")
		if !ok {
			return fmt.Errorf("target %q: give os/arch", t)
		}
		bin := filepath.Join(tmp, goos+"-"+goarch, "git-covenant")
		logf("building %s", t)
		if err := build(version, t, bin); err != nil {
			return err
		}
		if sbomFrom == "" {
			sbomFrom = bin
		}
		raw, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		entries := map[string][]byte{"bin/git-covenant": raw}
		for k, v := range shared {
			entries[k] = v
		}
		name := fmt.Sprintf("git-covenant-%s-%s-%s.tar.gz", version, goos, goarch)
		if err := writeArchive(filepath.Join(out, name), strings.TrimSuffix(name, ".tar.gz"), entries, epoch); err != nil {
			return err
		}
		files = append(files, name)
	}
	sbom, err := SBOM(sbomFrom, version)
	if err != nil {
		return err
	}
	sbomName := fmt.Sprintf("git-covenant-%s.cdx.json", version)
	if err := os.WriteFile(filepath.Join(out, sbomName), sbom, 0o644); err != nil {
		return err
	}
	files = append(files, sbomName)
	sort.Strings(files)
	var sums bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), f)
	}
	if err := os.WriteFile(filepath.Join(out, "SHA256SUMS"), sums.Bytes(), 0o644); err != nil {
		return err
	}
	logf("wrote %d files and SHA256SUMS to %s", len(files), out)
	return nil
}

// build compiles the command for target with the release flags.
func build(version, target, out string) error {
	goos, goarch, _ := strings.Cut(target, "/")
	cmd := exec.Command(goTool(), "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X "+module+"/cli.Version="+version,
		"-o", out, "./cmd/git-covenant")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=-mod=readonly")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w", target, err)
	}
	return nil
}

func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// sourceEpoch is $SOURCE_DATE_EPOCH, else the commit time of HEAD.
func sourceEpoch() (int64, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		return strconv.ParseInt(s, 10, 64)
	}
	b, err := exec.Command("git", "log", "-1", "--format=%ct", "HEAD").Output()
	if err != nil {
		return 0, fmt.Errorf("HEAD's commit time (set SOURCE_DATE_EPOCH outside a git checkout): %w", err)
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// writeArchive writes a gzipped tar of entries under dir/, in name order,
// owned by 0:0, with directory entries, modes 0755 for bin/ and 0644
// otherwise, and every time set to epoch.
func writeArchive(path, dir string, entries map[string][]byte, epoch int64) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	mtime := time.Unix(epoch, 0).UTC()
	names := make([]string, 0, len(entries))
	dirs := map[string]bool{}
	for n := range entries {
		names = append(names, n)
		for d := filepath.Dir(n); d != "."; d = filepath.Dir(d) {
			dirs[d+"/"] = true
		}
	}
	for d := range dirs {
		names = append(names, d)
	}
	names = append(names, "")
	sort.Strings(names)
	for _, n := range names {
		h := &tar.Header{Name: dir + "/" + n, ModTime: mtime, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		switch {
		case n == "" || strings.HasSuffix(n, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case strings.HasPrefix(n, "bin/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o755, int64(len(entries[n]))
		default:
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(entries[n]))
		}
		// PAX without access/change times: only ModTime, fixed.
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(entries[n]); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// installMakefile is the archive's own Makefile: install without Go.
const installMakefile = `# git-covenant release archive: make install [PREFIX=~/.local]
PREFIX ?= $(HOME)/.local
.PHONY: install
install:
	mkdir -p $(PREFIX)/bin $(PREFIX)/share/man/man1 $(PREFIX)/share/bash-completion/completions $(PREFIX)/share/zsh/site-functions $(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 bin/git-covenant $(PREFIX)/bin/git-covenant
	install -m 0644 share/man/man1/*.1 $(PREFIX)/share/man/man1/
	install -m 0644 share/bash-completion/completions/git-covenant $(PREFIX)/share/bash-completion/completions/git-covenant
	install -m 0644 share/zsh/site-functions/_git-covenant $(PREFIX)/share/zsh/site-functions/_git-covenant
	install -m 0644 share/fish/vendor_completions.d/git-covenant.fish $(PREFIX)/share/fish/vendor_completions.d/git-covenant.fish
	@echo "installed $(PREFIX)/bin/git-covenant; with $(PREFIX)/bin on PATH, run: git covenant --help"
`

// SBOM is a CycloneDX 1.5 document of the modules built into the binary
// at bin, read from the binary's own build information: the main module
// at version, each dependency with its version, go.sum hash and package
// URL, and the Go toolchain. It has no time stamp or random serial
// number, so it is reproducible too.
func SBOM(bin, version string) ([]byte, error) {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	type prop struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	type component struct {
		Type       string `json:"type"`
		BOMRef     string `json:"bom-ref"`
		Name       string `json:"name"`
		Version    string `json:"version"`
		PURL       string `json:"purl,omitempty"`
		Properties []prop `json:"properties,omitempty"`
	}
	main := component{Type: "application", BOMRef: "pkg:golang/" + module + "@" + version, Name: module, Version: version,
		PURL: "pkg:golang/" + module + "@" + version}
	for _, s := range info.Settings {
		main.Properties = append(main.Properties, prop{"go:build:" + s.Key, s.Value})
	}
	var comps []component
	var refs []string
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		c := component{Type: "library", Name: m.Path, Version: m.Version, PURL: "pkg:golang/" + m.Path + "@" + m.Version}
		c.BOMRef = c.PURL
		if m.Sum != "" {
			c.Properties = append(c.Properties, prop{"go:module:sum", m.Sum})
		}
		if d.Replace != nil {
			c.Properties = append(c.Properties, prop{"go:module:replaces", d.Path + "@" + d.Version})
		}
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	goc := component{Type: "platform", Name: "go", Version: strings.TrimPrefix(info.GoVersion, "go"), BOMRef: "go@" + info.GoVersion}
	comps = append(comps, goc)
	doc := map[string]any{
		"bomFormat":   "CycloneDX",
		"specVersion": "1.5",
		"version":     1,
		"metadata": map[string]any{
			"component": main,
			"tools":     map[string]any{"components": []component{{Type: "application", BOMRef: "internal/release", Name: module + "/internal/release", Version: version}}},
		},
		"components":   comps,
		"dependencies": []map[string]any{{"ref": main.BOMRef, "dependsOn": append(refs, goc.BOMRef)}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
