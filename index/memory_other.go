//go:build !linux

package index

import "os"

// memoryFile returns a temporary file, removed at once (it lives until
// closed); systems without memfd keep it in the temporary directory.
func memoryFile() (*os.File, error) {
	f, err := os.CreateTemp("", "git-covenant-index-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}
