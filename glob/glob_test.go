package glob

import "testing"

// The table pins the syntax the README and docs/format.md document.
func TestMatchTable(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"refs/heads/main", "refs/heads/main", true},
		{"refs/heads/main", "refs/heads/main2", false},
		{"refs/heads/release/*", "refs/heads/release/3.0", true},
		{"refs/heads/release/*", "refs/heads/release/3.0/hotfix", false},
		{"refs/heads/release/**", "refs/heads/release/3.0", true},
		{"refs/heads/release/**", "refs/heads/release/3.0/hotfix", true},
		{"refs/heads/release/**", "refs/heads/release", false},
		{"refs/heads/*", "refs/heads/feature/x", false},
		{"refs/heads/**", "refs/heads/feature/x", true},
		{"src/**", "src/a.go", true},
		{"src/**", "src/x/y/a.go", true},
		{"src/**", "src", false},
		{"src/**", "srcx/a.go", false},
		{"src", "src/a.go", false},
		{"**/*.go", "a.go", true},
		{"**/*.go", "cmd/x/main.go", true},
		{"**/*.go", "cmd/x/main.c", false},
		{"docs/**/*.md", "docs/a.md", true},
		{"docs/**/*.md", "docs/x/y/a.md", true},
		{"docs/**/*.md", "src/a.md", false},
		{"*.md", "docs/a.md", false},
		{"v?.[0-9]", "v1.2", true},
		{"**", "anything/at/all", true},
		{"a/**/b/**", "a/b/c", true},
		{"a/**/b/**", "a/x/b", false},
		{"a/b**", "a/bc", false}, // malformed: ** inside a segment
	}
	for _, c := range cases {
		if got := Match(c.pattern, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestValid(t *testing.T) {
	for _, p := range []string{"", "a/b**", "[", "a/**x/b"} {
		if Valid(p) == nil {
			t.Errorf("Valid(%q) = nil, want an error", p)
		}
	}
	for _, p := range []string{"**", "a/**", "**/a", "refs/heads/*", "[ab]/c"} {
		if err := Valid(p); err != nil {
			t.Errorf("Valid(%q) = %v", p, err)
		}
	}
}
