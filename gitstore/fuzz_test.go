package gitstore

import (
	"bytes"
	"testing"
)

// FuzzParseCommit checks that commit parsing never panics, that a commit
// this package encodes parses back to itself, and that the signed payload
// never contains the signature. The seeds in testdata/fuzz/FuzzParseCommit
// are the malformed headers the table test plants.
func FuzzParseCommit(f *testing.F) {
	for _, s := range commitSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseCommit(raw)
		if err != nil {
			return
		}
		// The payload is the raw commit less exactly the one gpgsig
		// header: "gpgsig ", the signature's lines, one space before
		// each continuation line. (Armor text elsewhere, as in another
		// header, is payload like any other header; a fuzzer found that
		// an earlier check on the armor's first line flagged it.)
		if len(c.Signature) > 0 && len(c.Problems) == 0 {
			header := len("gpgsig ") + len(c.Signature) + bytes.Count(c.Signature, []byte("\n")) - 1
			if bytes.Contains(c.Payload, []byte("\ngpgsig ")) || bytes.HasPrefix(c.Payload, []byte("gpgsig ")) || len(c.Payload)+header != len(raw) {
				t.Fatalf("payload holds the signature: %q (signature %q)", c.Payload, c.Signature)
			}
		}
		if len(c.Problems) == 0 && len(c.Extra) == 0 && c.Signature == nil && c.Author.Zone == "+0000" && c.Committer.Zone == "+0000" {
			if again := c.EncodeUnsigned(); bytes.Equal(again, raw) {
				back, err := ParseCommit(again)
				if err != nil || back.Tree != c.Tree || back.Message != c.Message {
					t.Fatalf("round trip of %q: %v", raw, err)
				}
			}
		}
	})
}

// FuzzParseTree checks that tree parsing never panics and that a tree in
// canonical form encodes back to the same bytes.
func FuzzParseTree(f *testing.F) {
	f.Add(EncodeTree([]TreeEntry{{Name: OpFile, Mode: "100644"}, {Name: ArtifactDir, Mode: "40000"}}))
	f.Add([]byte("100644 op.json\x00aaaaaaaaaaaaaaaaaaaa100644 op.json\x00bbbbbbbbbbbbbbbbbbbb"))
	f.Add([]byte("120000 op.json\x00aaaaaaaaaaaaaaaaaaaa"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		entries, err := ParseTree(raw)
		if err != nil {
			return
		}
		enc := EncodeTree(entries)
		if again, err := ParseTree(enc); err != nil || len(again) != len(entries) {
			t.Fatalf("re-encoded tree does not parse back: %v", err)
		}
	})
}

const seedTree = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"

var commitSeeds = []string{
	seedTree + "author a <a@covenant.invalid> 1767225600 +0000\ncommitter a <a@covenant.invalid> 1767225600 +0000\n\nmsg\n",
	seedTree + "author a 1767225600 +0000\ncommitter a <a@x> 1767225600 +0000\n\nno email\n",
	seedTree + "author a <a@x> 1767225600 +25:00\ncommitter a <a@x> 1767225600 +0000\n\nbad zone\n",
	seedTree + "author a <a@x> 1767225600 +0000\ncommitter a <a@x> 1767225600 +0000\nencoding latin1\n\nextra header\n",
	seedTree + "author a <a@x> 1767225600 +0000\ncommitter a <a@x> 1767225600 +0000\ngpgsig -----BEGIN SSH SIGNATURE-----\n x\n -----END SSH SIGNATURE-----\ngpgsig y\n\ntwo signatures\n",
	seedTree + seedTree + "author a <a@x> 1 +0000\ncommitter a <a@x> 1 +0000\n\ntwo trees\n",
	"parent 0000000000000000000000000000000000000000\n\nno tree\n",
	seedTree + "author a <a@x> 99999999999999999999 +0000\n\nhuge time\n",
	seedTree + "author a <a@x> 1 +0000\ncommitter a <a@x> 1 +0000\n",
}
