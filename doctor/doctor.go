// Package doctor diagnoses a git-covenant set-up: the tools it runs, the
// repository (through covenant.Service.Diagnose), the daemon and the
// sandbox backends this host offers. It writes nothing.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/runner"
	"github.com/git-covenant/git-covenant/sandbox"
)

// Report is what `git covenant doctor --json` prints (schema "doctor/1").
type Report struct {
	OK     bool             `json:"ok"` // no check failed
	Checks []covenant.Check `json:"checks"`
}

// Env is what Run needs from the outside world.
type Env struct {
	Dir  string
	Env  []string // the whole environment (PATH finds git and ssh-keygen)
	Open func(context.Context) (*covenant.Service, error)
}

// Run makes every check. A repository that cannot be opened is one failed
// check; the host checks run anyway.
func Run(ctx context.Context, e Env) *Report {
	r := &Report{}
	svc, err := e.Open(ctx)
	if err != nil {
		r.Checks = append(r.Checks, covenant.GitVersionCheck(ctx, e.Dir, e.Env),
			covenant.Check{Name: "repository", Status: covenant.CheckFail, Detail: err.Error(),
				Fix: "run doctor inside a git repository (git init), then git covenant init --name <you>"})
	} else {
		r.Checks = append(r.Checks, svc.Diagnose(ctx)...)
	}
	r.Checks = append(r.Checks, sshKeygen(e.Env))
	if svc != nil {
		r.Checks = append(r.Checks, daemonCheck(svc))
	}
	r.Checks = append(r.Checks, sandboxCheck())
	r.OK = true
	for _, c := range r.Checks {
		if c.Status == covenant.CheckFail {
			r.OK = false
		}
	}
	return r
}

// sshKeygen: git verifies SSH commit signatures with it (git log
// --show-signature, verify-commit), and the tests sign with it.
func sshKeygen(env []string) covenant.Check {
	c := covenant.Check{Name: "ssh-keygen"}
	p, err := runner.LookPath("ssh-keygen", env, "")
	if err != nil {
		c.Status, c.Detail, c.Fix = covenant.CheckWarn, "not found: git cannot check SSH signatures itself (git log --show-signature); git-covenant does not need it",
			"install OpenSSH's client (Debian: apt-get install openssh-client)"
		return c
	}
	cmd := exec.Command(p, "-h")
	out, _ := cmd.CombinedOutput() // prints usage and exits 1; -h is only to see it runs
	if len(out) == 0 {
		c.Status, c.Detail = covenant.CheckWarn, p+" does not run"
		return c
	}
	c.Status, c.Detail = covenant.CheckOK, p
	return c
}

func daemonCheck(svc *covenant.Service) covenant.Check {
	c := covenant.Check{Name: "daemon"}
	cov, err := svc.CovenantDir()
	if err != nil {
		c.Status, c.Detail = covenant.CheckSkip, err.Error()
		return c
	}
	h, err := daemon.ReadHolder(cov)
	switch {
	case errors.Is(err, daemon.ErrNotRunning):
		c.Status, c.Detail = covenant.CheckOK, "not running (start one with: git covenant daemon start)"
	case err != nil:
		c.Status, c.Detail, c.Fix = covenant.CheckWarn, "cannot read its lock: "+err.Error(), "git covenant daemon status"
	default:
		c.Status, c.Detail = covenant.CheckOK, fmt.Sprintf("running, pid %d, since %s", h.Process.Pid, h.Started.Format("2006-01-02 15:04:05Z07:00"))
	}
	return c
}

func sandboxCheck() covenant.Check {
	rep := sandbox.Host()
	var have, lack []string
	for _, b := range rep.Backends {
		if b.Available {
			have = append(have, string(b.Backend))
		} else {
			lack = append(lack, fmt.Sprintf("%s (%s)", b.Backend, b.Reason))
		}
	}
	c := covenant.Check{Name: "sandbox", Status: covenant.CheckOK}
	c.Detail = "backends: " + strings.Join(have, ", ") + "; agents get " + string(rep.Default) + " by default"
	if len(lack) > 0 {
		c.Detail += "; unavailable: " + strings.Join(lack, "; ")
	}
	if rep.Default == sandbox.None || rep.Default == "" {
		c.Status = covenant.CheckWarn
		c.Detail += "; agents run without isolation unless a manifest requires a backend (and then fail closed)"
		c.Fix = "install bubblewrap (Debian: apt-get install bubblewrap), or use a kernel with Landlock"
	}
	if cg := rep.Cgroup; cg.Version != "" {
		c.Detail += fmt.Sprintf("; cgroup %s limits: %s", cg.Version, strings.Join(cg.Controllers, ", "))
	} else if cg.Reason != "" {
		c.Detail += "; no cgroup limits (" + cg.Reason + ")"
	}
	return c
}
