package agents

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("30m",
// "1h30m", "10s") in TOML and JSON.
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// badDuration and badSize mark a value that did not parse: decoding goes
// on so that every problem of a file is reported, and the check names it
// with its line.
const (
	badDuration = Duration(math.MinInt64)
	badSize     = Size(math.MinInt64)
)

// UnmarshalText reads a duration string; a bare number is refused (say
// "10s", not 10). A bad one is recorded as badDuration for the check.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil || v < 0 {
		*d = badDuration
		return nil
	}
	*d = Duration(v)
	return nil
}

func (d Duration) valid() bool { return d != badDuration }

// MarshalText writes the duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Size is a number of bytes, written as an integer or with a unit: "64KiB",
// "1MiB", "2GiB" (also "KB", "MB", "GB" as powers of 1000, and "K", "M", "G"
// as powers of 1024).
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

func (z Size) valid() bool { return z != badSize }

// UnmarshalText reads a size; a bad one is recorded as badSize for the
// check.
func (z *Size) UnmarshalText(b []byte) error {
	v, err := parseSize(string(b))
	if err != nil {
		*z = badSize
		return nil
	}
	*z = v
	return nil
}

func parseSize(in string) (Size, error) {
	s := strings.TrimSpace(in)
	num, mult := s, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > 0 && mult > (1<<62)/n {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return Size(n * mult), nil
}

// MarshalText writes the size with the largest binary unit that divides it.
func (z Size) MarshalText() ([]byte, error) { return []byte(z.String()), nil }

func (z Size) String() string {
	n := int64(z)
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}
