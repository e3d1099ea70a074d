package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/gateway"
)

// loadSize reads GATEWAY_LOAD ("<clients>x<requests>", default 10x20;
// make bench runs 50x200).
func loadSize(t *testing.T) (int, int) {
	s := os.Getenv("GATEWAY_LOAD")
	if s == "" {
		return 10, 20
	}
	a, b, _ := strings.Cut(s, "x")
	c, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || c <= 0 || n <= 0 {
		t.Fatalf("GATEWAY_LOAD=%q: want <clients>x<requests>", s)
	}
	return c, n
}

// loadCap bounds the load run: no request is sent after it.
const loadCap = 60 * time.Second

// Load: concurrent clients send mixed reads and writes to one gateway. No
// answer may be an error but a documented conflict (409, error/1 code
// conflict); every write answered 2xx is one op in the log, signed by the
// token's operator, and one event on a stream that ran throughout (no op
// lost); verify is clean afterwards. Throughput and p99 are logged (and
// printed as a Markdown row with -v).
func TestGatewayLoad(t *testing.T) {
	clients, requests := loadSize(t)
	f := newFixture(t)
	secret := f.token("", "load", "task.create", "task.claim", "task.comment")
	f.start(gateway.Options{})

	// A stream that counts op events from the start.
	var streamed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequest("GET", f.url+"/v1/events?types=op", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				streamed.Add(1)
			}
		}
	}()
	before := countOps(t, f, secret)

	type result struct {
		write bool
		dur   time.Duration
	}
	var (
		mu        sync.Mutex
		results   []result
		writes    atomic.Int64
		conflicts atomic.Int64
		failures  []string
	)
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	send := func(method, path, body string) (int, []byte, time.Duration) {
		r, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+secret)
		t0 := time.Now()
		resp, err := hc.Do(r)
		if err != nil {
			return 0, []byte(err.Error()), time.Since(t0)
		}
		defer resp.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 4<<20), 4<<20)
		for sc.Scan() {
			b.WriteString(sc.Text())
		}
		return resp.StatusCode, []byte(b.String()), time.Since(t0)
	}
	start := time.Now()
	deadline := start.Add(loadCap)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			var own []string // tasks this client made
			for i := 0; i < requests && time.Now().Before(deadline); i++ {
				var method, path, body string
				write := true
				switch {
				case i%5 == 0 || len(own) == 0:
					method, path, body = "POST", "/v1/tasks", fmt.Sprintf(`{"title":"load %d.%d","labels":["load"]}`, c, i)
				case i%5 == 1:
					method, path, write = "GET", "/v1/tasks/"+own[len(own)-1], false
				case i%5 == 2:
					method, path, body = "POST", "/v1/tasks/"+own[len(own)-1]+"/comment", fmt.Sprintf(`{"text":"comment %d.%d"}`, c, i)
				case i%5 == 3:
					method, path, write = "GET", "/v1/queue/ready?label=load", false
				default:
					// Claim (again) one of its own tasks.
					method, path, body = "POST", "/v1/tasks/"+own[0]+"/start", `{"ttl":"1h"}`
					if len(own) > 1 {
						path = "/v1/tasks/" + own[1] + "/start"
					}
				}
				code, b, d := send(method, path, body)
				mu.Lock()
				results = append(results, result{write, d})
				mu.Unlock()
				switch {
				case code/100 == 2:
					if write {
						writes.Add(1)
					}
					if method == "POST" && path == "/v1/tasks" {
						var tk struct{ ID string }
						json.Unmarshal(b, &tk)
						own = append(own, tk.ID)
					}
				case code == http.StatusConflict && strings.Contains(string(b), `"code":"conflict"`):
					conflicts.Add(1)
				default:
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s %s: %d %.300s", method, path, code, b))
					mu.Unlock()
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, fl := range failures {
		t.Error(fl)
	}
	// No op lost: the log has one op per acknowledged write, and so has the stream.
	after := countOps(t, f, secret)
	if got := after - before; got != int(writes.Load()) {
		t.Errorf("%d writes answered 2xx, %d new ops in the log", writes.Load(), got)
	}
	waitFor(t, "every op on the stream", func() bool { return streamed.Load() >= writes.Load() })
	cancel()
	<-streamDone
	if streamed.Load() != writes.Load() {
		t.Errorf("%d ops streamed, %d written", streamed.Load(), writes.Load())
	}
	var ver struct {
		Findings []struct{ Severity, Reason string }
	}
	f.do("GET", "/v1/verify", secret, nil).json(t, &ver)
	for _, fd := range ver.Findings {
		if fd.Severity != "conflict" {
			t.Errorf("verify: %+v", fd)
		}
	}
	if _, errOut, err := f.try("verify"); err != nil {
		t.Errorf("git covenant verify: %v\n%s", err, errOut)
	}
	var rd, wr []time.Duration
	for _, r := range results {
		if r.write {
			wr = append(wr, r.dur)
		} else {
			rd = append(rd, r.dur)
		}
	}
	all := append(append([]time.Duration(nil), rd...), wr...)
	row := fmt.Sprintf("| gateway load %dx%d | %d requests in %.1f s: %.0f req/s | p99 %s (reads %s, writes %s) | %d writes, %d conflicts, %d streamed |",
		clients, requests, len(results), elapsed.Seconds(), float64(len(results))/elapsed.Seconds(), ms(pct(all, 99)), ms(pct(rd, 99)), ms(pct(wr, 99)),
		writes.Load(), conflicts.Load(), streamed.Load())
	t.Log(row)
	if testing.Verbose() {
		fmt.Println(row)
	}
}

// countOps counts the log's ops.
func countOps(t *testing.T, f *fixture, secret string) int {
	t.Helper()
	var log []json.RawMessage
	f.do("GET", "/v1/log?limit=100000", secret, nil).json(t, &log)
	return len(log)
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
