// Package mcpserver is git-covenant's Model Context Protocol server: the
// tools an agent uses through its day (the primer, the ready queue, show
// and resume a task, claim, heartbeat, hand off, move, check, comment,
// escalate, the log and a verify summary), each a thin call into the
// covenant Service, built on the official MCP Go SDK.
//
// Every call is checked before anything happens: its arguments are
// decoded strictly (unknown fields, wrong types and oversized values are
// refused), then the caller's scope is checked with the same capability
// decision the CLI's write path uses (covenant.Service.CheckCapability),
// and for a daemon run also the run token's task and lease epoch. A
// refusal is a tool error (isError) whose structured content names the
// missing scope. A panic in a handler becomes a tool error; the server
// goes on.
//
// Tools are grouped by their annotations: one read tool and one write
// tool, each with an action parameter, and the check tool apart (it runs a
// command). A read-only server advertises the read tool alone. The same
// operations can be listed one tool each (Options.Flat) to measure what
// grouping saves.
//
// New builds an *mcp.Server for one caller; a front end connects it to a
// transport: `git covenant mcp` to stdio, the daemon's gateway to
// streamable HTTP (mcp.NewStreamableHTTPHandler calls New per session
// with the Options of the token presented).
//
// It imports covenant and the model packages (tasks, trust), never the
// index, the git store, the ledger or the daemon: the daemon mounts this
// server, so a run's daemon is reached through the Run interface
// (mcpserver/runtoken implements it over the daemon's socket).
package mcpserver
