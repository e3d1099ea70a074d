package mailbox

import (
	"fmt"
	"time"
)

// Policy is the retry policy, the config's [mailbox] table. It is an input
// of the fold: every clone folds under the committed one.
type Policy struct {
	// MinLeaseAgeText is how old a lease must be before its message may be
	// claimed again once it expired, whatever its ttl ("30s", "5m"): a
	// holder cannot burn the attempts with leases of one second.
	MinLeaseAgeText string `toml:"min_lease_age,omitempty" json:"min_lease_age"`
	// MaxAttempts is how many claims a message gets; when the last lease
	// expires unanswered the message is failed.
	MaxAttempts int `toml:"max_attempts,omitempty" json:"max_attempts"`
	// MaxRequeues is how many times a message may be given back (each
	// requeue starts its attempts again).
	MaxRequeues int `toml:"max_requeues,omitempty" json:"max_requeues"`

	minLeaseAge time.Duration
}

// DefaultPolicy is the policy when the config has no [mailbox] table.
func DefaultPolicy() Policy {
	return Policy{MinLeaseAgeText: "1m", MaxAttempts: 3, MaxRequeues: 3, minLeaseAge: time.Minute}
}

// Check fills in defaults for absent values and validates the rest.
func (p *Policy) Check() error {
	d := DefaultPolicy()
	if p.MinLeaseAgeText == "" {
		p.MinLeaseAgeText = d.MinLeaseAgeText
	}
	age, err := time.ParseDuration(p.MinLeaseAgeText)
	if err != nil || age < 0 || age > MaxTTL {
		return fmt.Errorf("%w: min_lease_age %q is not a duration from 0s to 168h", ErrBadPolicy, p.MinLeaseAgeText)
	}
	p.minLeaseAge = age
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxRequeues == 0 {
		p.MaxRequeues = d.MaxRequeues
	}
	if p.MaxAttempts < 1 || p.MaxAttempts > 100 {
		return fmt.Errorf("%w: max_attempts %d is not from 1 to 100", ErrBadPolicy, p.MaxAttempts)
	}
	if p.MaxRequeues < 0 || p.MaxRequeues > 100 {
		return fmt.Errorf("%w: max_requeues %d is not from 0 to 100", ErrBadPolicy, p.MaxRequeues)
	}
	return nil
}

// MinLeaseAge is the parsed min_lease_age.
func (p Policy) MinLeaseAge() time.Duration { return p.minLeaseAge }
