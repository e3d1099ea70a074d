package daemon

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/runner"
)

// Phases of a run, as its state file records them.
const (
	phaseClaiming = "claiming" // the claim may or may not have been written
	phaseClaimed  = "claimed"  // the lease is held; the process may have started
	phaseRecorded = "recorded" // the run record is written; the lease remains to give back
)

// runState is what a restarted daemon needs to re-adopt or close a run:
// written before the claim, updated after it, when the process starts and
// when the record is written, removed when the run is over.
type runState struct {
	Run      string    `json:"run"`
	Agent    string    `json:"agent"` // manifest name
	Identity string    `json:"identity"`
	Task     string    `json:"task"`
	Epoch    uint64    `json:"epoch,omitempty"`
	Phase    string    `json:"phase"`
	Pid      int       `json:"pid,omitempty"`
	Start    uint64    `json:"start,omitempty"` // the process's start time (runner.Process)
	Began    time.Time `json:"began"`
	Command  string    `json:"command,omitempty"`
	Worktree string    `json:"worktree,omitempty"`
	Branch   string    `json:"branch,omitempty"`
	Base     string    `json:"base,omitempty"`
	// TokenSHA256 is the hash of the run's token: a re-adopted run's agent
	// keeps talking to the new daemon with the token it has.
	TokenSHA256 string `json:"token_sha256,omitempty"`
	RunDir      string `json:"run_dir,omitempty"` // token and temp files, outside the worktree
	Handoffs    int    `json:"handoffs"`          // the task's handoff count when the run began
}

func (s *runState) process() runner.Process { return runner.Process{Pid: s.Pid, Start: s.Start} }

// stateStore keeps run state files in a directory.
type stateStore struct{ dir string }

func (st stateStore) path(run string) string { return filepath.Join(st.dir, run+".json") }

// write stores a state file atomically (write, rename). Not fsynced: what
// it guards against is a daemon killed, which loses no page cache; after
// a machine crash the run's process is gone anyway and its lease expires.
func (st stateStore) write(run string, b []byte) error {
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return err
	}
	tmp := st.path(run) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, st.path(run))
}

// update changes a run's state under the daemon's lock (status and the
// reaper read it) and writes it to its file.
func (d *Daemon) update(st *runState, change func()) error {
	d.mu.Lock()
	if change != nil {
		change()
	}
	b, err := json.MarshalIndent(st, "", "  ")
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return d.states.write(st.Run, b)
}

func (st stateStore) remove(run string) error {
	err := os.Remove(st.path(run))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// list reads every state file, oldest run first; unreadable ones are
// returned by name in bad.
func (st stateStore) list() (out []*runState, bad []string, err error) {
	ents, err := os.ReadDir(st.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(st.dir, name)) // a write the crash interrupted; the old file stands
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(st.dir, name))
		var s runState
		if err == nil {
			err = json.Unmarshal(b, &s)
		}
		if err != nil || s.Run+".json" != name {
			bad = append(bad, name)
			continue
		}
		out = append(out, &s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Began.Before(out[j].Began) })
	return out, bad, nil
}
