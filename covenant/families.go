package covenant

import (
	"github.com/git-covenant/git-covenant/attest/checkpoint"
	"github.com/git-covenant/git-covenant/budget"
	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/mailbox"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/provenance"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/settle"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/tokens"
	"github.com/git-covenant/git-covenant/trust"
)

// guards are the checks every op passes, in order, before its family's
// Apply: the signer may act at all. Cut-offs by feed position and time
// bounds go here too.
var guards = []fold.Guard{trust.Admit}

// registry composes the fold from the op families: the one place that names
// them. A new family is a package that returns a fold.Family, added here,
// with what it folds under taken from cfg (the workflow, the mailbox
// policy), which the index's config digest covers.
func registry(cfg *config.Config) *fold.Registry {
	return fold.MustNew(guards,
		trust.Family(),
		tasks.Family(cfg.Lifecycle()),
		checkpoint.Family(),
		memory.Family(),
		mailbox.Family(cfg.MailboxPolicy()),
		runs.Family(),
		provenance.Family(),
		tokens.Family(),
		settle.Family(),
		budget.Family(),
	)
}
