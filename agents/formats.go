package agents

// Output formats: which parser reads an agent's output.
const (
	FormatText       = "text"        // plain text: the final message is the end of the output
	FormatClaudeCode = "claude-code" // claude -p --output-format stream-json --verbose
	FormatCodex      = "codex"       // codex exec --json
	FormatGemini     = "gemini"      // gemini -p … --output-format json
	FormatAider      = "aider"       // aider --message-file … --yes-always (text with token lines)
)

// Formats lists the output formats, in the order help shows them.
var Formats = []string{FormatText, FormatClaudeCode, FormatCodex, FormatGemini, FormatAider}
