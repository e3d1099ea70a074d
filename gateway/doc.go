// Package gateway is the daemon's HTTP gateway: a JSON API over the same
// covenant.Service calls the CLI makes (tasks, the ready queue, the log,
// verify, identities, capabilities, agents, runs), a server-sent event
// stream of new ops and run output, the OpenAPI document of it all, and
// mount points for other handlers (the MCP streamable-HTTP endpoint, A2A).
//
// Every route but /health needs an operator token (package tokens) as
// `Authorization: Bearer <secret>`; a write acts as the token's operator
// (ADR 0015) and is checked against the token's scopes and the operator's
// capabilities before anything is signed, then by the write path again.
// Every request's Host must name the server's own address (a loopback
// name or IP with its port) and an Origin, when sent, must match it, so a
// web page cannot reach the gateway through DNS rebinding. It listens on
// loopback; any other address needs a TLS certificate and key.
//
// It imports covenant, tokens and the model packages (tasks, trust,
// runs, oplog), never the index, the git store or the ledger.
package gateway
