// Package identity owns the local keystore: the ed25519 keys of the actors
// (humans, agents, the daemon) that act from this machine, kept outside any
// repository under $GIT_COVENANT_HOME. Private keys are OpenSSH private key
// files, so ssh-keygen and git's own SSH signing can use them too.
//
// It also defines key ids and the one textual public key form every command
// accepts (an OpenSSH "ssh-ed25519 AAAA…" line). It imports nothing from
// this module.
package identity
