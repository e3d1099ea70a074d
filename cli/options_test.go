package cli

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/spf13/cobra"
)

// TestRunFSeesParsedOptions injects runF into commands and checks the
// options they were handed: flags and arguments parsed and converted, the
// Factory's dependencies in place, and no repository touched (the
// working directory is an empty directory, and the Service is never
// opened). Malformed input is a usage error before runF.
func TestRunFSeesParsedOptions(t *testing.T) {
	newFactory := func() *Factory {
		return &Factory{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Dir: t.TempDir(),
			Getenv: func(string) string { return "" }, Now: time.Now}
	}
	run := func(t *testing.T, f *Factory, c *cobra.Command, args ...string) error {
		t.Helper()
		c.SetArgs(args)
		c.SetOut(&bytes.Buffer{})
		c.SetErr(&bytes.Buffer{})
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
		err := c.ExecuteContext(context.Background())
		if f.svc != nil {
			t.Fatal("the Service was opened")
		}
		return err
	}

	t.Run("task start", func(t *testing.T) {
		f := newFactory()
		var got *taskStartOptions
		c := newCmdTaskStart(f, func(ctx context.Context, o *taskStartOptions) error {
			if ctx == nil {
				t.Error("runF got no context")
			}
			got = o
			return nil
		})
		if err := run(t, f, c, "tk-3f2a", "--ttl", "90m", "--via", "origin", "--json"); err != nil {
			t.Fatal(err)
		}
		want := covenant.StartRequest{Task: "tk-3f2a", TTL: 90 * time.Minute, Via: "origin"}
		if got == nil || got.Start != want || !got.JSON {
			t.Fatalf("options %+v, want %+v with JSON", got, want)
		}
		if got.Out != f.Out || got.Service == nil {
			t.Fatal("the Factory's dependencies are not in the options")
		}
	})

	t.Run("task start refuses a bad ttl before runF", func(t *testing.T) {
		f := newFactory()
		called := false
		c := newCmdTaskStart(f, func(context.Context, *taskStartOptions) error { called = true; return nil })
		err := run(t, f, c, "tk-3f2a", "--ttl", "soon")
		var ue usageError
		if !errors.As(err, &ue) || called {
			t.Fatalf("err %v (usage: %v), runF called: %v", err, errors.As(err, &ue), called)
		}
	})

	t.Run("task heartbeat", func(t *testing.T) {
		f := newFactory()
		var got *taskHeartbeatOptions
		c := newCmdTaskHeartbeat(f, func(_ context.Context, o *taskHeartbeatOptions) error { got = o; return nil })
		if err := run(t, f, c, "tk-77aa", "--ttl", "1h30m"); err != nil {
			t.Fatal(err)
		}
		if got.Task != "tk-77aa" || got.TTL != 90*time.Minute || got.JSON {
			t.Fatalf("options %+v", got)
		}
	})

	t.Run("task check", func(t *testing.T) {
		f := newFactory()
		var got *taskCheckOptions
		c := newCmdTaskCheck(f, func(_ context.Context, o *taskCheckOptions) error { got = o; return nil })
		if err := run(t, f, c, "tk-77aa", "--gate", "tests", "--", "make", "-j2", "test"); err != nil {
			t.Fatal(err)
		}
		if got.Task != "tk-77aa" || got.Gate != "tests" || !reflect.DeepEqual(got.Argv, []string{"make", "-j2", "test"}) || got.Dir != f.Dir {
			t.Fatalf("options %+v", got)
		}
	})

	t.Run("id new", func(t *testing.T) {
		f := newFactory()
		var got *idNewOptions
		c := newCmdIDNew(f, func(_ context.Context, o *idNewOptions) error { got = o; return nil })
		if err := run(t, f, c, "builder-1", "--role", "agent"); err != nil {
			t.Fatal(err)
		}
		if got.Name != "builder-1" || got.Role != identity.Agent || got.Keystore == nil || got.Now == nil {
			t.Fatalf("options %+v", got)
		}
		if err := run(t, f, newCmdIDNew(f, func(context.Context, *idNewOptions) error { t.Fatal("runF called"); return nil }),
			"x", "--role", "robot"); !errors.As(err, new(usageError)) {
			t.Fatalf("--role robot: %v, want a usage error", err)
		}
	})

	t.Run("config", func(t *testing.T) {
		f := newFactory()
		var got *configOptions
		c := newCmdConfig(f, func(_ context.Context, o *configOptions) error { got = o; return nil })
		if err := run(t, f, c, "provenance.commands", "--add", "make test", "--add", "go vet ./..."); err != nil {
			t.Fatal(err)
		}
		if got.Key.Name != "provenance.commands" || got.Value != nil || !reflect.DeepEqual(got.Add, []string{"make test", "go vet ./..."}) || got.Unset {
			t.Fatalf("options %+v", got)
		}
		if err := run(t, f, newCmdConfig(f, func(context.Context, *configOptions) error { t.Fatal("runF called"); return nil }),
			"version", "--add", "2"); !errors.As(err, new(usageError)) {
			t.Fatalf("--add on an int key: %v, want a usage error", err)
		}
	})

	t.Run("verify with a range", func(t *testing.T) {
		f := newFactory()
		var got *verifyOptions
		c := newCmdVerify(f, func(_ context.Context, o *verifyOptions) error { got = o; return nil })
		if err := run(t, f, c, "origin/main..HEAD", "--require-provenance", "--json", "--policy-from", "origin/main"); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Revs, []string{"origin/main..HEAD"}) || !got.RequireProv || got.Format != "json" || got.PolicyFrom != "origin/main" {
			t.Fatalf("options %+v", got)
		}
	})
}

// TestManPagesKeepPlaceholders renders every command's page: each is named
// after its command (git-covenant-task-create, not GIT-COVENANT for all)
// and its SYNOPSIS keeps the Use line's <placeholders> as they are.
func TestManPagesKeepPlaceholders(t *testing.T) {
	root := NewCmdRoot(&Factory{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Getenv: func(string) string { return "" }, Now: time.Now})
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range availableSubcommands(c) {
			walk(s)
		}
		page := string(manPage(c))
		name := manName(c)
		if !strings.HasPrefix(page, `.TH "`+strings.ToUpper(name)+`" 1 `) {
			t.Errorf("%s: page starts %.60q", name, page)
		}
		syn := page[strings.Index(page, ".SH SYNOPSIS\n"):strings.Index(page, ".SH DESCRIPTION\n")]
		for _, w := range strings.Fields(c.Use)[1:] {
			if strings.Contains(w, "<") && !strings.Contains(syn, roff(w)) {
				t.Errorf("%s: SYNOPSIS lost %s:\n%s", name, w, syn)
			}
		}
		n++
	}
	walk(root)
	if n < 60 {
		t.Fatalf("only %d pages", n)
	}
}
