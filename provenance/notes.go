package provenance

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/git-covenant/git-covenant/attest"
	"github.com/git-covenant/git-covenant/gitstore"
)

// Notes maps annotated objects to the blob of their note on NotesRef.
type Notes map[gitstore.Hash]gitstore.Hash

// ReadNotes lists the notes on NotesRef, following git's fan-out
// directories (ab/cdef…). No notes ref means no notes.
func ReadNotes(st *gitstore.Store) (Notes, error) {
	out := Notes{}
	head, ok, err := st.ReadRef(NotesRef)
	if err != nil || !ok {
		return out, err
	}
	c, err := st.ReadCommit(head)
	if err != nil {
		// A notes ref at a blob or tag (fetched straight from a hostile
		// remote) holds no notes.
		return out, nil
	}
	return out, walkNotes(st, c.Tree, "", out)
}

func walkNotes(st *gitstore.Store, tree gitstore.Hash, prefix string, out Notes) error {
	es, err := st.ReadTree(tree)
	if err != nil {
		return err
	}
	for _, e := range es {
		name := prefix + e.Name
		if e.IsTree() {
			if len(name) < 40 {
				if err := walkNotes(st, e.Hash, name, out); err != nil {
					return err
				}
			}
			continue
		}
		if e.Mode != "100644" && e.Mode != "100755" {
			continue // symlinks and gitlinks are no notes
		}
		if h, err := gitstore.ParseHash(name); err == nil {
			out[h] = e.Hash
		}
	}
	return nil
}

// Bundles returns the non-empty lines of a note: one sigstore bundle each.
func (n Notes) Bundles(st *gitstore.Store, commit gitstore.Hash) ([][]byte, error) {
	blob, ok := n[commit]
	if !ok {
		return nil, nil
	}
	b, err := st.ReadTyped(blob, gitstore.BlobObject)
	if err != nil {
		return nil, nil // not a blob: no note
	}
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = append(out, line)
		}
	}
	return out, nil
}

// NoteAppend is a notes commit built on the notes ref's head but not yet
// published: Publish moves the ref from Old to New. Its new objects (the
// note, the trees above it, the commit) are in one pack kept from git's
// maintenance until then (gitstore.Store.WriteKept), so a `git gc
// --prune=now` running meanwhile cannot delete them.
type NoteAppend struct {
	Old, New gitstore.Hash
}

// BuildNoteAppend builds the notes commit that adds one bundle line to
// commit's note on NotesRef, by who: the note keeps its lines and gains
// this one, wherever git's fan-out put it; a commit without a note gets a
// new one at the fan-out depth the tree already uses. A note entry that
// is not a readable blob (a hostile remote's) is replaced, as it holds no
// evidence.
func BuildNoteAppend(st *gitstore.Store, commit gitstore.Hash, bundle []byte, who gitstore.Person) (*NoteAppend, error) {
	if bytes.ContainsAny(bundle, "\n") || len(bytes.TrimSpace(bundle)) == 0 {
		return nil, fmt.Errorf("bundle is not one line")
	}
	old, ok, err := st.ReadRef(NotesRef)
	if err != nil {
		return nil, err
	}
	var tree gitstore.Hash
	var parents []gitstore.Hash
	if ok {
		c, err := st.ReadCommit(old)
		if err != nil {
			return nil, fmt.Errorf("%s is not a notes commit: %w", NotesRef, err)
		}
		tree, parents = c.Tree, []gitstore.Hash{old}
	}
	var objs gitstore.Objects
	line := append(append([]byte(nil), bundle...), '\n')
	tree, err = putNote(st, &objs, tree, commit.String(), line)
	if err != nil {
		return nil, err
	}
	c := &gitstore.Commit{Tree: tree, Parents: parents, Author: who, Committer: who,
		Message: "Notes added by 'git covenant provenance record'\n"}
	head := objs.Add(gitstore.CommitObject, c.EncodeUnsigned())
	if err := st.WriteKept(&objs, head); err != nil {
		return nil, err
	}
	return &NoteAppend{Old: old, New: head}, nil
}

// putNote returns tree (zero: empty) with line appended to the note named
// name, adding the new trees and blob to objs.
func putNote(st *gitstore.Store, objs *gitstore.Objects, tree gitstore.Hash, name string, line []byte) (gitstore.Hash, error) {
	var entries []gitstore.TreeEntry
	if !tree.IsZero() {
		var err error
		if entries, err = st.ReadTree(tree); err != nil {
			return gitstore.ZeroHash, err
		}
	}
	for i, e := range entries {
		switch {
		case e.Name == name && !e.IsTree():
			content, err := st.ReadTyped(e.Hash, gitstore.BlobObject)
			if err != nil || (e.Mode != "100644" && e.Mode != "100755") {
				content = nil // no note: replaced
			}
			if len(content) > 0 && content[len(content)-1] != '\n' {
				content = append(content, '\n')
			}
			entries[i] = gitstore.TreeEntry{Name: name, Mode: "100644",
				Hash: objs.Add(gitstore.BlobObject, append(append([]byte(nil), content...), line...))}
			return objs.Add(gitstore.TreeObject, gitstore.EncodeTree(entries)), nil
		case e.IsTree() && len(name) > 2 && e.Name == name[:2]:
			sub, err := putNote(st, objs, e.Hash, name[2:], line)
			if err != nil {
				return gitstore.ZeroHash, err
			}
			entries[i].Hash = sub
			return objs.Add(gitstore.TreeObject, gitstore.EncodeTree(entries)), nil
		}
	}
	// A new note, at this level or, when the tree fans out here, below.
	for _, e := range entries {
		if e.IsTree() && len(e.Name) == 2 && len(name) > 2 {
			sub, err := putNote(st, objs, gitstore.ZeroHash, name[2:], line)
			if err != nil {
				return gitstore.ZeroHash, err
			}
			entries = append(entries, gitstore.TreeEntry{Name: name[:2], Mode: "40000", Hash: sub})
			return objs.Add(gitstore.TreeObject, gitstore.EncodeTree(entries)), nil
		}
	}
	entries = append(entries, gitstore.TreeEntry{Name: name, Mode: "100644", Hash: objs.Add(gitstore.BlobObject, line)})
	return objs.Add(gitstore.TreeObject, gitstore.EncodeTree(entries)), nil
}

// Publish moves NotesRef to the built commit by compare-and-swap; a lost
// race is gitstore.ErrRefConflict and releases the built objects to git's
// maintenance.
func (a *NoteAppend) Publish(st *gitstore.Store) error {
	if err := st.UpdateRef(NotesRef, a.Old, a.New); err != nil {
		st.Release(a.New)
		return err
	}
	return nil
}

// noteAttempts bounds the retries of a note append whose ref another
// writer moved first.
const noteAttempts = 16

// AppendNote adds one bundle line to commit's note on NotesRef by who,
// building the notes commit on the ref's head and moving the ref by
// compare-and-swap, again on the new head when another writer (git notes,
// a sync's notes merge) moved it first.
func AppendNote(st *gitstore.Store, commit gitstore.Hash, bundle []byte, who gitstore.Person) error {
	var err error
	for attempt := 0; attempt < noteAttempts; attempt++ {
		var a *NoteAppend
		if a, err = BuildNoteAppend(st, commit, bundle, who); err != nil {
			return err
		}
		if err = a.Publish(st); !errors.Is(err, gitstore.ErrRefConflict) {
			return err
		}
	}
	return err
}

// KeyHint returns the public-key hint of a bundle, "" if it has none.
func KeyHint(bundle []byte) string {
	env, err := attest.Parse(bundle)
	if err != nil {
		return ""
	}
	return env.KeyHint
}

// PublicKeyPEM encodes an ed25519 public key as PKIX PEM ("PUBLIC KEY"),
// the form cosign --key reads.
func PublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
