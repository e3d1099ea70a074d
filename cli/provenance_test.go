package cli

import (
	"testing"

	"github.com/git-covenant/git-covenant/provenance"
)

// GitHub's workflow command syntax: "::error file=F,title=T::M", with %,
// CR and LF escaped in the message and also : and , in properties.
func TestGithubAnnotationExactLine(t *testing.T) {
	c := provenance.CommitResult{Commit: "0123456789abcdef0123456789abcdef01234567", Summary: "fix: 100% done, really",
		Status: provenance.StatusInvalid, Files: []string{"dir/a,b:c.go", "z.go"}}
	got := githubAnnotation(c, provenance.Problem{Kind: provenance.KindBadSignature, Reason: "line one\nline two"})
	want := "::error file=dir/a%2Cb%3Ac.go,title=provenance invalid%3A 0123456789ab::commit 0123456789ab (fix: 100%25 done, really): bad-signature: line one%0Aline two"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	c.Files = nil
	got = githubAnnotation(c, provenance.Problem{Kind: provenance.KindMissing, Reason: "none"})
	want = "::error title=provenance invalid%3A 0123456789ab::commit 0123456789ab (fix: 100%25 done, really): missing-provenance: none"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
