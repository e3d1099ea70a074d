package config

import "fmt"

// Secrets is the optional [secrets] table: what a write does when content
// holds a secret (package redact).
//
//	[secrets]
//	on_hit = "redact"   # replace each secret by [REDACTED:<rule>] and say so (default)
//	on_hit = "refuse"   # refuse the write, naming the rule and field
type Secrets struct {
	OnHit string `toml:"on_hit,omitempty"`
}

// Refuse reports whether a secret refuses the write rather than being
// redacted.
func (c *Config) Refuse() bool { return c.Secrets != nil && c.Secrets.OnHit == "refuse" }

func (s *Secrets) check() error {
	switch s.OnHit {
	case "", "redact", "refuse":
		return nil
	}
	return fmt.Errorf("secrets.on_hit = %q: want \"redact\" or \"refuse\"", s.OnHit)
}

// Memory is the optional [memory] table: the policy memory compact applies.
//
//	[memory]
//	working = "drop"          # working memories of a finished or cancelled task: "drop" (default) or "keep"
//	episodic_days = 30        # episodic memories older than this many days ... (0: kept)
//	episodic = "forget"       # ... are forgotten (default) or "promote"d to long-term
//	longterm_drift = "stale"  # long-term memories whose pins drifted: "stale" (default) or "keep"
type Memory struct {
	Working       string `toml:"working,omitempty"`
	EpisodicDays  int    `toml:"episodic_days,omitempty"`
	Episodic      string `toml:"episodic,omitempty"`
	LongtermDrift string `toml:"longterm_drift,omitempty"`
}

// MemoryPolicy returns the [memory] table with its defaults filled in.
func (c *Config) MemoryPolicy() Memory {
	m := Memory{}
	if c.Memory != nil {
		m = *c.Memory
	}
	if m.Working == "" {
		m.Working = "drop"
	}
	if m.Episodic == "" {
		m.Episodic = "forget"
	}
	if m.LongtermDrift == "" {
		m.LongtermDrift = "stale"
	}
	return m
}

func (m *Memory) check() error {
	if m.Working != "" && m.Working != "drop" && m.Working != "keep" {
		return fmt.Errorf("memory.working = %q: want \"drop\" or \"keep\"", m.Working)
	}
	if m.EpisodicDays < 0 || m.EpisodicDays > 36500 {
		return fmt.Errorf("memory.episodic_days = %d: want 0 (keep) to 36500", m.EpisodicDays)
	}
	if m.Episodic != "" && m.Episodic != "forget" && m.Episodic != "promote" {
		return fmt.Errorf("memory.episodic = %q: want \"forget\" or \"promote\"", m.Episodic)
	}
	if m.LongtermDrift != "" && m.LongtermDrift != "stale" && m.LongtermDrift != "keep" {
		return fmt.Errorf("memory.longterm_drift = %q: want \"stale\" or \"keep\"", m.LongtermDrift)
	}
	return nil
}
