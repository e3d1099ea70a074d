package solana_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/internal/solanatest"
	"github.com/git-covenant/git-covenant/solana"
)

func key(t *testing.T) (ed25519.PublicKey, func([]byte) ([]byte, error)) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }
}

func fund(t *testing.T, c *solana.Client, pub ed25519.PublicKey) {
	t.Helper()
	ctx := context.Background()
	sig, err := c.RequestAirdrop(ctx, solana.Address(pub), 1_000_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitConfirmed(ctx, sig, 20*time.Millisecond, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// A memo transaction signed here is decoded and signature-checked by
// @solana/web3.js, executed by the real memo program in litesvm, confirmed,
// and read back with the memo, payer and signature it was sent with; a
// memo of 128 bytes or more (which solana-go's memo helper would prefix)
// goes through unchanged.
func TestMemoRoundTrip(t *testing.T) {
	srv := solanatest.Start(t)
	c, err := solana.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pub, sign := key(t)
	fund(t, c, pub)
	for _, memo := range []string{strings.Repeat("ab", 32), strings.Repeat("0123456789abcdef", 13)} {
		bh, err := c.LatestBlockhash(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := solana.MemoTransaction(pub, bh, []byte(memo), sign)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := c.SendTransaction(ctx, tx.Wire)
		if err != nil {
			t.Fatal(err)
		}
		if sig != tx.Signature {
			t.Fatalf("node says signature %s, built %s", sig, tx.Signature)
		}
		st, err := c.WaitConfirmed(ctx, sig, 20*time.Millisecond, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Transaction(ctx, sig)
		if err != nil || got == nil {
			t.Fatalf("getTransaction: %v %v", got, err)
		}
		if got.Slot != st.Slot || got.Slot == 0 || got.BlockTime == 0 || got.Failed() {
			t.Errorf("confirmed: slot %d (status %d), time %d, err %s", got.Slot, st.Slot, got.BlockTime, got.Err)
		}
		if !bytes.Equal(got.Wire, tx.Wire) {
			t.Errorf("the node keeps other bytes than were sent")
		}
		m, err := solana.ParseMemo(got.Wire)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Memo) != memo || m.Payer != solana.Address(pub) || m.Signature != sig {
			t.Errorf("parsed %+v", m)
		}
		if !strings.Contains(strings.Join(got.Logs, "\n"), memo) {
			t.Errorf("the memo program did not log the memo: %q", got.Logs)
		}
	}
}

// A transaction changed after signing is refused by the node (web3.js's
// signature check, then the runtime's) and by ParseMemo; so is one signed
// by a key other than the payer's.
func TestTamperedTransactionRefused(t *testing.T) {
	srv := solanatest.Start(t)
	c, _ := solana.NewClient(srv.URL)
	ctx := context.Background()
	pub, sign := key(t)
	fund(t, c, pub)
	bh, err := c.LatestBlockhash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := solana.MemoTransaction(pub, bh, []byte(strings.Repeat("cd", 32)), sign)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(tx.Wire)
	bad[len(bad)-1] = 'e' // the memo's last character
	_, err = c.SendTransaction(ctx, bad)
	var re *solana.RPCError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "signature verification") {
		t.Fatalf("tampered transaction: %v", err)
	}
	if _, err := solana.ParseMemo(bad); !errors.Is(err, solana.ErrBadSignature) {
		t.Errorf("ParseMemo of a tampered transaction: %v", err)
	}
	if st, _ := c.SignatureStatus(ctx, tx.Signature); st != nil {
		t.Errorf("the tampered transaction was executed: %+v", st)
	}
	_, other := key(t)
	if _, err := solana.MemoTransaction(pub, bh, []byte("x"), other); !errors.Is(err, solana.ErrBadSignature) {
		t.Errorf("signed by another key: %v", err)
	}
	if _, err := solana.MemoTransaction(pub, bh, []byte{0xff, 0xfe}, sign); !errors.Is(err, solana.ErrBadTransaction) {
		t.Errorf("a memo that is not UTF-8: %v", err)
	}
}

// An endpoint that does not answer is ErrUnreachable; a URL that is not
// http is refused before any call.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := solana.NewClient("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.LatestBlockhash(context.Background()); !errors.Is(err, solana.ErrUnreachable) {
		t.Errorf("closed port: %v", err)
	}
	if _, err := solana.NewClient("file:///tmp/x"); !errors.Is(err, solana.ErrBadURL) {
		t.Errorf("file url: %v", err)
	}
}
