package agents

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The parsers read transcripts written in each tool's documented event
// format.
func TestParsersOnTranscripts(t *testing.T) {
	cases := []struct {
		file, format string
		final        string // a substring of the final message
		isError      bool
		errs         []string // substrings, one per error expected
		usage        Usage
		cost         float64
		session      string
		turns        int
	}{
		{"claude-success.jsonl", FormatClaudeCode, "injected a clock and committed the fix", false, nil,
			Usage{Input: 1240, Output: 85, CacheRead: 2000, CacheWrite: 800, Total: 4125}, 0.0423, "9f1c2d3e-4b5a-6c7d-8e9f-0a1b2c3d4e5f", 4},
		{"claude-error.jsonl", FormatClaudeCode, "Trying the migration again", true, []string{"error_max_turns"},
			Usage{Input: 9000, Output: 700, CacheRead: 4000, Total: 13700}, 0.31, "0a0b0c0d-1111-2222-3333-444455556666", 10},
		{"codex-success.jsonl", FormatCodex, "passes 100 times in a row", false, nil,
			Usage{Input: 24763, CacheRead: 24448, Output: 122, Total: 24885}, 0, "0199a213-81c0-7800-8aa1-bbab2a035a53", 1},
		{"codex-failed.jsonl", FormatCodex, "", true, []string{"command timed out", "Incorrect API key", "Incorrect API key"},
			Usage{}, 0, "0199a213-81c0-7800-8aa1-000000000001", 1},
		{"gemini-success.json", FormatGemini, "injecting a clock", false, nil,
			Usage{Input: 24939, Output: 20, CacheRead: 21263, Reasoning: 154, Total: 25113}, 0, "", 0},
		{"gemini-error.json", FormatGemini, "", true, []string{"ApiError: [API Error: 429"}, Usage{}, 0, "", 0},
		{"gemini-stream.jsonl", FormatGemini, "Fixed the test with a fake clock.", false, nil,
			Usage{Input: 300, Output: 50, Total: 350}, 0, "abc123", 0},
		{"aider-success.txt", FormatAider, "passes reliably", false, nil,
			Usage{Input: 14100, Output: 283, CacheWrite: 1200, CacheRead: 3400, Total: 14383}, 0.05, "", 2},
		{"aider-error.txt", FormatAider, "", true, []string{"litellm.AuthenticationError"}, Usage{}, 0, "", 0},
		{"text.txt", FormatText, "wrote TASK-tk-3f2a9b1c0d4e.md\ncommitted 1 file", false, nil, Usage{}, 0, "", 0},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "transcripts", c.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseOutput(c.format, b)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.Final, c.final) || (c.final == "" && c.format != FormatAider && r.Final != "") {
				t.Errorf("final %q, want it to hold %q", r.Final, c.final)
			}
			if r.IsError != c.isError || len(r.Errors) != len(c.errs) {
				t.Errorf("is_error %v errors %q, want %v %q", r.IsError, r.Errors, c.isError, c.errs)
			} else {
				for i, e := range c.errs {
					if !strings.Contains(r.Errors[i], e) {
						t.Errorf("error %d = %q, want %q", i, r.Errors[i], e)
					}
				}
			}
			if r.Usage != c.usage {
				t.Errorf("usage %+v, want %+v", r.Usage, c.usage)
			}
			if r.CostUSD < c.cost-1e-9 || r.CostUSD > c.cost+1e-9 || r.Session != c.session || r.Turns != c.turns {
				t.Errorf("cost %v session %q turns %d, want %v %q %d", r.CostUSD, r.Session, r.Turns, c.cost, c.session, c.turns)
			}
			if r.Failed(0) != c.isError || !r.Failed(1) {
				t.Errorf("Failed: %v/%v", r.Failed(0), r.Failed(1))
			}
			// Fed as the runner's Echo feeds it, a byte at a time, the
			// parse is the same.
			p, _ := NewParser(c.format)
			for i := range b {
				p.Write(b[i : i+1])
			}
			r2 := p.Report()
			if r2.Final != r.Final || r2.Usage != r.Usage || r2.IsError != r.IsError || r2.Events != r.Events {
				t.Errorf("streamed parse differs: %+v vs %+v", r2, r)
			}
		})
	}
}

// Lines that are not events are counted, an oversized line is skipped in
// bounded memory, and the events around them still count.
func TestParserSkipsNoiseAndHugeLines(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("npm WARN deprecated something\n")
	b.WriteString(`{"type":"assistant","message":{"content":[{"type":"text","text":"` + strings.Repeat("x", maxLine+10) + `"}]}}` + "\n")
	b.WriteString(`{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done"}` + "\n")
	r, err := ParseOutput(FormatClaudeCode, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if r.Final != "done" || r.Events != 1 || r.Skipped != 2 || r.IsError {
		t.Fatalf("report %+v", r)
	}
	if _, err := NewParser("xml"); err == nil {
		t.Fatal("unknown format accepted")
	}
}
