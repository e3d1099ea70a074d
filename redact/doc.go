// Package redact is the rule set that keeps secrets out of the repository:
// everything written into a feed (op bodies, commit summaries, artifacts
// such as check and run output, mailbox bodies) is forever and travels to
// every clone, so the service's write path passes it through String, Bytes
// or JSON before anything is signed. A hit is replaced by
// [REDACTED:<rule>] and reported as a Finding that names the rule, the
// field and the line, never the secret.
//
// The rules cover private keys (PEM and OpenSSH blocks), cloud keys (AWS,
// Google), forge tokens (GitHub, GitLab), chat tokens and webhooks
// (Slack), payment, package-registry and model-provider keys, JSON web
// tokens, passwords in URLs and generic high-entropy assignments
// (token = …, password: …). Each rule has literal keywords that must occur
// (case-insensitively) before its regular expression runs, so text without
// any keyword costs one lower-casing pass. docs/adr/0018-secrets-and-memory.md says
// why the rules are this package's own rather than a library's.
//
// It imports only the standard library.
package redact
