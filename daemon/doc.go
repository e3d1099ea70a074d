// Package daemon will own the watcher that follows the repository, the
// dispatcher that starts agents from .covenant/agents/*.toml and the gateway
// agents talk to. Reserved: not implemented yet.
package daemon
