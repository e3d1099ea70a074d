package mcpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/git-covenant/git-covenant/memory"
)

// Limits on a call's arguments: what no honest agent needs more of.
const (
	maxArgBytes  = 1 << 20  // the whole arguments object
	maxStringLen = 64 << 10 // one string
	maxListLen   = 256      // one list
	maxLimit     = 500
)

// Args are every argument any operation takes; an operation reads those
// it declares (decode refuses the others).
type Args struct {
	Action         string   `json:"action"`
	Task           string   `json:"task"`
	Label          string   `json:"label"`
	TTL            string   `json:"ttl"`
	Ready          int      `json:"ready"`
	Limit          int      `json:"limit"`
	Full           bool     `json:"full"`
	Summary        string   `json:"summary"`
	Next           []string `json:"next"`
	Questions      []string `json:"questions"`
	Files          []string `json:"files"`
	Validation     string   `json:"validation"`
	ValidationNote string   `json:"validation_note"`
	KeepLease      bool     `json:"keep_lease"`
	To             string   `json:"to"`
	Note           string   `json:"note"`
	Text           string   `json:"text"`
	Kind           string   `json:"kind"`
	Reason         string   `json:"reason"`
	Gate           string   `json:"gate"`
	Argv           []string `json:"argv"`
	Timeout        string   `json:"timeout"`
	// Memory, mailbox and budget:
	ID             string   `json:"id"`
	Tier           string   `json:"tier"`
	Tags           []string `json:"tags"`
	Tag            string   `json:"tag"`
	Query          string   `json:"query"`
	All            bool     `json:"all"`
	Body           string   `json:"body"`
	MsgKind        string   `json:"msg_kind"`
	Deadline       string   `json:"deadline"`
	IdempotencyKey string   `json:"idempotency_key"`
	Result         string   `json:"result"`
	InputTokens    int64    `json:"input_tokens"`
	OutputTokens   int64    `json:"output_tokens"`
	Credits        int64    `json:"credits"`

	ttl, timeout time.Duration // parsed
	deadline     time.Time
}

func badArgs(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadArgs, fmt.Sprintf(format, a...))
}

// decode reads a call's arguments strictly: a JSON object of at most
// maxArgBytes, naming an action of a grouped tool, with only the
// arguments its operation takes (exact names), each of its type, within
// the limits, and every required one given. Nothing is done before it
// succeeds.
func (t *toolDef) decode(raw []byte) (*op, *Args, error) {
	if len(raw) > maxArgBytes {
		return nil, nil, badArgs("arguments are %d bytes, at most %d", len(raw), maxArgBytes)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	if !utf8.Valid(raw) {
		return nil, nil, badArgs("arguments are not UTF-8")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, nil, badArgs("arguments must be a JSON object")
	}
	o := t.ops[0]
	if t.grouped {
		var action string
		if err := json.Unmarshal(fields["action"], &action); err != nil || action == "" {
			return nil, nil, badArgs("%s needs an action (%s)", t.tool.Name, t.actions())
		}
		o = nil
		for _, m := range t.ops {
			if m.name == action {
				o = m
			}
		}
		if o == nil {
			return nil, nil, badArgs("%s has no action %q (%s)", t.tool.Name, action, t.actions())
		}
	}
	takes := map[string]bool{}
	for _, p := range o.params {
		takes[strings.TrimSuffix(p, "*")] = true
	}
	for k := range fields {
		if k == "action" && t.grouped {
			continue
		}
		if !takes[k] {
			return nil, nil, badArgs("%s takes no argument %q (it takes %s)", o.name, k, strings.Join(o.params, ", "))
		}
	}
	var a Args
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, nil, badArgs("%s: %s", o.name, typeError(err))
	}
	if err := a.check(o, fields); err != nil {
		return nil, nil, err
	}
	return o, &a, nil
}

func (t *toolDef) actions() string {
	var names []string
	for _, o := range t.ops {
		names = append(names, o.name)
	}
	return strings.Join(names, ", ")
}

// typeError shortens a json error to the field and the type it wants.
func typeError(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("argument %q must be %s, not %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

// check validates the decoded values against the operation's needs.
func (a *Args) check(o *op, fields map[string]json.RawMessage) error {
	for _, p := range o.params {
		name, required := strings.CutSuffix(p, "*")
		if required && (len(fields[name]) == 0 || string(fields[name]) == "null" || string(fields[name]) == `""` || string(fields[name]) == "[]") {
			return badArgs("%s needs %q", o.name, name)
		}
	}
	for name, s := range map[string]string{"action": a.Action, "task": a.Task, "label": a.Label, "ttl": a.TTL, "summary": a.Summary,
		"validation": a.Validation, "validation_note": a.ValidationNote, "to": a.To, "note": a.Note, "text": a.Text,
		"kind": a.Kind, "reason": a.Reason, "gate": a.Gate, "timeout": a.Timeout,
		"id": a.ID, "tier": a.Tier, "tag": a.Tag, "query": a.Query, "body": a.Body, "msg_kind": a.MsgKind, "deadline": a.Deadline,
		"idempotency_key": a.IdempotencyKey, "result": a.Result} {
		if len(s) > maxStringLen {
			return badArgs("%q is %d bytes, at most %d", name, len(s), maxStringLen)
		}
		if strings.ContainsRune(s, 0) {
			return badArgs("%q contains a NUL byte", name)
		}
	}
	for name, l := range map[string][]string{"next": a.Next, "questions": a.Questions, "files": a.Files, "argv": a.Argv, "tags": a.Tags} {
		if len(l) > maxListLen {
			return badArgs("%q has %d items, at most %d", name, len(l), maxListLen)
		}
		for _, s := range l {
			if len(s) > maxStringLen || strings.ContainsRune(s, 0) {
				return badArgs("an item of %q is over %d bytes or contains a NUL byte", name, maxStringLen)
			}
		}
	}
	if _, ok := fields["ready"]; ok && (a.Ready < 1 || a.Ready > 100) {
		return badArgs("ready %d: give 1 to 100", a.Ready)
	}
	if _, ok := fields["limit"]; ok && (a.Limit < 1 || a.Limit > maxLimit) {
		return badArgs("limit %d: give 1 to %d", a.Limit, maxLimit)
	}
	if a.Validation != "" && !slices.Contains(params["validation"].schema["enum"].([]string), a.Validation) {
		return badArgs("validation %q: want one of %s", a.Validation, strings.Join(params["validation"].schema["enum"].([]string), ", "))
	}
	if a.Kind != "" && !slices.Contains(params["kind"].schema["enum"].([]string), a.Kind) {
		return badArgs("kind %q: want one of %s", a.Kind, strings.Join(params["kind"].schema["enum"].([]string), ", "))
	}
	if a.Tier != "" && !slices.Contains(memory.Tiers, a.Tier) {
		return badArgs("tier %q: want one of %s", a.Tier, strings.Join(memory.Tiers, ", "))
	}
	if a.InputTokens < 0 || a.OutputTokens < 0 || a.Credits < 0 {
		return badArgs("usage may not be negative")
	}
	var err error
	if a.Deadline != "" {
		if a.deadline, err = time.Parse(time.RFC3339, a.Deadline); err != nil {
			d, derr := time.ParseDuration(a.Deadline)
			if derr != nil || d <= 0 {
				return badArgs("deadline %q: give an RFC 3339 time or a positive duration from now (30m)", a.Deadline)
			}
			a.deadline = time.Now().Add(d)
		}
	}
	if a.TTL != "" {
		if a.ttl, err = time.ParseDuration(a.TTL); err != nil || a.ttl <= 0 {
			return badArgs("ttl %q is not a positive duration (try 30m, 2h)", a.TTL)
		}
	}
	if a.Timeout != "" {
		if a.timeout, err = time.ParseDuration(a.Timeout); err != nil || a.timeout <= 0 {
			return badArgs("timeout %q is not a positive duration (try 5m)", a.Timeout)
		}
	}
	return nil
}
