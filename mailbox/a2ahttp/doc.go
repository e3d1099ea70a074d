// Package a2ahttp speaks the A2A protocol (JSON-RPC over HTTP) for the
// agents of a repository, mapped onto the leased mailbox: an A2A task is a
// mailbox message to the agent's identity. Handler serves, under a prefix
// the gateway mounts it at (for example /a2a):
//
//	GET  <prefix>/<agent>/.well-known/agent-card.json   the agent's card (public)
//	POST <prefix>/<agent>                               JSON-RPC: message/send, tasks/get
//
// message/send writes an a2a.send op as the token's operator, to the
// agent's identity, with the A2A message id as the idempotency key (a
// resent message returns the same task); it needs a token carrying
// a2a.send or a2a.send.<identity>, and the operator's own grant, which the
// fold checks. tasks/get reads the message back as a task: queued is
// submitted, in flight is working, a result (pending or acknowledged) is
// completed with the result as an artifact, failed is failed. It shows
// only messages the operator sent or received. Streaming, cancel and push
// notifications are not offered (the card says so).
//
// The daemon mounts it on its HTTP gateway at /a2a (GatewayAuth takes the
// token the gateway checked; there the card needs a token too). It imports
// covenant, gateway, mailbox, tokens, agents and the a2a-go SDK; nothing
// below the service.
package a2ahttp
