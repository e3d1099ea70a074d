package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/runner"
)

var (
	// ErrRunning means another daemon holds this clone's lock.
	ErrRunning = errors.New("a daemon is already running")
	// ErrNotRunning means no daemon runs for this clone.
	ErrNotRunning = errors.New("no daemon is running")
)

// Holder is the process that holds (or last held) the daemon lock.
type Holder struct {
	Process runner.Process
	Started time.Time
}

// Lock is the held daemon lock of a clone.
type Lock struct {
	f    *os.File
	path string
	// Previous is the holder recorded in the file when it was taken: a
	// daemon that died without letting go (nil if none).
	Previous *Holder
}

// LockPath is the daemon lock file in a covenant directory.
func LockPath(covDir string) string { return filepath.Join(covDir, "daemon.lock") }

// AcquireLock takes the clone's daemon lock or fails with ErrRunning naming
// the live holder. The lock is an flock on the file, which the kernel drops
// when its holder dies however it dies, so a lock left by a dead daemon is
// simply taken (Previous names it); the file's content only names holders.
func AcquireLock(covDir string) (*Lock, error) {
	p := LockPath(covDir)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	prev, _ := readHolder(f)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if prev != nil {
				return nil, fmt.Errorf("%w: pid %d, started %s (lock %s)", ErrRunning, prev.Process.Pid, prev.Started.Format(time.RFC3339), p)
			}
			return nil, fmt.Errorf("%w (lock %s)", ErrRunning, p)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	me, err := runner.Self()
	if err != nil {
		f.Close()
		return nil, err
	}
	line := fmt.Sprintf("%s %s\n", me, time.Now().UTC().Format(time.RFC3339Nano))
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(line), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	l := &Lock{f: f, path: p}
	if prev != nil && prev.Process != me {
		l.Previous = prev
	}
	return l, nil
}

// Release lets go of the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing drops the flock
	l.f = nil
	return err
}

// ReadHolder returns the live holder of a clone's daemon lock, or
// ErrNotRunning. A holder is live when the lock is held (an flock probe
// fails) and the recorded process runs with its recorded start time.
func ReadHolder(covDir string) (*Holder, error) {
	f, err := os.Open(LockPath(covDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return nil, ErrNotRunning
	}
	h, err := readHolder(f)
	if err != nil || h == nil || !h.Process.Alive() {
		return nil, ErrNotRunning
	}
	return h, nil
}

func readHolder(f *os.File) (*Holder, error) {
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	fs := strings.Fields(string(b[:n]))
	if len(fs) < 3 {
		return nil, nil
	}
	p, err := runner.ParseProcess(fs[0] + " " + fs[1])
	if err != nil {
		return nil, err
	}
	t, _ := time.Parse(time.RFC3339Nano, fs[2])
	return &Holder{Process: p, Started: t}, nil
}
