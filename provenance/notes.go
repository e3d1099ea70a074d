package provenance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

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

// AppendNote adds one bundle line to commit's note with the git binary
// (git notes --ref=covenant append), so git's own locking and notes merge
// rules apply; g runs git in the repository.
func AppendNote(ctx context.Context, g *gitstore.Git, commit gitstore.Hash, bundle []byte) error {
	if bytes.ContainsAny(bundle, "\n") {
		return fmt.Errorf("bundle is not one line")
	}
	stdin := bytes.NewReader(append(append([]byte(nil), bundle...), '\n'))
	_, err := g.Output(ctx, []string{"notes", "--ref=" + strings.TrimPrefix(NotesRef, "refs/notes/"), "append", "-F", "-", commit.String()},
		gitstore.WithStdin(stdin))
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
