package solana

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

var (
	// ErrUnreachable means the RPC endpoint did not answer (refused, timed
	// out, not HTTP, not JSON-RPC).
	ErrUnreachable = errors.New("solana rpc unreachable")
	// ErrNotConfirmed means a transaction was not confirmed in time.
	ErrNotConfirmed = errors.New("transaction not confirmed")
	// ErrFailed means the cluster executed a transaction and it failed.
	ErrFailed = errors.New("transaction failed")
	// ErrBadURL means an RPC URL that is not http(s).
	ErrBadURL = errors.New("bad solana rpc url")
)

// RPCError is an error the node answered with.
type RPCError struct {
	Method  string
	Code    int
	Message string
	Logs    []string
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("solana rpc %s: %s (code %d)", e.Method, e.Message, e.Code)
}

// Client speaks Solana JSON-RPC over HTTP to one endpoint.
type Client struct {
	url  string
	http *http.Client
	id   atomic.Int64
	// Commitment is asked of every read ("confirmed" when empty).
	Commitment string
}

// NewClient checks rawURL (http or https, a host) and returns a client
// with a bounded timeout per call.
func NewClient(rawURL string) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q (want http:// or https:// and a host)", ErrBadURL, rawURL)
	}
	return &Client{url: u.String(), http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// URL is the endpoint.
func (c *Client) URL() string { return c.url }

func (c *Client) commitment() map[string]any {
	cm := c.Commitment
	if cm == "" {
		cm = "confirmed"
	}
	return map[string]any{"commitment": cm}
}

func (c *Client) call(ctx context.Context, method string, params []any, out any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.id.Add(1), "method": method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, method, err)
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Data    struct {
				Logs []string `json:"logs"`
			} `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%w: %s: HTTP %d, not JSON-RPC: %.100q", ErrUnreachable, method, resp.StatusCode, raw)
	}
	if r.Error != nil {
		return &RPCError{Method: method, Code: r.Error.Code, Message: r.Error.Message, Logs: r.Error.Data.Logs}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("solana rpc %s: result: %w", method, err)
	}
	return nil
}

// LatestBlockhash returns a recent blockhash (base58).
func (c *Client) LatestBlockhash(ctx context.Context) (string, error) {
	var r struct {
		Value struct {
			Blockhash string `json:"blockhash"`
		} `json:"value"`
	}
	if err := c.call(ctx, "getLatestBlockhash", []any{c.commitment()}, &r); err != nil {
		return "", err
	}
	return r.Value.Blockhash, nil
}

// GenesisHash names the cluster (base58).
func (c *Client) GenesisHash(ctx context.Context) (string, error) {
	var h string
	err := c.call(ctx, "getGenesisHash", nil, &h)
	return h, err
}

// Slot is the node's current slot.
func (c *Client) Slot(ctx context.Context) (uint64, error) {
	var s uint64
	err := c.call(ctx, "getSlot", []any{c.commitment()}, &s)
	return s, err
}

// Balance is an address's balance in lamports.
func (c *Client) Balance(ctx context.Context, addr string) (uint64, error) {
	var r struct {
		Value uint64 `json:"value"`
	}
	err := c.call(ctx, "getBalance", []any{addr, c.commitment()}, &r)
	return r.Value, err
}

// RequestAirdrop asks a test cluster for lamports; it returns the
// airdrop's signature.
func (c *Client) RequestAirdrop(ctx context.Context, addr string, lamports uint64) (string, error) {
	var sig string
	err := c.call(ctx, "requestAirdrop", []any{addr, lamports}, &sig)
	return sig, err
}

// SendTransaction submits a signed transaction (wire format) and returns
// its signature as the node reports it.
func (c *Client) SendTransaction(ctx context.Context, wire []byte) (string, error) {
	var sig string
	err := c.call(ctx, "sendTransaction", []any{base64.StdEncoding.EncodeToString(wire),
		map[string]any{"encoding": "base64", "preflightCommitment": "confirmed"}}, &sig)
	return sig, err
}

// Status is a signature's status.
type Status struct {
	Slot   uint64
	Err    json.RawMessage // null or absent when it succeeded
	Status string          // processed, confirmed or finalized
}

// SignatureStatus returns a signature's status, nil when the node knows
// none.
func (c *Client) SignatureStatus(ctx context.Context, sig string) (*Status, error) {
	var r struct {
		Value []*struct {
			Slot               uint64          `json:"slot"`
			Err                json.RawMessage `json:"err"`
			ConfirmationStatus string          `json:"confirmationStatus"`
		} `json:"value"`
	}
	if err := c.call(ctx, "getSignatureStatuses", []any{[]string{sig}, map[string]any{"searchTransactionHistory": true}}, &r); err != nil {
		return nil, err
	}
	if len(r.Value) != 1 || r.Value[0] == nil {
		return nil, nil
	}
	v := r.Value[0]
	return &Status{Slot: v.Slot, Err: v.Err, Status: v.ConfirmationStatus}, nil
}

func failed(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// WaitConfirmed polls a signature's status every poll until it is
// confirmed or finalized, it failed (ErrFailed), or within expires
// (ErrNotConfirmed).
func (c *Client) WaitConfirmed(ctx context.Context, sig string, poll, within time.Duration) (*Status, error) {
	deadline := time.Now().Add(within)
	for {
		st, err := c.SignatureStatus(ctx, sig)
		if err != nil {
			return nil, err
		}
		if st != nil && failed(st.Err) {
			return st, fmt.Errorf("%w: %s: %s", ErrFailed, sig, st.Err)
		}
		if st != nil && (st.Status == "confirmed" || st.Status == "finalized") {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("%w: %s after %s", ErrNotConfirmed, sig, within)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Confirmed is a transaction as the cluster keeps it.
type Confirmed struct {
	Slot      uint64
	BlockTime int64 // unix seconds, 0 when the node reports none
	Wire      []byte
	Err       json.RawMessage
	Logs      []string
}

// Failed says whether the transaction failed when executed.
func (t *Confirmed) Failed() bool { return failed(t.Err) }

// Transaction fetches a confirmed transaction by signature, nil when the
// node has none.
func (c *Client) Transaction(ctx context.Context, sig string) (*Confirmed, error) {
	var r *struct {
		Slot        uint64   `json:"slot"`
		BlockTime   *int64   `json:"blockTime"`
		Transaction []string `json:"transaction"`
		Meta        *struct {
			Err  json.RawMessage `json:"err"`
			Logs []string        `json:"logMessages"`
		} `json:"meta"`
	}
	cfg := c.commitment()
	cfg["encoding"] = "base64"
	cfg["maxSupportedTransactionVersion"] = 0
	if err := c.call(ctx, "getTransaction", []any{sig, cfg}, &r); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, nil
	}
	if len(r.Transaction) != 2 || r.Transaction[1] != "base64" {
		return nil, fmt.Errorf("solana rpc getTransaction %s: not a base64 transaction", sig)
	}
	wire, err := base64.StdEncoding.DecodeString(r.Transaction[0])
	if err != nil {
		return nil, fmt.Errorf("solana rpc getTransaction %s: %w", sig, err)
	}
	t := &Confirmed{Slot: r.Slot, Wire: wire}
	if r.BlockTime != nil {
		t.BlockTime = *r.BlockTime
	}
	if r.Meta != nil {
		t.Err, t.Logs = r.Meta.Err, r.Meta.Logs
	}
	return t, nil
}
