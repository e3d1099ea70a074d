package agents

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrSecret means a secret's file is missing, unreadable, empty or
// readable by others; the run does not start.
var ErrSecret = errors.New("cannot read secret")

// Environ builds a run's whole environment, nothing inherited beyond it:
// the variables of environ (the daemon's) that the allow-list names, then
// [set] with its placeholders expanded from vars, then each secret read
// from its file ("~/" is home), then extra (what the daemon adds itself,
// such as the run token's file). A later entry overrides an earlier one of
// the same name.
func (m *Manifest) Environ(environ []string, vars map[string]string, home string, extra ...string) ([]string, error) {
	out := []string{}
	index := map[string]int{}
	put := func(k, v string) {
		if i, ok := index[k]; ok {
			out[i] = k + "=" + v
			return
		}
		index[k] = len(out)
		out = append(out, k+"="+v)
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && m.allows(k) {
			put(k, v)
		}
	}
	for _, k := range sortedKeys(m.Set) {
		v, err := Expand([]string{m.Set[k]}, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: set.%s: %w", m.Path, k, err)
		}
		put(k, v[0])
	}
	for _, s := range m.Secrets {
		v, err := readSecret(s.File, home)
		if err != nil {
			return nil, fmt.Errorf("%s: secret %s: %w", m.Path, s.Env, err)
		}
		put(s.Env, v)
	}
	for _, kv := range extra {
		if k, v, ok := strings.Cut(kv, "="); ok {
			put(k, v)
		}
	}
	return out, nil
}

// allows reports whether the allow-list passes variable k through.
func (m *Manifest) allows(k string) bool {
	if forbiddenEnv(k) != "" {
		return false
	}
	for _, e := range m.Env {
		if p, ok := strings.CutSuffix(e, "*"); ok {
			if strings.HasPrefix(k, p) {
				return true
			}
		} else if e == k {
			return true
		}
	}
	return false
}

func readSecret(file, home string) (string, error) {
	p := file
	if rest, ok := strings.CutPrefix(file, "~/"); ok {
		if home == "" {
			return "", fmt.Errorf("%w: %s: no home directory to resolve ~ against", ErrSecret, file)
		}
		p = filepath.Join(home, rest)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSecret, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%w: %s is readable by others (mode %04o); chmod 600 it", ErrSecret, p, fi.Mode().Perm())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSecret, err)
	}
	v := strings.TrimRight(string(b), " \t\r\n")
	if v == "" || strings.ContainsRune(v, 0) {
		return "", fmt.Errorf("%w: %s is empty or holds a NUL byte", ErrSecret, p)
	}
	return v, nil
}
