package hooks

import (
	"strings"
)

// MessageTrailers returns the trailers of a commit message file as git
// parses them (git interpret-trailers --parse): only the message's one
// trailer block counts, comments aside.
func MessageTrailers(git Git, file string) (map[string][]string, error) {
	out, err := git("interpret-trailers", "--parse", "--", file)
	if err != nil {
		return nil, err
	}
	tr := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			tr[strings.TrimSpace(k)] = append(tr[strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return tr, nil
}

// AddTrailers adds "Key: value" trailers to a commit message file with git
// interpret-trailers itself, so they join the message's existing trailer
// block (never a second paragraph that hides the first) and go before
// git's comment lines; a key the message already has is left as it is.
func AddTrailers(git Git, file string, trailers []string) error {
	args := []string{"interpret-trailers", "--in-place", "--if-exists", "doNothing"}
	for _, t := range trailers {
		args = append(args, "--trailer", t)
	}
	_, err := git(append(args, "--", file)...)
	return err
}
