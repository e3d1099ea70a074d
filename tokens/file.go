package tokens

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// FileName is the token file's name in the covenant directory.
const FileName = "tokens.json"

// fileFormat is the token file's JSON.
type fileFormat struct {
	Version int     `json:"version"`
	Tokens  []Token `json:"tokens"`
}

// File is the local token file. It is safe for concurrent use, also across
// processes: changes take a lock file (flock) and replace the file with a
// rename, so a reader sees the old file or the new one, never a mix.
// Authenticate re-reads the file when it changed on disk (one stat per
// call), so a token revoked or rotated by another process is refused at
// once.
type File struct {
	Path string

	mu    sync.Mutex
	stamp [4]int64
	cache []Token
}

// NewFile returns the token file of a covenant directory.
func NewFile(covDir string) *File { return &File{Path: filepath.Join(covDir, FileName)} }

// Load reads every token; a missing file has none.
func (f *File) Load() ([]Token, error) {
	raw, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return []Token{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFile, err)
	}
	return parse(raw)
}

func parse(raw []byte) ([]Token, error) {
	var ff fileFormat
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ff); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFile, err)
	}
	if ff.Version != 1 {
		return nil, fmt.Errorf("%w: version %d (this build reads 1)", ErrFile, ff.Version)
	}
	for i := range ff.Tokens {
		if err := ff.Tokens[i].check(); err != nil {
			return nil, err
		}
	}
	if ff.Tokens == nil {
		ff.Tokens = []Token{}
	}
	return ff.Tokens, nil
}

// Update changes the tokens under the file's lock: fn gets them as on disk
// and the result is written back (mode 0600, atomically) unless fn fails.
func (f *File) Update(fn func(ts []Token) ([]Token, error)) error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return fmt.Errorf("%w: %v", ErrFile, err)
	}
	lk, err := os.OpenFile(f.Path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFile, err)
	}
	defer lk.Close()
	if err := syscall.Flock(int(lk.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("%w: lock: %v", ErrFile, err)
	}
	defer syscall.Flock(int(lk.Fd()), syscall.LOCK_UN)
	ts, err := f.Load()
	if err != nil {
		return err
	}
	ts, err = fn(ts)
	if err != nil {
		return err
	}
	return f.write(ts)
}

// write replaces the file: a temporary file of mode 0600 in the same
// directory, synced, renamed over it, and the directory synced.
func (f *File) write(ts []Token) error {
	b, err := json.MarshalIndent(fileFormat{Version: 1, Tokens: ts}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.Path)
	tmp, err := os.CreateTemp(dir, ".tokens-*.tmp")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFile, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: %v", ErrFile, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: %v", ErrFile, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: %v", ErrFile, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%w: %v", ErrFile, err)
	}
	if err := os.Rename(name, f.Path); err != nil {
		return fmt.Errorf("%w: %v", ErrFile, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Authenticate returns the live token whose hash the secret has. Every
// stored hash is compared in constant time, so neither timing nor the
// order of the file tells which token or how much of it matched. An
// unknown, rotated (old secret), revoked or expired token is ErrRefused.
func (f *File) Authenticate(secret string, now time.Time) (*Token, error) {
	ts, err := f.current()
	if err != nil {
		return nil, err
	}
	h := Hash(secret)
	var found *Token
	for i := range ts {
		if subtle.ConstantTimeCompare([]byte(ts[i].SHA256), []byte(h)) == 1 {
			found = &ts[i]
		}
	}
	switch {
	case found == nil:
		return nil, fmt.Errorf("%w: no token has this secret (a rotated token's old secret is dead)", ErrRefused)
	case found.RevokedAt != nil:
		return nil, fmt.Errorf("%w: token %s was revoked", ErrRefused, found.Name)
	case found.ExpiresAt != nil && !now.Before(*found.ExpiresAt):
		return nil, fmt.Errorf("%w: token %s expired at %s", ErrRefused, found.Name, found.ExpiresAt.Format(time.RFC3339))
	}
	t := *found
	return &t, nil
}

// current returns the tokens, re-read when the file changed.
func (f *File) current() ([]Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var st syscall.Stat_t
	var stamp [4]int64
	if err := syscall.Stat(f.Path, &st); err == nil {
		stamp = [4]int64{int64(st.Ino), st.Size, st.Mtim.Sec, st.Mtim.Nsec}
	} else if !errors.Is(err, syscall.ENOENT) {
		return nil, fmt.Errorf("%w: %v", ErrFile, err)
	}
	if f.cache != nil && stamp == f.stamp {
		return f.cache, nil
	}
	ts, err := f.Load()
	if err != nil {
		return nil, err
	}
	f.cache, f.stamp = ts, stamp
	return ts, nil
}

// Find returns the token named nameOrID (a live token by name, any by id).
func Find(ts []Token, nameOrID string) (int, error) {
	for i := range ts {
		if matches(&ts[i], nameOrID) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: %q", ErrNoSuchToken, nameOrID)
}
