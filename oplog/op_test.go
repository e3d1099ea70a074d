package oplog

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	cases := []struct {
		in, want string
		err      bool
	}{
		{`{"b":1,"a":[true,null,"x"]}`, `{"a":[true,null,"x"],"b":1}`, false},
		{"{ \"a\" : 1 }", `{"a":1}`, false},
		{`{"s":"<&>"}`, `{"s":"<&>"}`, false},
		{`{"a":1,"a":2}`, "", true},   // duplicate key
		{`{"a":1.5}`, "", true},       // not an integer
		{`{"a":1e3}`, "", true},       // exponent
		{`{"a":01}`, "", true},        // leading zero is not JSON
		{`{"a":1} {"b":2}`, "", true}, // trailing data
		{"{\"a\":\"\xff\"}", "", true},
		{`{"a":-0}`, "", true}, // minus zero
		{`{"a":-1}`, `{"a":-1}`, false},
		{`{"a":0}`, `{"a":0}`, false},
	}
	for _, c := range cases {
		got, err := Canonicalize([]byte(c.in))
		if c.err {
			if err == nil {
				t.Errorf("Canonicalize(%q) = %q, want error", c.in, got)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("Canonicalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func validOp() *Op {
	return &Op{V: Version, Type: "task.create", Actor: "0123456789abcdef0123456789abcdef", Seq: 1, Lamport: 1, Time: "2026-01-02T03:04:05Z", Body: []byte(`{"title":"x"}`)}
}

func TestDecodeRoundTripAndRefusals(t *testing.T) {
	raw, err := validOp().Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(raw); err != nil {
		t.Fatalf("decode canonical op: %v", err)
	}
	v1 := validOp()
	v1.V = Version1
	if raw1, err := v1.Encode(); err != nil {
		t.Fatal(err)
	} else if o, err := Decode(raw1); err != nil || o.Causal() {
		t.Fatalf("version 1 op: %v, causal %v", err, o != nil && o.Causal())
	}
	withSeen := validOp()
	withSeen.Seen = map[string]uint64{"00112233445566778899aabbccddeeff": 4}
	if raw2, err := withSeen.Encode(); err != nil {
		t.Fatal(err)
	} else if o, err := Decode(raw2); err != nil || o.Seen["00112233445566778899aabbccddeeff"] != 4 {
		t.Fatalf("seen-vector round trip: %v %v", o, err)
	}
	spaced := append([]byte(" "), raw...)
	if _, err := Decode(spaced); !errors.Is(err, ErrNotCanonical) {
		t.Errorf("non-canonical bytes: %v", err)
	}
	// mut builds the canonical JSON of a changed op without Encode's
	// checks, as a modified client would.
	mut := func(f func(*Op)) []byte {
		o := validOp()
		f(o)
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if b, err = Canonicalize(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, b := range map[string][]byte{
		"version":  mut(func(o *Op) { o.V = 3 }),
		"v1 seen":  mut(func(o *Op) { o.V, o.Seen = Version1, map[string]uint64{"00112233445566778899aabbccddeeff": 1} }),
		"own seen": mut(func(o *Op) { o.Seen = map[string]uint64{o.Actor: 1} }),
		"seen 0":   mut(func(o *Op) { o.Seen = map[string]uint64{"00112233445566778899aabbccddeeff": 0} }),
		"seen key": mut(func(o *Op) { o.Seen = map[string]uint64{"alice": 1} }),
		"type":     mut(func(o *Op) { o.Type = "Create" }),
		"no actor": mut(func(o *Op) { o.Actor = "" }),
		"seq 0":    mut(func(o *Op) { o.Seq = 0 }),
		"time":     mut(func(o *Op) { o.Time = "yesterday" }),
		"unknown":  []byte(`{"actor":"a","extra":1,"lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
		if o, err := Decode(b); err == nil {
			t.Errorf("%s: decoded %+v", name, o)
		}
	}
	for name, b := range strictCases {
		if o, err := Decode([]byte(b)); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotCanonical) {
			t.Errorf("%s: Decode(%s) = %+v, %v; want a refusal", name, b, o, err)
		}
	}
	big := validOp()
	big.Body = []byte(`{"x":"` + string(make([]byte, MaxOpSize)) + `"}`)
	for i := range big.Body[6 : len(big.Body)-2] {
		big.Body[6+i] = 'a'
	}
	if _, err := big.Encode(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized op: %v", err)
	}
}

func TestOrderKey(t *testing.T) {
	keys := []OrderKey{{2, "a", 1}, {1, "b", 5}, {1, "a", 9}, {1, "a", 2}}
	Sort(keys, func(k OrderKey) OrderKey { return k })
	want := []OrderKey{{1, "a", 2}, {1, "a", 9}, {1, "b", 5}, {2, "a", 1}}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("order %v, want %v", keys, want)
		}
		if i > 0 && !(keys[i-1].String() < keys[i].String()) {
			t.Fatalf("string order disagrees at %d: %s >= %s", i, keys[i-1], keys[i])
		}
		back, err := ParseOrderKey(keys[i].String())
		if err != nil || back != keys[i] {
			t.Fatalf("round trip %v: %v %v", keys[i], back, err)
		}
	}
}

func TestTrailers(t *testing.T) {
	o := validOp()
	o.Task, o.Epoch = "tk-000000000001", 3
	tr := Trailers(Message(o, "a title"))
	if tr["Covenant-Op"][0] != "task.create" || tr["Covenant-Task"][0] != "tk-000000000001" || tr["Covenant-Lease"][0] != "3" {
		t.Fatalf("trailers: %v", tr)
	}
}

// strictCases are op.json documents, each canonical JSON or nearly, that
// must not decode: every spelling of an op but one is malformed. The fuzz
// seeds include them.
var strictCases = map[string]string{
	"cased fields":     `{"ACtor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"tAsk":"tk-000000000001","time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"cased duplicate":  `{"Actor":"ffff","actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"short hour":       `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T0:00:00Z","type":"task.create","v":1}`,
	"offset time":      `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T03:04:05+00:00","type":"task.create","v":1}`,
	"fraction":         `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T03:04:05.5Z","type":"task.create","v":1}`,
	"year 9999":        `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"9999-12-31T23:59:59Z","type":"task.claim","v":1}`,
	"year 1970":        `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"1970-01-01T00:00:00Z","type":"task.create","v":1}`,
	"year 2200":        `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2200-01-01T00:00:00Z","type":"task.create","v":1}`,
	"empty task":       `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"task":"","time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"zero epoch":       `{"actor":"0123456789abcdef0123456789abcdef","epoch":0,"lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"null body":        `{"actor":"0123456789abcdef0123456789abcdef","body":null,"lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"array body":       `{"actor":"0123456789abcdef0123456789abcdef","body":[1],"lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"minus zero":       `{"actor":"0123456789abcdef0123456789abcdef","epoch":-0,"lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"negative seq":     `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":-1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"seq overflow":     `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":18446744073709551616,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"escaped key":      `{"\u0061ctor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"string seq":       `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":"1","time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"unsorted":         `{"lamport":1,"actor":"0123456789abcdef0123456789abcdef","seq":1,"time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"trailing newline": "{\"actor\":\"0123456789abcdef0123456789abcdef\",\"lamport\":1,\"seq\":1,\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"task.create\",\"v\":1}\n",
	"html escape":      `{"actor":"0123456789abcdef0123456789abcdef","lamport":1,"seq":1,"task":"\u003c","time":"2026-01-02T03:04:05Z","type":"task.create","v":1}`,
	"not an object":    `[1]`,
}

func TestEncodeRefusesWhatDecodeRefuses(t *testing.T) {
	for name, f := range map[string]func(*Op){
		"year 9999": func(o *Op) { o.Time = "9999-12-31T23:59:59Z" },
		"year 1999": func(o *Op) { o.Time = "1999-12-31T23:59:59Z" },
		"short":     func(o *Op) { o.Time = "2026-01-02T3:04:05Z" },
		"version":   func(o *Op) { o.V = 0 },
		"body":      func(o *Op) { o.Body = []byte(`"x"`) },
	} {
		o := validOp()
		f(o)
		if b, err := o.Encode(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Encode = %s, %v; want ErrMalformed", name, b, err)
		}
	}
	// The edges of the window.
	for _, tm := range []string{"2000-01-01T00:00:00Z", "2199-12-31T23:59:59Z"} {
		o := validOp()
		o.Time = tm
		b, err := o.Encode()
		if err != nil {
			t.Fatalf("%s: %v", tm, err)
		}
		if _, err := Decode(b); err != nil {
			t.Fatalf("%s: %v", tm, err)
		}
	}
}
