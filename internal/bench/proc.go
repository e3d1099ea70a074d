package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Proc is a process to time: argv run in Dir with stdout to Stdout (a file,
// so no Go goroutine copies it) and stdin from Stdin when set.
type Proc struct {
	Dir    string
	Args   []string
	Stdout *os.File
	Stdin  *os.File
}

// Time runs p once and returns the wall time from start to exit.
func (p Proc) Time() (time.Duration, error) {
	cmd := exec.Command(p.Args[0], p.Args[1:]...)
	cmd.Dir = p.Dir
	cmd.Stdout = p.Stdout
	cmd.Stdin = p.Stdin
	var errb strings.Builder
	cmd.Stderr = &errb
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s: %v: %s", strings.Join(p.Args, " "), err, strings.TrimSpace(errb.String()))
	}
	return d, nil
}

// Pipeline times `a | b`, with b's stdout to out: wall time from starting
// a to both exiting.
func Pipeline(dir string, a, b []string, out *os.File) (time.Duration, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	ca := exec.Command(a[0], a[1:]...)
	cb := exec.Command(b[0], b[1:]...)
	ca.Dir, cb.Dir = dir, dir
	ca.Stdout, cb.Stdin, cb.Stdout = pw, pr, out
	start := time.Now()
	if err := ca.Start(); err != nil {
		pr.Close()
		pw.Close()
		return 0, err
	}
	if err := cb.Start(); err != nil {
		pr.Close()
		pw.Close()
		ca.Wait()
		return 0, err
	}
	pr.Close()
	pw.Close()
	errA, errB := ca.Wait(), cb.Wait()
	d := time.Since(start)
	if errA != nil {
		return d, fmt.Errorf("%s: %v", strings.Join(a, " "), errA)
	}
	if errB != nil {
		return d, fmt.Errorf("%s: %v", strings.Join(b, " "), errB)
	}
	return d, nil
}
