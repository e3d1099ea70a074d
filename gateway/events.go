package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/refwatch"
)

// Event is one server-sent event.
type Event struct {
	// ID is the event's id: an op's fold-order key (a client resumes
	// after it with Last-Event-ID); "" for run output, which is not
	// replayed.
	ID   string
	Type string // "op" or "run-output"
	Data []byte // one JSON document
}

// RunOutput is the data of a run-output event.
type RunOutput struct {
	Run  string `json:"run"`
	Task string `json:"task"`
	Text string `json:"text"`
}

// subBuffer is how many events a slow client may fall behind by before
// its stream is ended (it resumes with Last-Event-ID, losing no op).
const subBuffer = 4096

type sub struct {
	ch    chan Event
	types map[string]bool // nil: all
	gone  chan struct{}   // closed when the broker drops the client
	once  sync.Once
}

func (u *sub) drop() { u.once.Do(func() { close(u.gone) }) }

// broker reads new ops from the service when the feed refs change
// (package refwatch, as the daemon's scan loop) or every Poll, and fans them out with published run output
// to the subscribed streams.
type broker struct {
	s      *Server
	mu     sync.Mutex
	subs   map[*sub]bool
	cursor string // fold-order key of the last op sent
	kick   chan struct{}
	wg     sync.WaitGroup
}

func newBroker(s *Server) *broker {
	return &broker{s: s, subs: map[*sub]bool{}, kick: make(chan struct{}, 1)}
}

func (b *broker) start(ctx context.Context) error {
	last, err := b.s.svc.LastLogOrder(ctx)
	if err != nil {
		return fmt.Errorf("gateway: events: %w", err)
	}
	b.cursor = last
	var fw *refwatch.Watcher
	if !b.s.o.NoWatch {
		if fw, err = b.watch(ctx); err != nil {
			b.s.logf("no file watcher (%v); polling every %s", err, b.s.o.Poll)
			fw = nil
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if fw != nil {
			defer fw.Close()
		}
		tick := time.NewTicker(b.s.o.Poll)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				b.mu.Lock()
				for u := range b.subs {
					u.drop()
				}
				b.mu.Unlock()
				return
			case <-tick.C:
			case <-b.kick:
			}
			b.pump(ctx)
		}
	}()
	return nil
}

func (b *broker) wait() { b.wg.Wait() }

// watch kicks a pump on every change of the feed refs (package
// refwatch, as the daemon's scan loop).
func (b *broker) watch(ctx context.Context) (*refwatch.Watcher, error) {
	refs, common := b.s.svc.RefsDirs()
	return refwatch.Watch(ctx, refwatch.Options{Refs: refs, Common: common}, func(refwatch.Change) {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	})
}

// pump sends every op after the cursor. Reads catch the index up with the
// feeds first, so an op another process wrote is there once its ref moved.
func (b *broker) pump(ctx context.Context) {
	b.mu.Lock()
	after := b.cursor
	b.mu.Unlock()
	var evs []Event
	err := b.s.svc.LogAfter(ctx, after, func(raw []byte, e *covenant.LogEntry) error {
		evs = append(evs, Event{ID: e.Order, Type: "op", Data: withSchema("log-entry/1", raw)})
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			b.s.logf("events: reading new ops: %v", err)
		}
		return
	}
	if len(evs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ev := range evs {
		if ev.ID <= b.cursor {
			continue
		}
		b.cursor = ev.ID
		b.send(ev)
	}
}

// send fans an event out; the caller holds mu. A client that fell
// subBuffer events behind is dropped rather than waited for.
func (b *broker) send(ev Event) {
	for u := range b.subs {
		if u.types != nil && !u.types[ev.Type] {
			continue
		}
		select {
		case u.ch <- ev:
		default:
			delete(b.subs, u)
			u.drop()
		}
	}
}

// Publish sends an event that is not an op (run output) to every stream
// that takes its type.
func (s *Server) Publish(ev Event) {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	s.events.send(ev)
}

// PublishRunOutput sends a chunk of a run's output as a run-output event.
func (s *Server) PublishRunOutput(run, task string, text []byte) {
	b, _ := json.Marshal(RunOutput{Run: run, Task: task, Text: string(text)})
	s.Publish(Event{Type: "run-output", Data: withSchema("run-output/1", b)})
}

// serve streams events to one client: first the ops after its
// Last-Event-ID (or ?after=), then new ones as they come. A comment line
// every 15 s keeps proxies from closing an idle stream.
func (b *broker) serve(c *call) error {
	fl, ok := c.w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming is not supported on this connection")
	}
	u := &sub{ch: make(chan Event, subBuffer), gone: make(chan struct{})}
	if t := c.q("types"); t != "" {
		u.types = map[string]bool{}
		for _, x := range strings.Split(t, ",") {
			switch x = strings.TrimSpace(x); x {
			case "op", "run-output":
				u.types[x] = true
			default:
				return fmt.Errorf("%w: event type %q (op, run-output)", ErrBadRequest, x)
			}
		}
	}
	after := c.r.Header.Get("Last-Event-ID")
	if a := c.q("after"); a != "" {
		after = a
	}
	// Subscribe before the replay: what arrives meanwhile is buffered and
	// sent once, in order, after it.
	b.mu.Lock()
	b.subs[u] = true
	live := b.cursor
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, u)
		b.mu.Unlock()
	}()
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
	fmt.Fprint(c.w, ": git-covenant events\n\n")
	fl.Flush()
	sent := ""
	if after != "" && (u.types == nil || u.types["op"]) {
		err := b.s.svc.LogAfter(c.ctx, after, func(raw []byte, e *covenant.LogEntry) error {
			if e.Order > live {
				return nil // the live stream has it
			}
			sent = e.Order
			return writeEvent(c.w, Event{ID: e.Order, Type: "op", Data: withSchema("log-entry/1", raw)})
		})
		if err != nil {
			return err
		}
		fl.Flush()
	}
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return nil
		case <-u.gone:
			fmt.Fprint(c.w, "event: end\ndata: {\"reason\":\"the stream fell behind or the gateway stopped; reconnect with Last-Event-ID\"}\n\n")
			fl.Flush()
			return nil
		case <-keep.C:
			fmt.Fprint(c.w, ": keep-alive\n\n")
			fl.Flush()
		case ev := <-u.ch:
			if ev.ID != "" && ev.ID <= sent {
				continue
			}
			if err := writeEvent(c.w, ev); err != nil {
				return nil
			}
			// Send what else is queued before flushing.
			for n := len(u.ch); n > 0; n-- {
				ev := <-u.ch
				if err := writeEvent(c.w, ev); err != nil {
					return nil
				}
			}
			fl.Flush()
		}
	}
}

func writeEvent(w http.ResponseWriter, ev Event) error {
	var err error
	if ev.ID != "" {
		_, err = fmt.Fprintf(w, "id: %s\n", ev.ID)
	}
	if err == nil {
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, ev.Data)
	}
	return err
}
