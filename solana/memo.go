package solana

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"unicode/utf8"

	sgo "github.com/gagliardetto/solana-go"
)

// MemoProgram is the SPL memo program's id (version 2, the one clusters
// run), as base58.
const MemoProgram = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"

// MaxMemo bounds a memo's bytes here, well inside a transaction's 1232.
const MaxMemo = 566

var (
	// ErrBadTransaction means a transaction does not decode, or is not the
	// one-memo transaction an anchor is.
	ErrBadTransaction = errors.New("not an anchor transaction")
	// ErrBadSignature means a transaction's signature does not verify.
	ErrBadSignature = errors.New("transaction signature does not verify")
)

// Address is the Solana address of an ed25519 public key: the key itself,
// in base58.
func Address(pub ed25519.PublicKey) string {
	return sgo.PublicKeyFromBytes(pub).String()
}

// Signed is a signed memo transaction.
type Signed struct {
	Wire      []byte // the transaction as sent (wire format)
	Signature string // its first signature, base58: the transaction id
}

// MemoTransaction builds a legacy transaction with one instruction to the
// memo program: its data is memo as it is (UTF-8 text, no length prefix;
// the memo program refuses other bytes), with the payer as the one
// (signing) account so the program itself reports the signer. The payer
// pays the fee and signs, through sign, over the message bytes.
func MemoTransaction(payer ed25519.PublicKey, blockhash string, memo []byte, sign func([]byte) ([]byte, error)) (*Signed, error) {
	if len(payer) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: payer key has %d bytes", ErrBadTransaction, len(payer))
	}
	if len(memo) == 0 || len(memo) > MaxMemo || !utf8.Valid(memo) {
		return nil, fmt.Errorf("%w: a memo is 1 to %d bytes of UTF-8", ErrBadTransaction, MaxMemo)
	}
	bh, err := sgo.HashFromBase58(blockhash)
	if err != nil {
		return nil, fmt.Errorf("recent blockhash %q: %w", blockhash, err)
	}
	pk := sgo.PublicKeyFromBytes(payer)
	ix := sgo.NewInstruction(sgo.MustPublicKeyFromBase58(MemoProgram),
		sgo.AccountMetaSlice{sgo.Meta(pk).SIGNER()}, memo)
	tx, err := sgo.NewTransaction([]sgo.Instruction{ix}, bh, sgo.TransactionPayer(pk))
	if err != nil {
		return nil, fmt.Errorf("build memo transaction: %w", err)
	}
	msg, err := tx.Message.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode memo transaction: %w", err)
	}
	raw, err := sign(msg)
	if err != nil {
		return nil, fmt.Errorf("sign memo transaction: %w", err)
	}
	if len(raw) != ed25519.SignatureSize || !ed25519.Verify(payer, msg, raw) {
		return nil, fmt.Errorf("sign memo transaction: %w by the payer's key", ErrBadSignature)
	}
	var sig sgo.Signature
	copy(sig[:], raw)
	tx.Signatures = []sgo.Signature{sig}
	wire, err := tx.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode memo transaction: %w", err)
	}
	return &Signed{Wire: wire, Signature: sig.String()}, nil
}

// Memo is what a memo transaction says, decoded and checked.
type Memo struct {
	Signature string // first signature, base58
	Payer     string // fee payer and first signer, base58
	Memo      []byte // the memo instruction's data
	Blockhash string
}

// ParseMemo decodes a transaction (wire format), checks every signature
// over its message, and returns its memo. It must hold exactly one
// instruction, to the memo program, and one signer, the fee payer.
func ParseMemo(wire []byte) (*Memo, error) {
	tx, err := sgo.TransactionFromBytes(wire)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTransaction, err)
	}
	if len(tx.Signatures) != 1 || tx.Message.Header.NumRequiredSignatures != 1 || len(tx.Message.AccountKeys) == 0 {
		return nil, fmt.Errorf("%w: %d signature(s), %d required (want one signer, the payer)", ErrBadTransaction, len(tx.Signatures), tx.Message.Header.NumRequiredSignatures)
	}
	if err := tx.VerifySignatures(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if len(tx.Message.Instructions) != 1 {
		return nil, fmt.Errorf("%w: %d instructions (want one memo)", ErrBadTransaction, len(tx.Message.Instructions))
	}
	ix := tx.Message.Instructions[0]
	prog, err := tx.ResolveProgramIDIndex(ix.ProgramIDIndex)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTransaction, err)
	}
	if prog.String() != MemoProgram {
		return nil, fmt.Errorf("%w: its instruction calls %s, not the memo program", ErrBadTransaction, prog)
	}
	return &Memo{
		Signature: tx.Signatures[0].String(),
		Payer:     tx.Message.AccountKeys[0].String(),
		Memo:      bytes.Clone(ix.Data),
		Blockhash: tx.Message.RecentBlockhash.String(),
	}, nil
}
