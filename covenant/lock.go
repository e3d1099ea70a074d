package covenant

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LockWait bounds how long a writer waits for another git-covenant process.
var LockWait = 60 * time.Second

// lock takes the repository-wide writer lock (.git/covenant/write.lock,
// flock). The kernel drops it when a process dies, so a killed writer never
// leaves it held. While held, ref updates record their intent so a ref lock
// abandoned by a killed writer can be recovered.
func (r *Repo) lock() (unlock func(), err error) {
	d, err := r.dir()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(d, "write.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(LockWait)
	told := false
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, err
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w: another git-covenant process has held %s for %s", ErrBusy, f.Name(), LockWait)
		}
		if !told && time.Until(deadline) < LockWait-time.Second {
			r.progressf("waiting for another git-covenant process to finish...")
			told = true
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.Store.SetIntentPath(filepath.Join(d, "ref-intent"))
	if p, err := r.Store.RecoverStaleLock(); err != nil {
		r.progressf("warning: could not recover stale ref lock: %v", err)
	} else if p != "" {
		r.progressf("removed %s left by a killed writer", p)
	}
	return func() {
		r.Store.SetIntentPath("")
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
