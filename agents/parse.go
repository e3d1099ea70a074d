package agents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// Report is what a parser read from an agent's output.
type Report struct {
	Format string `json:"format"`
	// Final is the agent's final message (the daemon writes a handoff from
	// it when the agent wrote none).
	Final string `json:"final,omitempty"`
	// IsError says the tool reported failure in its output (it may still
	// exit 0, or exit 1 with the error on stdout); Errors are the messages.
	IsError bool     `json:"is_error,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	Usage   Usage    `json:"usage"`
	CostUSD float64  `json:"cost_usd,omitempty"`
	Session string   `json:"session,omitempty"`
	Model   string   `json:"model,omitempty"`
	Turns   int      `json:"turns,omitempty"`
	// Events counts the events read; Skipped the lines that were not
	// events of the format (banners, warnings, lines past the cap).
	Events  int `json:"events"`
	Skipped int `json:"skipped,omitempty"`
}

// Usage is token usage as the tool reports it; 0 means not reported.
type Usage struct {
	Input      int64 `json:"input_tokens,omitempty"`
	Output     int64 `json:"output_tokens,omitempty"`
	CacheRead  int64 `json:"cache_read_tokens,omitempty"`
	CacheWrite int64 `json:"cache_write_tokens,omitempty"`
	Reasoning  int64 `json:"reasoning_tokens,omitempty"`
	Total      int64 `json:"total_tokens,omitempty"`
}

func (u *Usage) add(v Usage) {
	u.Input += v.Input
	u.Output += v.Output
	u.CacheRead += v.CacheRead
	u.CacheWrite += v.CacheWrite
	u.Reasoning += v.Reasoning
	u.Total += v.Total
}

// Failed reports whether a run with this output and exit status failed:
// a non-zero exit, or an error the tool reported in its output.
func (r *Report) Failed(exitCode int) bool { return exitCode != 0 || r.IsError }

// Parser reads an agent's combined output as it is written (it is an
// io.Writer, so the runner's Echo can feed it) in bounded memory.
type Parser interface {
	Write(p []byte) (int, error)
	// Report finishes the parse (a last line without a newline counts).
	Report() *Report
}

const (
	maxLine  = 4 << 20  // longer event lines are skipped
	maxFinal = 64 << 10 // the final message kept
	maxDoc   = 16 << 20 // gemini's single JSON document
)

// NewParser returns the parser of a format (see Formats).
func NewParser(format string) (Parser, error) {
	r := &Report{Format: format}
	switch format {
	case FormatText, "":
		r.Format = FormatText
		return &textParser{r: r}, nil
	case FormatClaudeCode:
		return newLines(r, claudeEvent), nil
	case FormatCodex:
		return newLines(r, codexEvent), nil
	case FormatGemini:
		return &geminiParser{r: r}, nil
	case FormatAider:
		return newLines(r, aiderLine), nil
	}
	return nil, fmt.Errorf("%w: output format %q (want one of %s)", ErrInvalid, format, strings.Join(Formats, ", "))
}

// ParseOutput parses a whole output at once.
func ParseOutput(format string, out []byte) (*Report, error) {
	p, err := NewParser(format)
	if err != nil {
		return nil, err
	}
	p.Write(out)
	return p.Report(), nil
}

// lines splits the output into lines and hands each to fn.
type lines struct {
	r    *Report
	fn   func(r *Report, line []byte) bool // false: not an event of the format
	buf  []byte
	skip bool // in a line past maxLine
}

func newLines(r *Report, fn func(*Report, []byte) bool) *lines { return &lines{r: r, fn: fn} }

func (l *lines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !l.skip {
				l.buf = append(l.buf, p...)
				if len(l.buf) > maxLine {
					l.buf, l.skip = l.buf[:0], true
				}
			}
			break
		}
		if l.skip || len(l.buf)+i > maxLine {
			l.r.Skipped++
			l.skip = false
		} else {
			l.buf = append(l.buf, p[:i]...)
			l.line(l.buf)
		}
		l.buf = l.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (l *lines) line(b []byte) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return
	}
	if l.fn(l.r, b) {
		l.r.Events++
	} else {
		l.r.Skipped++
	}
}

func (l *lines) Report() *Report {
	if l.skip {
		l.r.Skipped++
	} else if len(l.buf) > 0 {
		l.line(l.buf)
	}
	l.buf, l.skip = nil, false
	l.r.Final = clip(strings.TrimSpace(l.r.Final))
	return l.r
}

func clip(s string) string {
	if len(s) > maxFinal {
		return s[len(s)-maxFinal:]
	}
	return s
}

func (r *Report) fail(msg string) {
	r.IsError = true
	if msg = strings.TrimSpace(msg); msg != "" && len(r.Errors) < 100 {
		r.Errors = append(r.Errors, msg)
	}
}

// claudeEvent reads one line of `claude -p --output-format stream-json
// --verbose`: a system init event, assistant and user messages, and a last
// result event carrying the final text, the turn count, the cost and the
// usage; is_error or an error_* subtype means the run failed.
func claudeEvent(r *Report, b []byte) bool {
	var ev struct {
		Type      string `json:"type"`
		Subtype   string `json:"subtype"`
		SessionID string `json:"session_id"`
		Model     string `json:"model"`
		Message   *struct {
			Model   string `json:"model"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"message"`
		IsError      bool     `json:"is_error"`
		Result       *string  `json:"result"`
		NumTurns     int      `json:"num_turns"`
		TotalCostUSD *float64 `json:"total_cost_usd"`
		CostUSD      *float64 `json:"cost_usd"` // older releases
		Usage        *struct {
			Input      int64 `json:"input_tokens"`
			Output     int64 `json:"output_tokens"`
			CacheRead  int64 `json:"cache_read_input_tokens"`
			CacheWrite int64 `json:"cache_creation_input_tokens"`
		} `json:"usage"`
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &ev) != nil || ev.Type == "" {
		return false
	}
	if ev.SessionID != "" {
		r.Session = ev.SessionID
	}
	switch ev.Type {
	case "system":
		if ev.Model != "" {
			r.Model = ev.Model
		}
	case "assistant":
		if ev.Message == nil {
			return true
		}
		if ev.Message.Model != "" && r.Model == "" {
			r.Model = ev.Message.Model
		}
		var text []string
		for _, c := range ev.Message.Content {
			if c.Type == "text" && strings.TrimSpace(c.Text) != "" {
				text = append(text, c.Text)
			}
		}
		if len(text) > 0 {
			r.Final = strings.Join(text, "\n")
		}
	case "result":
		if ev.Result != nil && *ev.Result != "" {
			r.Final = *ev.Result
		}
		r.Turns = ev.NumTurns
		switch {
		case ev.TotalCostUSD != nil:
			r.CostUSD = *ev.TotalCostUSD
		case ev.CostUSD != nil:
			r.CostUSD = *ev.CostUSD
		}
		if ev.Usage != nil {
			u := Usage{Input: ev.Usage.Input, Output: ev.Usage.Output, CacheRead: ev.Usage.CacheRead, CacheWrite: ev.Usage.CacheWrite}
			u.Total = u.Input + u.Output + u.CacheRead + u.CacheWrite
			r.Usage = u
		}
		if ev.IsError || strings.HasPrefix(ev.Subtype, "error") {
			msg := ev.Subtype
			if ev.Result != nil && *ev.Result != "" {
				msg = *ev.Result
			}
			r.fail(msg)
		}
	case "error":
		r.fail(ev.Error)
	}
	return true
}

// codexEvent reads one line of `codex exec --json`: thread.started (the
// thread id), turn.started, item.started/updated/completed (the last
// completed agent_message is the final message; an error item is a
// non-fatal error), turn.completed (usage, summed over turns), turn.failed
// and error (the run failed).
func codexEvent(r *Report, b []byte) bool {
	var ev struct {
		Type     string `json:"type"`
		ThreadID string `json:"thread_id"`
		Message  string `json:"message"`
		Item     *struct {
			Type    string `json:"type"`
			Text    string `json:"text"`
			Message string `json:"message"`
		} `json:"item"`
		Usage *struct {
			Input     int64 `json:"input_tokens"`
			Cached    int64 `json:"cached_input_tokens"`
			Output    int64 `json:"output_tokens"`
			Reasoning int64 `json:"reasoning_output_tokens"`
		} `json:"usage"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &ev) != nil || ev.Type == "" {
		return false
	}
	switch ev.Type {
	case "thread.started":
		r.Session = ev.ThreadID
	case "turn.completed":
		r.Turns++
		if ev.Usage != nil {
			// input_tokens includes the cached ones.
			u := Usage{Input: ev.Usage.Input, CacheRead: ev.Usage.Cached, Output: ev.Usage.Output, Reasoning: ev.Usage.Reasoning}
			u.Total = u.Input + u.Output
			r.Usage.add(u)
		}
	case "turn.failed":
		r.Turns++
		if ev.Error != nil {
			r.fail(ev.Error.Message)
		} else {
			r.fail("turn failed")
		}
	case "error":
		r.fail(ev.Message)
	case "item.completed":
		if ev.Item == nil {
			return true
		}
		switch ev.Item.Type {
		case "agent_message":
			r.Final = ev.Item.Text
		case "error":
			if msg := strings.TrimSpace(ev.Item.Message); msg != "" && len(r.Errors) < 100 {
				r.Errors = append(r.Errors, msg) // reported, not fatal
			}
		}
	}
	return true
}

// geminiParser reads `gemini -p … --output-format json`: one JSON document
// (pretty-printed, so not line by line) with response, stats.models.<model>
// .tokens and an optional error object; it also reads the stream-json
// form (init, message, tool_use, tool_result, error, result lines).
type geminiParser struct {
	r    *Report
	doc  []byte
	over bool
}

func (g *geminiParser) Write(p []byte) (int, error) {
	if !g.over {
		g.doc = append(g.doc, p...)
		if len(g.doc) > maxDoc {
			g.doc, g.over = nil, true
		}
	}
	return len(p), nil
}

func (g *geminiParser) Report() *Report {
	r := g.r
	if g.over {
		r.Skipped++
		return r
	}
	doc := bytes.TrimSpace(g.doc)
	// The document may follow banner lines: start at the first '{' of a
	// line that holds a whole object.
	if i := bytes.Index(doc, []byte("\n{")); !bytes.HasPrefix(doc, []byte("{")) && i >= 0 {
		r.Skipped++
		doc = doc[i+1:]
	}
	if geminiDocument(r, doc) {
		r.Events++
		r.Final = clip(strings.TrimSpace(r.Final))
		return r
	}
	l := newLines(r, geminiStreamEvent)
	l.Write(g.doc)
	return l.Report()
}

type geminiTokens struct {
	Prompt     int64 `json:"prompt"`
	Candidates int64 `json:"candidates"`
	Total      int64 `json:"total"`
	Cached     int64 `json:"cached"`
	Thoughts   int64 `json:"thoughts"`
	Tool       int64 `json:"tool"`
}

func geminiDocument(r *Report, doc []byte) bool {
	var d struct {
		SessionID *string `json:"session_id"`
		Response  *string `json:"response"`
		Stats     *struct {
			Models map[string]struct {
				Tokens geminiTokens `json:"tokens"`
			} `json:"models"`
		} `json:"stats"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(doc, &d) != nil || (d.Response == nil && d.Error == nil && d.Stats == nil) {
		return false
	}
	if d.SessionID != nil {
		r.Session = *d.SessionID
	}
	if d.Response != nil {
		r.Final = *d.Response
	}
	if d.Stats != nil {
		for name, m := range d.Stats.Models {
			t := m.Tokens
			r.Usage.add(Usage{Input: t.Prompt, Output: t.Candidates, CacheRead: t.Cached, Reasoning: t.Thoughts, Total: t.Total})
			if r.Model == "" || name < r.Model {
				r.Model = name
			}
		}
	}
	if d.Error != nil {
		msg := d.Error.Message
		if d.Error.Type != "" {
			msg = d.Error.Type + ": " + msg
		}
		r.fail(msg)
	}
	return true
}

func geminiStreamEvent(r *Report, b []byte) bool {
	var ev struct {
		Type      string `json:"type"`
		SessionID string `json:"session_id"`
		Model     string `json:"model"`
		Role      string `json:"role"`
		Content   string `json:"content"`
		Delta     bool   `json:"delta"`
		Status    string `json:"status"`
		Message   string `json:"message"`
		Severity  string `json:"severity"`
		Error     *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		Stats *struct {
			Total  int64 `json:"total_tokens"`
			Input  int64 `json:"input_tokens"`
			Output int64 `json:"output_tokens"`
			Cached int64 `json:"cached"`
		} `json:"stats"`
	}
	if json.Unmarshal(b, &ev) != nil || ev.Type == "" {
		return false
	}
	switch ev.Type {
	case "init":
		r.Session, r.Model = ev.SessionID, ev.Model
	case "message":
		if ev.Role == "assistant" {
			if ev.Delta {
				if len(r.Final) < maxFinal {
					r.Final += ev.Content
				}
			} else {
				r.Final = ev.Content
			}
		}
		if ev.Role == "user" {
			r.Final = "" // a new turn's answer starts
		}
	case "error":
		// Non-fatal warnings and errors; a fatal one ends in the result.
		if ev.Message != "" && len(r.Errors) < 100 {
			r.Errors = append(r.Errors, ev.Message)
		}
	case "result":
		if ev.Stats != nil {
			r.Usage = Usage{Input: ev.Stats.Input, Output: ev.Stats.Output, CacheRead: ev.Stats.Cached, Total: ev.Stats.Total}
		}
		if ev.Status != "" && ev.Status != "success" {
			msg := ev.Status
			if ev.Error != nil {
				msg = ev.Error.Message
			}
			r.fail(msg)
		}
	}
	return true
}

// aiderLine reads aider's plain output (it has no JSON mode): the token
// lines ("Tokens: 12k sent, 1.2k cache write, 3.4k cache hit, 133
// received. Cost: $0.04 message, $0.10 session.") give the usage, summed
// over messages; error lines are collected; the final message is what
// came after the last token line.
var (
	aiderTokens = &lazyre.Regexp{Expr: `^>?\s*Tokens:\s*(.+?)\.(?:\s+Cost:\s*\$([0-9.]+)\s+message.*)?$`}
	aiderPart   = &lazyre.Regexp{Expr: `([0-9.]+)([kKmM]?)\s+(sent|received|cache write|cache hit)`}
	aiderError  = &lazyre.Regexp{Expr: `^(Error|litellm\.[A-Za-z]+Error|.*APIError)\b:?`}
)

func aiderLine(r *Report, b []byte) bool {
	s := string(b)
	if m := aiderTokens.FindStringSubmatch(s); m != nil {
		for _, p := range aiderPart.FindAllStringSubmatch(m[1], -1) {
			n := aiderCount(p[1], p[2])
			switch p[3] {
			case "sent":
				r.Usage.Input += n
			case "received":
				r.Usage.Output += n
			case "cache write":
				r.Usage.CacheWrite += n
			case "cache hit":
				r.Usage.CacheRead += n
			}
		}
		r.Usage.Total = r.Usage.Input + r.Usage.Output
		if m[2] != "" {
			c, _ := strconv.ParseFloat(m[2], 64)
			r.CostUSD += c
		}
		r.Turns++
		r.Final = ""
		return true
	}
	if aiderError.MatchString(s) {
		r.fail(s)
		return true
	}
	if len(r.Final) < maxFinal {
		if r.Final != "" {
			r.Final += "\n"
		}
		r.Final += s
	}
	return false
}

func aiderCount(num, unit string) int64 {
	f, _ := strconv.ParseFloat(num, 64)
	switch unit {
	case "k", "K":
		f *= 1e3
	case "m", "M":
		f *= 1e6
	}
	return int64(f + 0.5)
}

// textParser keeps the end of a plain output: the final message is its
// last paragraph.
type textParser struct {
	r    *Report
	tail []byte
}

func (t *textParser) Write(p []byte) (int, error) {
	t.tail = append(t.tail, p...)
	if len(t.tail) > 2*maxFinal {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-maxFinal:]...)
	}
	return len(p), nil
}

func (t *textParser) Report() *Report {
	s := strings.TrimSpace(string(t.tail))
	if i := strings.LastIndex(s, "\n\n"); i >= 0 {
		s = s[i+2:]
	}
	t.r.Final = clip(strings.TrimSpace(s))
	return t.r
}
