package daemon

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// DefaultLogMax is the size at which daemon.log is rotated.
const DefaultLogMax = 10 << 20

// RotatingLog is an append-only log file that, past Max bytes, is renamed
// to <path>.1 (replacing the previous one) and started again.
type RotatingLog struct {
	Path string
	Max  int64

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenLog opens (creating) a rotating log.
func OpenLog(path string, max int64) (*RotatingLog, error) {
	if max <= 0 {
		max = DefaultLogMax
	}
	l := &RotatingLog{Path: path, Max: max}
	return l, l.open()
}

func (l *RotatingLog) open() error {
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first if it would pass Max.
func (l *RotatingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(p)) > l.Max {
		l.f.Close()
		os.Rename(l.Path, l.Path+".1")
		if err := l.open(); err != nil {
			l.f = nil
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// Close closes the file.
func (l *RotatingLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// logger writes timestamped lines.
type logger struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s\n", l.now().UTC().Format("2006-01-02T15:04:05.000Z"), fmt.Sprintf(format, args...))
}
