package cli

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsStayAboveTheService keeps the CLI a thin shell over the
// covenant service: it may import covenant and the packages that define
// model and view types, never the index, the git store, the ledger, go-git,
// bbolt or ssh. It reads the package's own (non-test) files, the imports
// `go list -f '{{.Imports}}' ./cli` reports.
func TestImportsStayAboveTheService(t *testing.T) {
	forbidden := []string{
		"github.com/git-covenant/git-covenant/index",
		"github.com/git-covenant/git-covenant/gitstore",
		"github.com/git-covenant/git-covenant/ledger",
		"github.com/go-git/",
		"go.etcd.io/bbolt",
		"golang.org/x/crypto/ssh",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") || (strings.HasSuffix(bad, "/") && strings.HasPrefix(path, bad)) {
					t.Errorf("%s imports %s: go through the covenant service instead", name, path)
				}
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no package files found")
	}
}
