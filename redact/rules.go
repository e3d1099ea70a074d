package redact

import (
	"math"
	"strings"
	"unicode"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// Rule is one kind of secret.
type Rule struct {
	ID          string `json:"id"`
	Description string `json:"description"`

	keywords []string // lower case; one must occur before re runs
	re       *lazyre.Regexp
	group    int     // the submatch that is the secret (0: the whole match)
	entropy  float64 // minimum Shannon entropy, bits per byte, of the secret
	mixed    bool    // the secret needs a letter and a digit
	// minLen and maxLen bound the secret's length (0: no bound); bounds
	// here rather than as {m,n} in re keep the compiled program small.
	minLen, maxLen int
	// window: re is anchored (^) and runs only from the start of each word
	// holding a keyword, over at most window bytes, instead of over the
	// whole text (Go's regexp costs too much on long text for a pattern
	// without a literal prefix).
	window int
	// assign: a windowed match needs an assignment (= or :) right after
	// the word holding the keyword; checked before re runs.
	assign bool
}

// rules is the rule set, most specific first: an earlier rule's hit is
// not reported again by a later one.
var rules = []*Rule{
	{ID: "private-key", Description: "a PEM or OpenSSH private key block",
		keywords: []string{"private key"},
		re:       &lazyre.Regexp{Expr: `-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)`}},
	{ID: "aws-access-key-id", Description: "an AWS access key id",
		keywords: []string{"akia", "asia", "abia", "acca", "a3t"},
		re:       &lazyre.Regexp{Expr: `\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`}, group: 1},
	{ID: "aws-secret-access-key", Description: "an AWS secret access key",
		keywords: []string{"aws"},
		re:       &lazyre.Regexp{Expr: `^(?i)aws[a-z0-9_. -]{0,20}(?:secret|key)[a-z0-9_. -]{0,20}["']?\s*(?::=|=>|=|:)\s*["']?([A-Za-z0-9/+=]+)`}, group: 1, entropy: 3.5, window: 120, minLen: 40, maxLen: 40},
	{ID: "gcp-api-key", Description: "a Google Cloud API key",
		keywords: []string{"aiza"},
		re:       &lazyre.Regexp{Expr: `\b(AIza[0-9A-Za-z_-]+)`}, group: 1, minLen: 39, maxLen: 39},
	{ID: "github-token", Description: "a GitHub personal, OAuth, app or refresh token",
		keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re:       &lazyre.Regexp{Expr: `\b(gh[pousr]_[A-Za-z0-9]+|github_pat_[A-Za-z0-9_]+)`}, group: 1, minLen: 33, maxLen: 255},
	{ID: "gitlab-token", Description: "a GitLab personal, deploy, runner, pipeline or feed token",
		keywords: []string{"glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glsoat-", "glft-", "glimt-", "glagent-", "gloas-"},
		re:       &lazyre.Regexp{Expr: `\b(gl(?:pat|dt|rt|ptt|cbt|soat|ft|imt|agent|oas)-[A-Za-z0-9_-]{20,})`}, group: 1},
	{ID: "slack-token", Description: "a Slack bot, user, app or configuration token",
		keywords: []string{"xox"},
		re:       &lazyre.Regexp{Expr: `\b(xox[abeoprs]-(?:[0-9]+-)?[0-9A-Za-z-]{10,})`}, group: 1},
	{ID: "slack-webhook", Description: "a Slack incoming webhook URL",
		keywords: []string{"hooks.slack.com"},
		re:       &lazyre.Regexp{Expr: `hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}`}},
	{ID: "stripe-key", Description: "a Stripe secret or restricted key",
		keywords: []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"},
		re:       &lazyre.Regexp{Expr: `\b((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{20,})\b`}, group: 1},
	{ID: "npm-token", Description: "an npm access token",
		keywords: []string{"npm_"},
		re:       &lazyre.Regexp{Expr: `\b(npm_[A-Za-z0-9]+)`}, group: 1, minLen: 40, maxLen: 40},
	{ID: "model-api-key", Description: "an OpenAI or Anthropic API key",
		keywords: []string{"sk-"},
		re:       &lazyre.Regexp{Expr: `\b(sk-(?:proj-|ant-(?:api|admin)[0-9]{2}-|svcacct-)?[A-Za-z0-9_-]{32,})`}, group: 1, entropy: 3.5, mixed: true},
	{ID: "jwt", Description: "a JSON web token",
		keywords: []string{"eyj"},
		re:       &lazyre.Regexp{Expr: `\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})`}, group: 1},
	{ID: "url-password", Description: "a password in a URL's user information",
		keywords: []string{"://"},
		re:       &lazyre.Regexp{Expr: `[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@"']+:([^/\s:@"']+)@`}, group: 1, minLen: 3},
	{ID: "generic-secret", Description: "a high-entropy value assigned to a key, secret, token, password or credential",
		keywords: []string{"key", "secret", "token", "passw", "pwd", "credential", "auth"},
		re:       &lazyre.Regexp{Expr: `^(?i)[a-z0-9_.-]*(?:key|secret|token|passw(?:or)?d|pwd|credentials?|authorization)[a-z0-9_.-]*["']?\s*(?::=|=>|=|:)\s*(?:bearer\s+|basic\s+)?["']?([A-Za-z0-9_\-+/=.~!@#$%^&*]+)`},
		group:    1, entropy: 3.5, mixed: true, window: 300, minLen: 12, assign: true},
}

// Rules lists the rule set.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = Rule{ID: r.ID, Description: r.Description}
	}
	return out
}

// accept applies the rule's entropy and letter-and-digit conditions.
func (r *Rule) accept(secret string) bool {
	if len(secret) < r.minLen || r.maxLen > 0 && len(secret) > r.maxLen {
		return false
	}
	if r.entropy > 0 && entropy(secret) < r.entropy {
		return false
	}
	if r.mixed {
		var letter, digit bool
		for _, c := range secret {
			letter = letter || unicode.IsLetter(c)
			digit = digit || unicode.IsDigit(c)
		}
		if !letter || !digit {
			return false
		}
	}
	return !strings.HasPrefix(secret, "[REDACTED:")
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
