package ledger

import (
	"crypto/ed25519"
	"fmt"
)

// Certificate binds a till's key to a store, a till number and a name. The
// store's CA signs it when the till is enrolled; peers and HQ admit a till
// and accept its events only under a certificate that verifies.
type Certificate struct {
	Store  StoreID `cbor:"1,keyasint" json:"store"`
	Till   TillID  `cbor:"2,keyasint" json:"till"`
	Number uint32  `cbor:"3,keyasint" json:"number"` // unique in the store; receipts are "<number>-<seq>"
	Name   string  `cbor:"4,keyasint" json:"name"`
	Issued int64   `cbor:"5,keyasint" json:"issued"` // Unix ms
	Sig    []byte  `cbor:"6,keyasint,omitempty" json:"sig,omitempty"`
}

// Sign signs c with the store CA's key.
func (c *Certificate) Sign(ca ed25519.PrivateKey) error {
	c.Sig = nil
	msg, err := encMode.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode certificate: %w", err)
	}
	c.Sig = ed25519.Sign(ca, msg)
	return nil
}

// Verify checks c against the store CA's public key and the store.
func (c *Certificate) Verify(ca ed25519.PublicKey, store StoreID) error {
	switch {
	case c.Store != store:
		return fmt.Errorf("%w: till %s is enrolled in store %s, not %s", ErrBadCert, c.Till.Short(), c.Store, store)
	case c.Number == 0:
		return fmt.Errorf("%w: till %s has number 0", ErrBadCert, c.Till.Short())
	case len(c.Sig) != ed25519.SignatureSize || len(ca) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: till %s: malformed signature", ErrBadCert, c.Till.Short())
	}
	u := *c
	u.Sig = nil
	msg, err := encMode.Marshal(&u)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadCert, err)
	}
	if !ed25519.Verify(ca, msg, c.Sig) {
		return fmt.Errorf("%w: till %s: signature does not verify", ErrBadCert, c.Till.Short())
	}
	return nil
}

// Encode returns the certificate's canonical encoding.
func (c *Certificate) Encode() ([]byte, error) { return encMode.Marshal(c) }

// DecodeCertificate parses a certificate. It does not verify it.
func DecodeCertificate(b []byte) (*Certificate, error) {
	if len(b) > 4096 {
		return nil, fmt.Errorf("%w: certificate of %d bytes", ErrBadCert, len(b))
	}
	var c Certificate
	if err := decMode.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCert, err)
	}
	if err := checkText("till name", c.Name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCert, err)
	}
	return &c, nil
}
