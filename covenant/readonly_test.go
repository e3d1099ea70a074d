package covenant_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The read commands that must answer, and answer the same, when the
// repository cannot be written (issue 18 item 5).
func readCommands(taskID string) [][]string {
	return [][]string{
		{"task", "list", "--json"},
		{"task", "show", taskID, "--json"},
		{"task", "ready", "--json"},
		{"task", "resume", taskID},
		{"log", "--json"},
		{"state", "digest"},
		{"cap", "list", "--json"},
		{"trust", "show", "--json"},
		{"quarantine", "list"},
		{"workflow"},
		{"allowed-signers"},
		{"verify", "--json"},
		{"verify", "--full", "--json"},
	}
}

const memoryNote = "folding the feeds in memory"

// notes counts the lines of stderr that say something could not be
// written locally (the index, or verify's memory of verified heads).
func notes(stderr string) int {
	return strings.Count(stderr, memoryNote) + strings.Count(stderr, "could not remember the verified heads")
}

// staleFixture makes a covenant repository whose index is two ops behind
// its feeds (an index saved before the last writes, put back), and the
// outputs of readCommands on an up-to-date copy of it.
func staleFixture(t *testing.T) (f *fixture, taskID string, want map[string]string) {
	t.Helper()
	f = newFixture(t)
	f.initAlice()
	taskID = strings.TrimSpace(f.mustCLI("task", "create", "first"))
	f.mustCLI("task", "create", "second")
	ixPath := filepath.Join(f.dir, ".git", "covenant", "index.db")
	old, err := os.ReadFile(ixPath)
	if err != nil {
		t.Fatal(err)
	}
	f.mustCLI("task", "create", "third")
	f.mustCLI("task", "comment", taskID, "seen on a read-only disk")
	// The expected answers, from a copy whose index is current.
	ref := filepath.Join(t.TempDir(), "ref")
	if out, err := exec.Command("cp", "-a", f.dir, ref).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	want = map[string]string{}
	for _, args := range readCommands(taskID) {
		res := runIn(t, ref, f.env(), args...)
		if res.code != 0 {
			t.Fatalf("%s on the up-to-date copy: %s", strings.Join(args, " "), res)
		}
		want[strings.Join(args, " ")] = res.stdout
	}
	if err := os.WriteFile(ixPath, old, 0o644); err != nil {
		t.Fatal(err)
	}
	return f, taskID, want
}

// TestReadOnlyRepository runs every read command as an unprivileged user
// who may not write the repository: with the index behind the feeds they
// fold in memory, answer exactly what an up-to-date index answers and say
// so on stderr once; with the index current (verify included) they just
// answer. A write fails with a clear error and writes nothing.
func TestReadOnlyRepository(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run commands as another, unprivileged user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed: cannot run commands as an unprivileged user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	f, taskID, want := staleFixture(t)

	// nobody can read (and traverse to) the repository, the binary and a
	// git config, and write none of it.
	bin := filepath.Join(t.TempDir(), "git-covenant")
	copyFile(t, binPath, bin, 0o755)
	gitconfig := filepath.Join(t.TempDir(), "gitconfig")
	if err := os.WriteFile(gitconfig, []byte("[safe]\n\tdirectory = *\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "keys")
	if out, err := exec.Command("cp", "-a", f.home, keys).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if out, err := exec.Command("chown", "-R", nobody.Uid+":"+nobody.Gid, keys).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	for _, p := range []string{f.dir, bin, gitconfig, keys, f.gitHome} {
		for d := filepath.Dir(p); d != "/" && d != filepath.Dir(d); d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.Chmod(d, fi.Mode().Perm()|0o055)
			}
		}
	}
	if out, err := exec.Command("chmod", "-R", "a+rX", f.dir).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}
	asNobody := func(args ...string) result {
		cmd := exec.Command(setpriv, append([]string{"--reuid=" + nobody.Uid, "--regid=" + nobody.Gid, "--clear-groups", bin}, args...)...)
		cmd.Dir = f.dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + f.gitHome, "GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=" + gitconfig, "GIT_COVENANT_HOME=" + keys}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		res := result{stdout: stdout.String(), stderr: stderr.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run as nobody: %v", err)
		}
		return res
	}
	if res := asNobody("task", "create", "probe"); !strings.Contains(res.stderr, "not writable") {
		t.Skipf("nobody can write the repository here, nothing to test: %s", res)
	}

	before := f.covenantRefs()
	objects := f.git("count-objects", "-v")
	for _, args := range readCommands(taskID) {
		name := strings.Join(args, " ")
		res := asNobody(args...)
		if res.code != 0 {
			t.Fatalf("%s in a read-only repository with the index behind: %s", name, res)
		}
		if res.stdout != want[name] {
			t.Errorf("%s in a read-only repository answered\n%s\nwant (up-to-date index)\n%s", name, res.stdout, want[name])
		}
		if n := notes(res.stderr); n != 1 && !(n == 0 && args[0] == "workflow") {
			t.Errorf("%s: stderr says %d times that the index cannot be written, want once:\n%s", name, n, res.stderr)
		}
	}

	// A write fails with a clear error and writes nothing.
	res := asNobody("task", "create", "refused")
	if res.code != 9 || !strings.Contains(res.stderr, "repository is not writable") || !strings.Contains(res.stderr, "git-covenant: hint: run it as a user who may write") {
		t.Fatalf("task create in a read-only repository: %s", res)
	}
	if after := f.covenantRefs(); after != before {
		t.Fatalf("refs changed by reads or a refused write:\n%s\nwant\n%s", after, before)
	}
	if after := f.git("count-objects", "-v"); after != objects {
		t.Fatalf("objects changed by reads or a refused write:\n%s\nwant\n%s", after, objects)
	}

	// With the index current, reads open it read-only and say nothing.
	f.mustCLI("task", "list")
	for _, args := range [][]string{{"verify", "--json"}, {"task", "list", "--json"}} {
		name := strings.Join(args, " ")
		res := asNobody(args...)
		if res.code != 0 || res.stdout != want[name] {
			t.Fatalf("%s in a read-only repository with a current index: %s", name, res)
		}
		if strings.Contains(res.stderr, memoryNote) {
			t.Fatalf("%s folded in memory although the index is current: %s", name, res)
		}
	}
}

// TestFullDisk runs every read command in a repository on a full file
// system (a small tmpfs): with the index behind the feeds, or gone, they
// answer exactly what an up-to-date index answers; a write fails with a
// clear error and leaves nothing behind; once there is space again,
// writing works and the repository verifies.
func TestFullDisk(t *testing.T) {
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=4m,mode=0755"); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v): the full-disk case is not tested", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	f, taskID, want := staleFixture(t)
	for _, gone := range []bool{false, true} {
		dir := filepath.Join(mnt, "repo-"+strconv.FormatBool(gone))
		if out, err := exec.Command("cp", "-a", f.dir, dir).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		if gone {
			os.Remove(filepath.Join(dir, ".git", "covenant", "index.db"))
		}
		ff := *f
		ff.dir = dir
		g := &ff
		before := g.covenantRefs()
		fill := filepath.Join(mnt, "fill")
		fillDisk(t, fill)

		for _, args := range readCommands(taskID) {
			name := strings.Join(args, " ")
			res := g.cli(args...)
			if res.code != 0 {
				t.Fatalf("%s on a full disk (index gone: %v): %s", name, gone, res)
			}
			if res.stdout != want[name] {
				t.Errorf("%s on a full disk answered\n%s\nwant (up-to-date index)\n%s", name, res.stdout, want[name])
			}
			n := notes(res.stderr)
			if n > 1 || (gone && n != 1 && args[0] != "workflow") {
				t.Errorf("%s on a full disk (index gone: %v): stderr says %d times that the index cannot be written:\n%s", name, gone, n, res.stderr)
			}
		}
		if gone {
			if _, err := os.Stat(filepath.Join(dir, ".git", "covenant", "index.db")); err == nil {
				t.Fatal("reads on a full disk left an index file behind")
			}
		}

		res := g.cli("task", "create", "refused")
		if res.code != 9 || !strings.Contains(res.stderr, "repository is not writable") {
			t.Fatalf("task create on a full disk: %s", res)
		}
		if after := g.covenantRefs(); after != before {
			t.Fatalf("refs changed by a refused write:\n%s\nwant\n%s", after, before)
		}
		if left := tempFiles(t, filepath.Join(dir, ".git")); len(left) > 0 {
			t.Fatalf("a refused write left files behind: %v", left)
		}

		os.Remove(fill)
		g.mustCLI("task", "create", "after the disk was freed")
		if n := len(g.taskList()); n != 4 {
			t.Fatalf("after freeing the disk: %d tasks, want 4", n)
		}
		g.verifyClean()
		g.fsck()
		os.RemoveAll(dir)
	}
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := fh.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// Small writes too, until not even a byte fits.
	for {
		if _, err := fh.Write(buf[:1]); err != nil {
			break
		}
	}
}

// tempFiles lists lock and temporary files under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n := d.Name()
			if (strings.HasSuffix(n, ".lock") && n != "write.lock") || strings.HasPrefix(n, "tmp_") || strings.HasSuffix(n, ".tmp") {
				out = append(out, p)
			}
		}
		return nil
	})
	return out
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
