package ledger

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// ErrBadRevocation is wrapped by every error about a till revocation.
var ErrBadRevocation = errors.New("ledger: bad revocation")

// Revocation withdraws a till's certificate, signed by the store CA (as
// the certificate was). Events the till signed up to and including
// AfterSeq stay valid and counted; later ones, and the till itself, are
// refused. A revocation is never withdrawn.
type Revocation struct {
	Store    StoreID `cbor:"1,keyasint" json:"store"`
	Till     TillID  `cbor:"2,keyasint" json:"till"`
	Number   uint32  `cbor:"3,keyasint" json:"number"`
	AfterSeq uint64  `cbor:"4,keyasint" json:"after_seq"`
	Reason   string  `cbor:"5,keyasint,omitempty" json:"reason,omitempty"`
	Issued   int64   `cbor:"6,keyasint" json:"issued"` // Unix ms
	Sig      []byte  `cbor:"7,keyasint,omitempty" json:"sig,omitempty"`
}

// maxRevocationLen bounds an encoded revocation.
const maxRevocationLen = 2048

// Sign signs r with the store CA's key.
func (r *Revocation) Sign(ca ed25519.PrivateKey) error {
	r.Sig = nil
	msg, err := encMode.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode revocation: %w", err)
	}
	r.Sig = ed25519.Sign(ca, msg)
	return nil
}

// Verify checks r against the store CA's public key and the store.
func (r *Revocation) Verify(ca ed25519.PublicKey, store StoreID) error {
	switch {
	case r.Store != store:
		return fmt.Errorf("%w: it is for store %s, not this store (%s)", ErrBadRevocation, r.Store, store)
	case r.Number == 0:
		return fmt.Errorf("%w: till number 0", ErrBadRevocation)
	case len(r.Sig) != ed25519.SignatureSize || len(ca) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: malformed signature", ErrBadRevocation)
	}
	if err := checkText("revocation reason", r.Reason); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRevocation, err)
	}
	u := *r
	u.Sig = nil
	msg, err := encMode.Marshal(&u)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRevocation, err)
	}
	if !ed25519.Verify(ca, msg, r.Sig) {
		return fmt.Errorf("%w: the signature does not verify against this store's CA (signed by another store's CA, or altered)", ErrBadRevocation)
	}
	return nil
}

// Encode returns the revocation's canonical encoding.
func (r *Revocation) Encode() ([]byte, error) { return encMode.Marshal(r) }

// DecodeRevocation parses a revocation. It does not verify it.
func DecodeRevocation(b []byte) (*Revocation, error) {
	if len(b) > maxRevocationLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadRevocation, len(b))
	}
	var r Revocation
	if err := decMode.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRevocation, err)
	}
	return &r, nil
}
