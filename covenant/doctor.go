package covenant

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/hooks"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/remote"
)

// Statuses of a Check.
const (
	CheckOK   = "ok"
	CheckWarn = "warn" // worth knowing; nothing is broken
	CheckFail = "fail" // something does not work until fixed
	CheckSkip = "skip" // could not be checked (an earlier check failed)
)

// Check is one finding of `git covenant doctor`: what was checked, what
// was found, and for a problem the command that fixes it.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// MinGitVersion is the oldest git the tool is tested with (update-ref
// transactions, push --atomic, worktree locking, rev-list --stdin).
var MinGitVersion = [2]int{2, 30}

// Diagnose checks this repository's set-up: git, the keystore and its
// key files, the acting identity, the trust root, remotes, hooks, the
// index and git maintenance. It writes nothing, except that its reads
// rebuild a damaged index, as every command's do (after reporting it).
func (s *Service) Diagnose(ctx context.Context) []Check {
	var out []Check
	add := func(name, status, detail, fix string) {
		out = append(out, Check{Name: name, Status: status, Detail: detail, Fix: fix})
	}
	out = append(out, GitVersionCheck(ctx, s.gitWorkDir(), s.store().Git().Env))

	cfg, cfgErr := s.requireConfig()
	if cfgErr != nil {
		add("config", CheckFail, "no covenant configuration: "+cfgErr.Error(), "git covenant init --name <you>")
	} else {
		add("config", CheckOK, fmt.Sprintf(".covenant/config.toml, %d trust root(s)", len(cfg.Trust.Roots)), "")
	}

	// Keystore and key files.
	keys := s.c.keys
	ids, err := keys.List()
	switch {
	case err != nil:
		add("keys", CheckFail, "cannot read the keystore "+keys.Dir+": "+err.Error(), "chmod 700 "+keys.Dir)
	case len(ids) == 0:
		add("keys", CheckFail, "no identity in the keystore "+keys.Dir, "git covenant id new <name>")
	default:
		bad := 0
		for _, d := range []string{keys.Dir, filepath.Join(keys.Dir, "identities")} {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o077 != 0 {
				bad++
				add("keys", CheckFail, fmt.Sprintf("%s has mode %04o: other users can list the keys", d, fi.Mode().Perm()), "chmod 700 "+d)
			}
		}
		for _, id := range ids {
			if _, err := keys.Signer(id.Name); err != nil {
				bad++
				add("keys", CheckFail, fmt.Sprintf("identity %s: %v", id.Name, err), insecureFix(err))
			}
		}
		if bad == 0 {
			add("keys", CheckOK, fmt.Sprintf("%d identit%s in %s, key files private", len(ids), plural(len(ids), "y", "ies"), keys.Dir), "")
		}
	}
	if cfgErr != nil {
		for _, n := range []string{"identity", "trust-root", "index", "remotes", "hooks"} {
			add(n, CheckSkip, "needs the covenant configuration", "")
		}
		out = append(out, s.maintenanceCheck(ctx))
		return out
	}

	// The index first: the reads below would rebuild a damaged one.
	heads, herr := index.FoldHeads(s.store())
	if herr == nil {
		out = append(out, s.indexCheck(ctx, heads))
	}

	// The acting identity.
	if me, err := s.Actor(""); err != nil {
		fix := "git covenant id new <name>  (or set GIT_COVENANT_AS)"
		if f := insecureFix(err); f != "" {
			fix = f
		}
		add("identity", CheckFail, "no acting identity: "+err.Error(), fix)
	} else if a, err := s.ActorState(ctx, me.Name); err != nil {
		add("identity", CheckFail, fmt.Sprintf("%s: cannot read its trust state: %v", me.Name, err), "git covenant verify")
	} else {
		switch {
		case a.Retired != "":
			add("identity", CheckFail, fmt.Sprintf("%s (%s) was %s: its ops are refused", me.Name, me.KeyID, a.Retired), "git covenant id new <name>, then ask an admin to register it")
		case !a.Known():
			add("identity", CheckFail, fmt.Sprintf("%s (%s) is not registered in this repository: its ops are refused", me.Name, me.KeyID),
				fmt.Sprintf("an admin runs: git covenant id register %s --key '%s'", me.Name, me.Key))
		default:
			role := me.Role
			if a.Root {
				role += ", trust root"
			}
			add("identity", CheckOK, fmt.Sprintf("%s (%s, %s)", me.Name, me.KeyID, role), "")
		}
	}

	// Trust root: configured, and its feed present.
	if herr != nil {
		add("trust-root", CheckFail, "cannot list the feeds: "+herr.Error(), "git covenant verify")
	} else {
		missing := []string{}
		for _, r := range cfg.Trust.Roots {
			pub, err := identity.ParsePublicKey(r.Key)
			if err != nil {
				missing = append(missing, r.Name+" (bad key)")
				continue
			}
			if _, ok := heads[identity.KeyID(pub)]; !ok {
				missing = append(missing, r.Name)
			}
		}
		if len(missing) > 0 {
			add("trust-root", CheckFail, "no feed in this clone for trust root(s) "+strings.Join(missing, ", ")+": nothing they granted is known", "git covenant sync")
		} else {
			add("trust-root", CheckOK, fmt.Sprintf("%d root(s), %d feed(s)", len(cfg.Trust.Roots), len(heads)), "")
		}
	}

	// Remotes: the refspecs that make plain fetch and push carry covenant state.
	g := s.gitRunner()
	if names, err := g.Remotes(); err != nil {
		add("remotes", CheckFail, "cannot list the remotes: "+err.Error(), "")
	} else if len(names) == 0 {
		add("remotes", CheckOK, "no remote (covenant state stays in this clone)", "")
	} else {
		good := []string{}
		for _, n := range names {
			miss, err := remote.MissingSpecs(g, n)
			if err != nil {
				add("remotes", CheckFail, fmt.Sprintf("remote %s: %v", n, err), "")
				continue
			}
			if len(miss) > 0 {
				add("remotes", CheckFail, fmt.Sprintf("remote %s lacks %d covenant refspec(s) (e.g. %s %s): a plain git fetch or push leaves feeds and notes behind", n, len(miss), miss[0].Key, miss[0].Value),
					"git covenant remote setup "+n)
				continue
			}
			good = append(good, n)
		}
		if len(good) > 0 {
			add("remotes", CheckOK, "covenant refspecs configured on "+strings.Join(good, ", "), "")
		}
	}

	// Hooks.
	if dir, err := s.hooksDir(ctx); err != nil {
		add("hooks", CheckFail, "cannot find the hooks directory: "+err.Error(), "")
	} else {
		required := (cfg.Provenance != nil && len(cfg.Provenance.Require) > 0) || s.c.getenv("GIT_COVENANT_REQUIRE_PROVENANCE") != ""
		for _, h := range hooks.Inspect(dir) {
			name := "hooks"
			switch h.Action {
			case "installed":
				d := h.Hook + " installed in " + dir
				if h.Chained != "" {
					d += ", chained to " + filepath.Base(h.Chained)
				}
				add(name, CheckOK, d, "")
			case "outdated":
				add(name, CheckFail, h.Hook+" is an older git-covenant hook", "git covenant hooks install")
			case "foreign":
				st := CheckWarn
				if required && h.Hook == "pre-push" {
					st = CheckFail
				}
				add(name, st, h.Hook+" is another program's hook: git-covenant's does not run", "git covenant hooks install  (keeps it, chained)")
			default:
				if required && h.Hook == "pre-push" {
					add(name, CheckFail, "provenance is required but the pre-push hook is not installed: pushes are not checked here", "git covenant hooks install")
				} else {
					add(name, CheckWarn, h.Hook+" not installed", "git covenant hooks install")
				}
			}
		}
	}
	out = append(out, s.maintenanceCheck(ctx))
	return out
}

// indexCheck opens the index read only and reports whether it is intact
// and how far it lags behind the feeds (the next command folds them).
func (s *Service) indexCheck(ctx context.Context, heads map[string]gitstore.Hash) Check {
	c := Check{Name: "index"}
	p, err := s.c.indexPath()
	if err != nil {
		c.Status, c.Detail = CheckFail, err.Error()
		return c
	}
	if _, err := os.Stat(p); err != nil {
		c.Status, c.Detail = CheckOK, "not built yet: the next command builds it"
		return c
	}
	ix, err := index.Open(p, true)
	if err != nil {
		c.Status, c.Detail, c.Fix = CheckWarn, "cannot open it ("+err.Error()+"): commands rebuild it, or fold in memory", "git covenant index rebuild"
		return c
	}
	defer ix.Close()
	m, err := ix.Meta()
	if err != nil {
		c.Status, c.Detail, c.Fix = CheckWarn, "damaged ("+err.Error()+"): the next command rebuilds it", "git covenant index rebuild"
		return c
	}
	behind := 0
	for k, h := range heads {
		if pos, ok := m.Feeds[k]; !ok || pos.Tip != h.String() {
			behind++
		}
	}
	c.Status = CheckOK
	c.Detail = fmt.Sprintf("%d ops, %d tasks, %d feeds", m.Ops, m.Tasks, len(m.Feeds))
	if m.Version != index.FormatVersion {
		c.Detail += fmt.Sprintf("; format %d, this binary writes %d: the next command rebuilds it", m.Version, index.FormatVersion)
	} else if behind > 0 {
		c.Detail += fmt.Sprintf("; %d feed(s) moved since it was folded: the next command catches up", behind)
	} else {
		c.Detail += "; current"
	}
	return c
}

// maintenanceCheck says which git maintenance is safe beside writers and
// warns about settings that make the default unsafe.
func (s *Service) maintenanceCheck(ctx context.Context) Check {
	c := Check{Name: "maintenance", Status: CheckOK,
		Detail: "safe while git-covenant writes: git gc, git maintenance run, git repack -a -d, git pack-refs --all, git prune (default expiry); " +
			"git-covenant's own writes (feeds, provenance notes, sync's notes merges) are safe even beside gc --prune=now, which (as for git itself) is not safe beside git's own writes such as commits"}
	g := s.store().Git().WithDir(s.gitWorkDir())
	for _, key := range []string{"gc.pruneExpire", "gc.worktreePruneExpire"} {
		v, err := g.Output(ctx, []string{"config", "--get", key})
		if err == nil && strings.TrimSpace(string(v)) == "now" {
			c.Status = CheckWarn
			c.Detail = key + " = now: every automatic gc prunes without a grace period, which can delete the objects of a commit or note being written; " + c.Detail
			c.Fix = "git config --unset " + key
		}
	}
	return c
}

// GitVersionCheck runs `git --version` and compares it with MinGitVersion.
// env is git's whole environment (PATH finds it); dir may be "".
func GitVersionCheck(ctx context.Context, dir string, env []string) Check {
	g := &gitstore.Git{Dir: dir, Env: env}
	c := Check{Name: "git"}
	out, err := g.Output(ctx, []string{"--version"})
	if err != nil {
		c.Status, c.Detail, c.Fix = CheckFail, "git does not run: "+err.Error(), "install git (Debian: apt-get install git)"
		return c
	}
	v := strings.TrimSpace(string(out))
	m := regexp.MustCompile(`(\d+)\.(\d+)`).FindStringSubmatch(v)
	if m == nil {
		c.Status, c.Detail = CheckWarn, "cannot read the version of "+v
		return c
	}
	maj, _ := strconv.Atoi(m[1])
	min, _ := strconv.Atoi(m[2])
	if maj < MinGitVersion[0] || maj == MinGitVersion[0] && min < MinGitVersion[1] {
		c.Status, c.Detail, c.Fix = CheckFail, fmt.Sprintf("%s is older than %d.%d", v, MinGitVersion[0], MinGitVersion[1]), "upgrade git"
		return c
	}
	c.Status, c.Detail = CheckOK, v
	return c
}

// insecureFix is the chmod an insecure-key error names, or "".
func insecureFix(err error) string {
	var ie *identity.InsecureError
	if errors.As(err, &ie) {
		return ie.Fix
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
