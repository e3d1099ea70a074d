package daemon

import (
	"fmt"
	"sync"

	"github.com/git-covenant/git-covenant/runs"
)

// Usage is model usage an agent reports for its run through the daemon's
// socket (op usage; MCP budget_report inside a run).
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	Credits      int64 `json:"credits"` // millionths of a US dollar
}

// maxReported bounds one report's amounts (and so the sums).
const maxReported = 1 << 50

// reported sums a run's reports; the run record carries the sum on top of
// what the agent's own output said.
type reported struct {
	mu  sync.Mutex
	sum Usage
}

func (r *run) addUsage(u *Usage) error {
	if u == nil {
		return fmt.Errorf("%w: usage needs input_tokens, output_tokens or credits", ErrGateway)
	}
	for _, n := range []int64{u.InputTokens, u.OutputTokens, u.Credits} {
		if n < 0 || n > maxReported {
			return fmt.Errorf("%w: usage amounts run from 0 to %d", ErrGateway, int64(maxReported))
		}
	}
	r.reported.mu.Lock()
	defer r.reported.mu.Unlock()
	s := &r.reported.sum
	s.InputTokens = min(s.InputTokens+u.InputTokens, maxReported)
	s.OutputTokens = min(s.OutputTokens+u.OutputTokens, maxReported)
	s.Credits = min(s.Credits+u.Credits, maxReported)
	return nil
}

// addTo adds the reported usage to a run record's body.
func (p *reported) addTo(b *runs.RecordBody) {
	p.mu.Lock()
	u := p.sum
	p.mu.Unlock()
	if u.InputTokens != 0 || u.OutputTokens != 0 {
		if b.Tokens == nil {
			b.Tokens = &runs.Tokens{}
		}
		b.Tokens.Input += u.InputTokens
		b.Tokens.Output += u.OutputTokens
	}
	b.Credits += u.Credits
}
