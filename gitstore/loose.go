package gitstore

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Loose objects are written here rather than through go-git's storer, with
// the few system calls git itself uses: the name is hashed in memory, the
// zlib stream goes to a temporary file created in the object's own
// directory (so the rename cannot cross a file system), its times are set
// PruneGrace ahead (see WriteObject) before it is renamed into place, and a
// missing objects/xx directory is made only when the create says so. go-git
// creates the temporary file in objects/, stats and makes the directory on
// every write, changes the file's mode afterwards and allocates a new zlib
// compressor for every object; on an op write that was a third of the
// time (docs/perf.md).
//
// The compression level is git's default for loose objects
// (core.looseCompression unset: 1, best speed).

// zlibPool keeps compressors between writes: a new one allocates about
// 800 KiB of tables.
var zlibPool = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed)
	return w
}}

// pid is this process's id, for names of temporary files.
var pid = os.Getpid()

// tmpSeq makes temporary object names unique within the process; the pid
// makes them unique between processes.
var tmpSeq atomic.Uint64

// writeLoose stores content as a loose object and returns its name. A
// killed process leaves at most a temporary file (which `git prune`
// removes), never a partial object under its name.
func (s *Store) writeLoose(t ObjectType, content []byte) (Hash, error) {
	h := HashObject(t, content)
	var buf bytes.Buffer
	buf.Grow(len(content)/2 + 64)
	zw := zlibPool.Get().(*zlib.Writer)
	zw.Reset(&buf)
	zw.Write([]byte(string(t) + " " + strconv.Itoa(len(content)) + "\x00"))
	zw.Write(content)
	err := zw.Close()
	zlibPool.Put(zw)
	if err != nil {
		return ZeroHash, err
	}
	hex := h.String()
	dir := filepath.Join(s.CommonDir, "objects", hex[:2])
	tmp := filepath.Join(dir, "tmp_obj_"+strconv.Itoa(pid)+"_"+strconv.FormatUint(tmpSeq.Add(1), 10))
	fd, err := createExcl(tmp, 0o444)
	if errors.Is(err, fs.ErrNotExist) {
		// A new fan-out directory, or `git prune` removed the empty one.
		if merr := os.Mkdir(dir, 0o755); merr != nil && !errors.Is(merr, fs.ErrExist) {
			return ZeroHash, merr
		}
		fd, err = createExcl(tmp, 0o444)
	}
	if err != nil {
		return ZeroHash, &fs.PathError{Op: "create", Path: tmp, Err: err}
	}
	err = writeAll(fd, buf.Bytes())
	if cerr := syscall.Close(fd); err == nil {
		err = cerr
	}
	if err == nil {
		future := time.Now().Add(PruneGrace)
		err = os.Chtimes(tmp, future, future)
	}
	if err == nil {
		err = rename(tmp, filepath.Join(dir, hex[2:]))
	}
	if err != nil {
		os.Remove(tmp)
		return ZeroHash, fmt.Errorf("write %s %s: %w", t, hex, err)
	}
	return h, nil
}

// createExcl creates a new file for writing, failing if it exists.
func createExcl(path string, mode uint32) (int, error) {
	return openFile(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, mode)
}

// openFile is open(2), retried when interrupted.
func openFile(path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := syscall.Open(path, flags, mode)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// writeAll writes b to fd, retrying short writes and interrupts.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// rename is os.Rename without its look at the destination first (it
// refuses to replace a directory, which a file never is here).
func rename(from, to string) error {
	if err := syscall.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// readSmall reads a small file (a ref) with the least system calls:
// os.ReadFile also stats the file and tries to register it with the
// poller. Errors are *fs.PathError, as os.ReadFile returns them.
func readSmall(path string) ([]byte, error) {
	var fd int
	var err error
	for {
		if fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0); err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	buf := make([]byte, 0, 128)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		short := n < cap(buf)-len(buf)
		buf = buf[:len(buf)+n]
		if short {
			// A short read of a regular file on Linux is its end; what
			// grows meanwhile is a concurrent write, which a ref update
			// never is (it renames a whole new file into place).
			return buf, nil
		}
	}
}
