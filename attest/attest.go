package attest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	intoto "github.com/in-toto/attestation/go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Media and payload types written and accepted.
const (
	BundleMediaType    = "application/vnd.dev.sigstore.bundle.v0.3+json"
	PayloadType        = "application/vnd.in-toto+json"
	StatementType      = intoto.StatementTypeUri
	TestResultType     = "https://in-toto.io/attestation/test-result/v0.1"
	maxBundleBytes     = 1 << 20
	bundleMediaTypeOld = "application/vnd.dev.sigstore.bundle+json;version=0.3"
)

var (
	// ErrMalformed means a bundle or statement does not parse or lacks a
	// required part.
	ErrMalformed = errors.New("malformed bundle")
	// ErrBadSignature means no DSSE signature verifies under the key.
	ErrBadSignature = errors.New("bad signature")
)

// Subject is one thing a statement is about, with its digests by
// algorithm (sha256, gitCommit, gitTree, gitBlob).
type Subject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// Statement is a parsed in-toto Statement v1.
type Statement struct {
	Subjects      []Subject
	PredicateType string
	Predicate     json.RawMessage
}

// Envelope is a DSSE envelope taken out of a sigstore bundle.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
	KeyHint     string // verificationMaterial.publicKey.hint
}

// Signature is one DSSE signature.
type Signature struct {
	KeyID string
	Sig   []byte
}

// PAE is DSSE's pre-authentication encoding of a payload:
// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// NewStatement encodes an in-toto Statement v1 over subjects with the
// given predicate (any value that marshals to a JSON object).
func NewStatement(subjects []Subject, predicateType string, predicate any) ([]byte, error) {
	raw, err := json.Marshal(predicate)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("predicate is not a JSON object: %w", err)
	}
	pred, err := structpb.NewStruct(m)
	if err != nil {
		return nil, err
	}
	st := &intoto.Statement{Type: StatementType, PredicateType: predicateType, Predicate: pred}
	for _, s := range subjects {
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: s.Name, Digest: s.Digest})
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("in-toto statement: %w", err)
	}
	return protojson.Marshal(st)
}

// ParseStatement decodes and validates an in-toto Statement v1.
func ParseStatement(payload []byte) (*Statement, error) {
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrMalformed, err)
	}
	if st.GetType() != StatementType {
		return nil, fmt.Errorf("%w: statement _type %q, want %q", ErrMalformed, st.GetType(), StatementType)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrMalformed, err)
	}
	out := &Statement{PredicateType: st.GetPredicateType()}
	for _, s := range st.GetSubject() {
		out.Subjects = append(out.Subjects, Subject{Name: s.GetName(), Digest: s.GetDigest()})
	}
	pred, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, err
	}
	out.Predicate = pred
	return out, nil
}

// Sign signs payload as DSSE with an ed25519 key and packs it as a
// sigstore bundle v0.3 whose public-key hint is keyHint.
// The result is one line of JSON.
func Sign(payload []byte, priv ed25519.PrivateKey, keyHint string) ([]byte, error) {
	return SignWith(payload, keyHint, func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil })
}

// SignWith is Sign with the ed25519 signing done by sign (for a key held
// behind an ssh.Signer or an agent).
func SignWith(payload []byte, keyHint string, sign func(msg []byte) ([]byte, error)) ([]byte, error) {
	sig, err := sign(PAE(PayloadType, payload))
	if err != nil {
		return nil, err
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("signer returned %d bytes, not an ed25519 signature", len(sig))
	}
	b := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: keyHint}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     payload,
			PayloadType: PayloadType,
			// keyid stays empty: DSSE verifiers (cosign's among them) skip
			// a signature whose keyid differs from the one they derive from
			// the key, and they derive a different one. The key id travels
			// in verificationMaterial.publicKey.hint.
			Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	out, err := protojson.MarshalOptions{Multiline: false}.Marshal(b)
	if err != nil {
		return nil, err
	}
	// protojson may add spaces between fields; a note holds one bundle per
	// line, so compact it.
	var c bytes.Buffer
	if err := json.Compact(&c, out); err != nil {
		return nil, err
	}
	return c.Bytes(), nil
}

// Parse decodes a sigstore bundle v0.3 holding a DSSE envelope.
func Parse(raw []byte) (*Envelope, error) {
	if len(raw) > maxBundleBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(raw), maxBundleBytes)
	}
	var b protobundle.Bundle
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if mt := b.GetMediaType(); mt != BundleMediaType && mt != bundleMediaTypeOld {
		return nil, fmt.Errorf("%w: media type %q, want %q", ErrMalformed, mt, BundleMediaType)
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, fmt.Errorf("%w: no dsseEnvelope", ErrMalformed)
	}
	if env.GetPayloadType() != PayloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %q", ErrMalformed, env.GetPayloadType(), PayloadType)
	}
	if len(env.GetSignatures()) == 0 {
		return nil, fmt.Errorf("%w: no signatures", ErrMalformed)
	}
	out := &Envelope{PayloadType: env.GetPayloadType(), Payload: env.GetPayload(),
		KeyHint: b.GetVerificationMaterial().GetPublicKey().GetHint()}
	for _, s := range env.GetSignatures() {
		out.Signatures = append(out.Signatures, Signature{KeyID: s.GetKeyid(), Sig: s.GetSig()})
	}
	return out, nil
}

// Verify checks that some signature of e verifies under pub.
func (e *Envelope) Verify(pub ed25519.PublicKey) error {
	msg := PAE(e.PayloadType, e.Payload)
	for _, s := range e.Signatures {
		if ed25519.Verify(pub, msg, s.Sig) {
			return nil
		}
	}
	return ErrBadSignature
}
