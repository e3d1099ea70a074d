package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/runner"
)

// ErrStagingLocked means a ref lock in a remote's staging namespace may
// still be in use: a process recorded as its owner runs, or no owner is
// recorded (a git fetch git-covenant did not start).
var ErrStagingLocked = errors.New("staging ref is locked")

// stagingOwner records, while a fetch into a remote's staging namespace
// runs, which processes may hold ref locks there: this process and its
// git child, each by pid and start time (.git/covenant/staging/<remote>.owner).
// A lock found there later is removed only when every recorded process is
// gone, so a fetch that outlived a killed sync keeps its live locks.
type stagingOwner struct {
	path  string
	procs []runner.Process
}

func ownerPath(st *gitstore.Store, name string) (string, error) {
	d, err := st.CovenantDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "staging", name+".owner"), nil
}

// claimStaging clears the locks a dead fetch left in name's staging
// namespace and records this process as the owner of the next one. It
// refuses while a recorded owner still runs, or when locks have no owner.
func claimStaging(st *gitstore.Store, name string) (*stagingOwner, error) {
	path, err := ownerPath(st, name)
	if err != nil {
		return nil, err
	}
	self, err := runner.Self()
	if err != nil {
		return nil, err
	}
	prev, recorded, err := readOwner(path)
	if err != nil {
		return nil, err
	}
	locks, err := stagingLocks(st, name)
	if err != nil {
		return nil, err
	}
	for _, p := range prev {
		if p != self && p.Alive() {
			what := path
			if len(locks) > 0 {
				what = locks[0]
			}
			return nil, &gitstore.LockError{Path: what, Err: ErrStagingLocked,
				Reason: fmt.Sprintf("process %d of an earlier fetch still runs", p.Pid)}
		}
	}
	if len(locks) > 0 && !recorded {
		return nil, &gitstore.LockError{Path: locks[0], Err: ErrStagingLocked,
			Reason: "no git-covenant fetch owns it (a plain git fetch may be running)"}
	}
	for _, l := range locks {
		if err := os.Remove(l); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	o := &stagingOwner{path: path, procs: []runner.Process{self}}
	return o, o.write()
}

// child adds the fetch's git process to the record.
func (o *stagingOwner) child(pid int) {
	if p, err := runner.Lookup(pid); err == nil {
		o.procs = append(o.procs, p)
		o.write()
	}
}

// release removes the record: the fetch is over and its git child reaped.
func (o *stagingOwner) release() { os.Remove(o.path) }

func (o *stagingOwner) write() error {
	if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	for _, p := range o.procs {
		b.WriteString(p.String() + "\n")
	}
	tmp := o.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, o.path)
}

// readOwner reads an owner record; recorded is false when there is none.
// An unreadable line counts as a process that is gone.
func readOwner(path string) (procs []runner.Process, recorded bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if p, err := runner.ParseProcess(line); err == nil {
			procs = append(procs, p)
		}
	}
	return procs, true, nil
}

// stagingLocks lists the *.lock files under a remote's staging namespace.
func stagingLocks(st *gitstore.Store, name string) ([]string, error) {
	root := filepath.Join(st.CommonDir, filepath.FromSlash(string(stageOf(name))))
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".lock") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
