package gitstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// FeedPrefix is the ref namespace holding one signed op chain per actor key.
const FeedPrefix = "refs/covenant/feeds/"

// OpFile is the tree entry holding the operation's canonical JSON.
const OpFile = "op.json"

// ArtifactDir is the subtree holding blobs that ride along with an op.
const ArtifactDir = "artifacts"

// FeedRef returns the ref name of a key's feed.
func FeedRef(keyID string) string { return FeedPrefix + keyID }

// Record is one operation to append to a feed.
type Record struct {
	Op        []byte            // canonical JSON
	Artifacts map[string][]byte // optional files under artifacts/
	Message   string            // commit message (summary and trailers)
	Author    Person            // also used as committer
}

// FeedCommit is one commit of a feed, read back and checked for shape.
type FeedCommit struct {
	Hash      Hash
	Commit    *Commit
	Op        []byte
	OpBlob    Hash
	Artifacts map[string]Hash
	// Problem is set when the commit does not have the shape of a feed
	// commit (extra parents, headers or files); the walk still continues
	// along the first parent so later commits can be checked too.
	Problem error
}

// ErrNotAncestor means a feed no longer contains a commit it used to have.
var ErrNotAncestor = errors.New("feed does not descend from the expected commit")

// BuildFeedCommits writes the objects for records chained onto parent and
// returns the commit names, oldest first. Nothing is visible until the
// caller moves the feed ref with UpdateRef.
//
// The objects go into one pack kept from git's maintenance (see pack.go)
// until UpdateRef moves a ref to the last commit; a caller that gives up
// before that calls Release with it.
func (s *Store) BuildFeedCommits(parent Hash, recs []Record, signer ssh.Signer) ([]Hash, error) {
	out := make([]Hash, 0, len(recs))
	var objs Objects
	add := objs.Add
	for _, r := range recs {
		opBlob := add(BlobObject, r.Op)
		entries := []TreeEntry{{Name: OpFile, Mode: "100644", Hash: opBlob}}
		if len(r.Artifacts) > 0 {
			var art []TreeEntry
			for name, content := range r.Artifacts {
				if name == "" || strings.ContainsAny(name, "/\x00") {
					return nil, fmt.Errorf("artifact name %q: %w", name, ErrMalformedCommit)
				}
				art = append(art, TreeEntry{Name: name, Mode: "100644", Hash: add(BlobObject, content)})
			}
			entries = append(entries, TreeEntry{Name: ArtifactDir, Mode: "40000", Hash: add(TreeObject, EncodeTree(art))})
		}
		tree := add(TreeObject, EncodeTree(entries))
		c := &Commit{Tree: tree, Author: r.Author, Committer: r.Author, Message: r.Message}
		if !parent.IsZero() {
			c.Parents = []Hash{parent}
		}
		raw, err := SignCommit(c, signer)
		if err != nil {
			return nil, err
		}
		h := add(CommitObject, raw)
		out = append(out, h)
		parent = h
	}
	if len(out) == 0 {
		return out, nil
	}
	if err := s.WriteKept(&objs, out[len(out)-1]); err != nil {
		return nil, err
	}
	return out, nil
}

// FeedHeads lists every feed: key id to head commit.
func (s *Store) FeedHeads() (map[string]Hash, error) {
	refs, err := s.ListRefs(FeedPrefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Hash, len(refs))
	for name, h := range refs {
		out[strings.TrimPrefix(name, FeedPrefix)] = h
	}
	return out, nil
}

// ReadFeedCommit reads one feed commit and its op, recording shape problems
// in Problem. Errors are returned only for missing or corrupt objects.
func (s *Store) ReadFeedCommit(h Hash) (*FeedCommit, error) {
	c, err := s.ReadCommit(h)
	if err != nil {
		return nil, err
	}
	return s.completeFeedCommit(h, c)
}

// completeFeedCommit reads the tree and op of a parsed feed commit. A feed
// commit's tree is exactly one regular file op.json and at most one
// artifacts/ directory of regular files: no symlinks, executables,
// gitlinks, nested directories, duplicate names or other entries.
func (s *Store) completeFeedCommit(h Hash, c *Commit) (*FeedCommit, error) {
	var err error
	fc := &FeedCommit{Hash: h, Commit: c}
	problems := append([]string{}, c.Problems...)
	if len(c.Parents) > 1 {
		problems = append(problems, fmt.Sprintf("merge commit with %d parents (feeds are linear)", len(c.Parents)))
	}
	if len(c.Extra) > 0 {
		problems = append(problems, "unexpected commit headers: "+strings.Join(c.Extra, ", "))
	}
	for _, p := range []struct {
		what string
		p    Person
	}{{"author", c.Author}, {"committer", c.Committer}} {
		if p.p.Zone != "" && p.p.Zone != "+0000" {
			problems = append(problems, fmt.Sprintf("%s time zone %s (feed commits use +0000)", p.what, p.p.Zone))
		}
	}
	entries, ps, err := s.readStrictTree(c.Tree)
	if err != nil {
		return nil, err
	}
	problems = append(problems, ps...)
	for _, e := range entries {
		switch {
		case e.Name == OpFile && e.Mode == "100644" && fc.OpBlob.IsZero():
			fc.OpBlob = e.Hash
		case e.Name == ArtifactDir && e.IsTree() && fc.Artifacts == nil:
			sub, ps, err := s.readStrictTree(e.Hash)
			if err != nil {
				return nil, err
			}
			problems = append(problems, ps...)
			fc.Artifacts = map[string]Hash{}
			if len(sub) == 0 {
				problems = append(problems, "empty artifacts directory")
			}
			for _, a := range sub {
				if a.Mode != "100644" {
					problems = append(problems, fmt.Sprintf("artifact %s has mode %s (regular files only)", a.Name, a.Mode))
					continue
				}
				if _, dup := fc.Artifacts[a.Name]; dup {
					continue // reported by readStrictTree
				}
				fc.Artifacts[a.Name] = a.Hash
			}
		case e.Name == OpFile || e.Name == ArtifactDir:
			problems = append(problems, fmt.Sprintf("%s with mode %s", e.Name, e.Mode))
		default:
			problems = append(problems, "unexpected file in op tree: "+e.Name)
		}
	}
	if fc.OpBlob.IsZero() {
		problems = append(problems, "no "+OpFile+" in tree")
	} else if fc.Op, err = s.ReadTyped(fc.OpBlob, BlobObject); err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		fc.Problem = fmt.Errorf("%w: %s", ErrMalformedCommit, strings.Join(problems, "; "))
	}
	return fc, nil
}

// readStrictTree reads a tree of a feed commit and lists what makes it
// other than git's canonical encoding of its entries: duplicate names (git
// shows one entry, a reader could use the other), order or mode spelling.
func (s *Store) readStrictTree(h Hash) ([]TreeEntry, []string, error) {
	raw, err := s.ReadTyped(h, TreeObject)
	if err != nil {
		return nil, nil, err
	}
	entries, err := ParseTree(raw)
	if err != nil {
		return nil, nil, err
	}
	var problems []string
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Name] {
			problems = append(problems, "duplicate tree entry "+e.Name)
		}
		seen[e.Name] = true
	}
	if len(problems) == 0 && !bytes.Equal(EncodeTree(entries), raw) {
		problems = append(problems, "tree "+h.Short()+" is not in git's canonical form")
	}
	return entries, problems, nil
}

// FeedCommitError is a feed commit that could not be read because it, or
// an object it names, is missing or damaged.
type FeedCommitError struct {
	Commit Hash
	Err    error
}

func (e *FeedCommitError) Error() string {
	return fmt.Sprintf("feed commit %s: %v", e.Commit.Short(), e.Err)
}

func (e *FeedCommitError) Unwrap() error { return e.Err }

// WalkFeed returns the commits after stop up to head along first parents,
// oldest first. stop == ZeroHash walks to the root. If stop is not found,
// the feed was rewritten and ErrNotAncestor is returned with the commits read.
// The chain is read in order; trees and ops of long chains are then read on
// all cores, each worker with its own object storage.
func (s *Store) WalkFeed(head, stop Hash) ([]*FeedCommit, error) {
	return s.WalkFeedContext(context.Background(), head, stop)
}

// WalkFeedContext is WalkFeed that stops with ctx's error when ctx ends,
// checked every few commits of the walk and of the parallel reads.
func (s *Store) WalkFeedContext(ctx context.Context, head, stop Hash) ([]*FeedCommit, error) {
	var hs []Hash
	var cs []*Commit
	var walkErr error
	for h := head; h != stop; {
		if h.IsZero() {
			walkErr = fmt.Errorf("%w %s", ErrNotAncestor, stop.Short())
			break
		}
		if len(hs)%cancelCheck == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		c, err := s.ReadCommit(h)
		if err != nil {
			return nil, &FeedCommitError{Commit: h, Err: err}
		}
		hs, cs = append(hs, h), append(cs, c)
		if len(c.Parents) == 0 {
			h = ZeroHash
		} else {
			h = c.Parents[0]
		}
	}
	reverse(hs)
	reverse(cs)
	out := make([]*FeedCommit, len(hs))
	errs := make([]error, len(hs))
	fill := func(st *Store, i int) { out[i], errs[i] = st.completeFeedCommit(hs[i], cs[i]) }
	if workers := runtime.GOMAXPROCS(0); len(hs) < parallelFeedRead || workers < 2 {
		for i := range hs {
			fill(s, i)
		}
	} else {
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(st *Store) {
				defer wg.Done()
				for i := w; i < len(hs); i += workers {
					if (i/workers)%cancelCheck == 0 && ctx.Err() != nil {
						return
					}
					fill(st, i)
				}
			}(s.fork())
		}
		wg.Wait()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Report the damaged commit nearest the head, as a walk from it would.
	for i := len(hs) - 1; i >= 0; i-- {
		if errs[i] != nil {
			return nil, &FeedCommitError{Commit: hs[i], Err: errs[i]}
		}
	}
	return out, walkErr
}

// cancelCheck is how many commits WalkFeedContext reads between looks at
// its context.
const cancelCheck = 64

// parallelFeedRead is the chain length from which WalkFeed reads in parallel.
const parallelFeedRead = 256

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// IsAncestor reports whether anc is reachable from h along first parents of
// a feed (feeds are linear, so that is the only path).
func (s *Store) IsAncestor(anc, h Hash) (bool, error) {
	for cur := h; !cur.IsZero(); {
		if cur == anc {
			return true, nil
		}
		c, err := s.ReadCommit(cur)
		if err != nil {
			return false, err
		}
		if len(c.Parents) == 0 {
			return false, nil
		}
		cur = c.Parents[0]
	}
	return anc.IsZero(), nil
}
