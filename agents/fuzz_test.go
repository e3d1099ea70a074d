package agents

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseManifest: manifests are committed files, so any branch can
// carry a hostile one. Parse never panics, and a refusal names the file.
func FuzzParseManifest(f *testing.F) {
	for _, tpl := range Templates {
		files, err := Init("fuzzy", tpl)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file.Path, ".toml") {
				f.Add(file.Content)
			}
		}
	}
	f.Add([]byte("identity = \"x\"\n[command]\nargv = [\"{task\"]\n"))
	f.Add([]byte("[[[\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse("fuzzy.toml", b)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzzy.toml") {
				t.Fatalf("refusal does not name the file: %v", err)
			}
			return
		}
		if m == nil {
			t.Fatal("nil manifest without an error")
		}
	})
}

// FuzzParseOutput: an agent's output is whatever the agent (or a prompt
// injected into it) prints. Every parser takes any bytes without
// panicking, in one write or split anywhere, and keeps its report bounded.
func FuzzParseOutput(f *testing.F) {
	ts, _ := filepath.Glob(filepath.Join("testdata", "transcripts", "*"))
	for _, p := range ts {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(len(b)/2))
	}
	f.Add([]byte("{\"type\":\"result\",\"result\":"), uint16(3))
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		for _, format := range Formats {
			whole, err := ParseOutput(format, b)
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			if len(whole.Final) > maxFinal+utf8.UTFMax {
				t.Fatalf("%s: final message of %d bytes kept", format, len(whole.Final))
			}
			p, _ := NewParser(format)
			n := min(int(cut), len(b))
			p.Write(b[:n])
			p.Write(b[n:])
			if r := p.Report(); r == nil {
				t.Fatalf("%s: no report", format)
			}
		}
	})
}
