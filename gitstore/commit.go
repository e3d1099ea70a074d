package gitstore

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// SignatureNamespace is the SSHSIG namespace git uses for commit signatures.
const SignatureNamespace = "git"

// Person is an author or committer line.
type Person struct {
	Name  string
	Email string
	When  time.Time
	// Zone is the time zone offset as read ("+0000"); lines this package
	// writes always carry +0000.
	Zone string
}

func (p Person) encode() string {
	return fmt.Sprintf("%s <%s> %d +0000", p.Name, p.Email, p.When.Unix())
}

var zoneRE = &lazyre.Regexp{Expr: `^[+-][0-9]{4}$`}

func parsePerson(s string) (Person, error) {
	lt, gt := strings.IndexByte(s, '<'), strings.LastIndexByte(s, '>')
	if lt < 1 || gt < lt {
		return Person{}, fmt.Errorf("%w: bad identity line %q (no <email>)", ErrMalformedCommit, s)
	}
	fields := strings.Fields(s[gt+1:])
	if len(fields) != 2 {
		return Person{}, fmt.Errorf("%w: bad identity line %q", ErrMalformedCommit, s)
	}
	secs, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return Person{}, fmt.Errorf("%w: bad timestamp %q", ErrMalformedCommit, fields[0])
	}
	if !zoneRE.MatchString(fields[1]) {
		return Person{}, fmt.Errorf("%w: bad time zone %q", ErrMalformedCommit, fields[1])
	}
	return Person{Name: strings.TrimSpace(s[:lt]), Email: s[lt+1 : gt], When: time.Unix(secs, 0).UTC(), Zone: fields[1]}, nil
}

// Commit is a commit object as git-covenant writes and reads it.
type Commit struct {
	Tree      Hash
	Parents   []Hash
	Author    Person
	Committer Person
	Message   string

	// Signature is the armored SSHSIG signature from the gpgsig header, if any.
	Signature []byte
	// Payload is the commit with its signature header removed: the bytes the
	// signature covers.
	Payload []byte
	// Extra lists headers other than tree, parent, author, committer, gpgsig.
	Extra []string
	// Problems lists what in the headers does not parse (an author line
	// without <email>, a bad time zone, a second signature, a missing
	// header). Stock git stores such commits; reading one never fails, so
	// a feed commit is reported as malformed instead of stopping a walk.
	Problems []string
}

// EncodeUnsigned returns the commit object content without a signature.
func (c *Commit) EncodeUnsigned() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "tree %s\n", c.Tree)
	for _, p := range c.Parents {
		fmt.Fprintf(&b, "parent %s\n", p)
	}
	fmt.Fprintf(&b, "author %s\ncommitter %s\n\n%s", c.Author.encode(), c.Committer.encode(), c.Message)
	return b.Bytes()
}

// withSignature inserts a gpgsig header after the committer line, in the
// layout git itself produces.
func withSignature(unsigned, armored []byte) []byte {
	end := bytes.Index(unsigned, []byte("\n\n"))
	var b bytes.Buffer
	b.Grow(len(unsigned) + len(armored) + 16)
	b.Write(unsigned[:end+1])
	b.WriteString("gpgsig ")
	lines := strings.Split(strings.TrimSuffix(string(armored), "\n"), "\n")
	b.WriteString(strings.Join(lines, "\n "))
	b.WriteByte('\n')
	b.Write(unsigned[end+1:])
	return b.Bytes()
}

// SignCommit signs the commit's payload with an SSH key (SSHSIG, namespace
// "git", SHA-512) and returns the full signed commit object content.
func SignCommit(c *Commit, signer ssh.Signer) ([]byte, error) {
	unsigned := c.EncodeUnsigned()
	sig, err := sshsig.Sign(bytes.NewReader(unsigned), signer, sshsig.HashSHA512, SignatureNamespace)
	if err != nil {
		return nil, fmt.Errorf("sign commit: %w", err)
	}
	return withSignature(unsigned, sshsig.Armor(sig)), nil
}

// ParseCommit decodes a raw commit object, separating the signature from the
// payload it covers. Only a commit whose tree or parents cannot be named
// fails (ErrMalformedCommit); other header problems are listed in Problems.
func ParseCommit(raw []byte) (*Commit, error) {
	end := bytes.Index(raw, []byte("\n\n"))
	if end < 0 {
		return nil, fmt.Errorf("%w: no message separator", ErrMalformedCommit)
	}
	c := &Commit{Message: string(raw[end+2:])}
	var payload bytes.Buffer
	var sig strings.Builder
	inSig := false
	seen := map[string]int{}
	for _, line := range strings.Split(string(raw[:end]), "\n") {
		if strings.HasPrefix(line, " ") {
			if inSig {
				sig.WriteString("\n" + line[1:])
			} else {
				payload.WriteString(line + "\n")
			}
			continue
		}
		inSig = false
		key, val, _ := strings.Cut(line, " ")
		seen[key]++
		var err error
		switch key {
		case "tree":
			if seen[key] > 1 {
				return nil, fmt.Errorf("%w: two tree headers", ErrMalformedCommit)
			}
			c.Tree, err = ParseHash(val)
		case "parent":
			var p Hash
			p, err = ParseHash(val)
			c.Parents = append(c.Parents, p)
		case "author", "committer":
			p, perr := parsePerson(val)
			switch {
			case seen[key] > 1:
				c.Problems = append(c.Problems, "two "+key+" headers")
			case perr != nil:
				c.Problems = append(c.Problems, key+" header: "+strings.TrimPrefix(perr.Error(), ErrMalformedCommit.Error()+": "))
			case key == "author":
				c.Author = p
			default:
				c.Committer = p
			}
		case "gpgsig":
			if seen[key] > 1 {
				c.Problems = append(c.Problems, "two signatures")
				c.Extra = append(c.Extra, key)
				payload.WriteString(line + "\n")
				continue
			}
			inSig = true
			sig.WriteString(val)
			continue
		default:
			c.Extra = append(c.Extra, key)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s header: %v", ErrMalformedCommit, key, err)
		}
		payload.WriteString(line + "\n")
	}
	for _, h := range []string{"tree", "author", "committer"} {
		if seen[h] == 0 {
			if h == "tree" {
				return nil, fmt.Errorf("%w: no tree header", ErrMalformedCommit)
			}
			c.Problems = append(c.Problems, "no "+h+" header")
		}
	}
	if sig.Len() > 0 {
		c.Signature = []byte(sig.String() + "\n")
	}
	payload.WriteString("\n")
	payload.Write(raw[end+2:])
	c.Payload = payload.Bytes()
	return c, nil
}

// VerifyCommit checks that the commit carries an SSHSIG signature in the
// "git" namespace made by pub over exactly its payload.
func VerifyCommit(c *Commit, pub ssh.PublicKey) error {
	if len(c.Signature) == 0 {
		return fmt.Errorf("%w: commit is not signed", ErrBadSignature)
	}
	sig, err := sshsig.Unarmor(c.Signature)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if err := sshsig.Verify(bytes.NewReader(c.Payload), sig, pub, sig.HashAlgorithm, SignatureNamespace); err != nil {
		if err == sshsig.ErrPublicKeyMismatch {
			return fmt.Errorf("%w: signed by another key (%s)", ErrBadSignature, ssh.FingerprintSHA256(sig.PublicKey))
		}
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return nil
}

// WriteCommit stores raw commit content and returns its name.
func (s *Store) WriteCommit(raw []byte) (Hash, error) { return s.WriteObject(CommitObject, raw) }

// ReadCommit reads and parses a commit object.
func (s *Store) ReadCommit(h Hash) (*Commit, error) {
	raw, err := s.ReadTyped(h, CommitObject)
	if err != nil {
		return nil, err
	}
	return ParseCommit(raw)
}
