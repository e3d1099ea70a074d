package cli

import (
	"reflect"

	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/budget"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/doctor"
	"github.com/git-covenant/git-covenant/hooks"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/provenance"
	"github.com/git-covenant/git-covenant/remote"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/settle"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/tokens"
	"github.com/git-covenant/git-covenant/trust"
)

// schemas names the shape of each type the CLI prints with --json, as
// docs/json.md documents it (TestJSONShapes keeps the two in step). A type
// missing here prints without a schema, and the test fails.
var schemas = []struct {
	name string
	typ  reflect.Type
}{
	{"task/1", reflect.TypeFor[covenant.TaskDetail]()},
	{"task/1", reflect.TypeFor[tasks.Task]()},
	{"task-summary/1", reflect.TypeFor[tasks.Summary]()},
	{"resume/1", reflect.TypeFor[covenant.ContextPack]()},
	{"prime/1", reflect.TypeFor[covenant.Primer]()},
	{"gate/1", reflect.TypeFor[tasks.GateRecord]()},
	{"workflow/1", reflect.TypeFor[tasks.Workflow]()},
	{"log-entry/1", reflect.TypeFor[covenant.LogEntry]()},
	{"verify/1", reflect.TypeFor[covenant.VerifyReport]()},
	{"verify-range/1", reflect.TypeFor[provenance.RangeReport]()},
	{"identity/1", reflect.TypeFor[idJSON]()},
	{"actor/1", reflect.TypeFor[trust.Actor]()},
	{"grant/1", reflect.TypeFor[trust.Grant]()},
	{"cap-check/1", reflect.TypeFor[covenant.Decision]()},
	{"trust/1", reflect.TypeFor[covenant.TrustReport]()},
	{"init/1", reflect.TypeFor[covenant.InitResult]()},
	{"hook/1", reflect.TypeFor[hooks.Result]()},
	{"index-rebuild/1", reflect.TypeFor[covenant.RebuildResult]()},
	{"state-digest/1", reflect.TypeFor[covenant.Digest]()},
	{"provenance-record/1", reflect.TypeFor[covenant.Recorded]()},
	{"audit-root/1", reflect.TypeFor[covenant.AuditRoot]()},
	{"audit-root-check/1", reflect.TypeFor[covenant.AuditRootCheck]()},
	{"quarantine/1", reflect.TypeFor[remote.QuarantinedFeed]()},
	{"quarantine-accept/1", reflect.TypeFor[remote.Accepted]()},
	{"remote-setup/1", reflect.TypeFor[remote.SetupResult]()},
	{"sync/1", reflect.TypeFor[remote.SyncReport]()},
	{"daemon-status/1", reflect.TypeFor[daemon.Status]()},
	{"doctor/1", reflect.TypeFor[doctor.Report]()},
	{"agent/1", reflect.TypeFor[agents.Manifest]()},
	{"agent-check/1", reflect.TypeFor[agentCheckReport]()},
	{"run/1", reflect.TypeFor[runs.Record]()},
	{"token/1", reflect.TypeFor[tokens.Listed]()},
	{"token-secret/1", reflect.TypeFor[tokens.Issued]()},
	{"mailbox-message/1", reflect.TypeFor[covenant.MessageView]()},
	{"memory/1", reflect.TypeFor[memory.Memory]()},
	{"memory-hit/1", reflect.TypeFor[covenant.MemoryHit]()},
	{"memory-drift/1", reflect.TypeFor[covenant.Drift]()},
	{"memory-compact/1", reflect.TypeFor[covenant.CompactReport]()},
	{"ignore-check/1", reflect.TypeFor[covenant.IgnoreCheck]()},
	{"receipt/1", reflect.TypeFor[covenant.Receipt]()},
	{"budget/1", reflect.TypeFor[budget.Budget]()},
	{"budget-status/1", reflect.TypeFor[budget.Status]()},
	{"checkpoint/1", reflect.TypeFor[budget.Pause]()},
	{"settle-batch/1", reflect.TypeFor[settle.Batch]()},
	{"settle-proof/1", reflect.TypeFor[settle.Proof]()},
	{"settle-verify/1", reflect.TypeFor[covenant.ProofCheck]()},
	{"error/1", reflect.TypeFor[jsonError]()},
}
