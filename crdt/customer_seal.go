package crdt

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/tillmesh/tillmesh/ledger"
)

// Sealed customer slots (crypto-shredding).
//
// A DAG block is permanent: an erasure deletes a customer's slots from
// the current state, but the blocks that put them stay in every till's
// blockstore. So a till that may (see CustomerKeys.SealingKey) writes
// each personal field of its slot sealed with XChaCha20-Poly1305 under a
// random 256-bit key of the customer, and the key never enters the DAG:
// tills keep keys outside the CRDT and hand them to each other over a
// protocol of their own (node/customerkeys.go). An erasure deletes the
// key at each till that merges it, and what the blocks hold can no
// longer be read.
//
// A sealed slot carries the key's ID (Key) and, per field, the edit's
// field, clock and editor in the clear (the merge needs them; they name
// no one) and its value sealed (Box = nonce | ciphertext | tag), the
// associated data binding the box to the customer, field, clock and
// editor, so a box copied into another customer, field or edit does not
// open. A slot is either plain (Edits) or sealed (Key, Sealed). Releases
// before sealing refuse a sealed slot (it has no Edits), so a till seals
// only once every till of the store announces it reads sealed slots.

// CustomerKeyLen is the length of a customer key.
const CustomerKeyLen = chacha20poly1305.KeySize

// CustomerKeyID names one key of a customer. A customer usually has one
// key; tills cut off from each other that each started sealing a
// customer made one each, and every slot names the key that opens it.
type CustomerKeyID [8]byte

func (id CustomerKeyID) String() string { return hex.EncodeToString(id[:]) }

// NewCustomerKey draws a new key and its ID.
func NewCustomerKey() (CustomerKeyID, []byte, error) {
	var id CustomerKeyID
	key := make([]byte, CustomerKeyLen)
	if _, err := rand.Read(id[:]); err != nil {
		return id, nil, fmt.Errorf("draw customer key id: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return id, nil, fmt.Errorf("draw customer key: %w", err)
	}
	return id, key, nil
}

// CustomerKeys keeps the keys that seal customers' fields, outside the
// CRDT; node keeps them in the ledger database. The Store calls it from
// its own goroutines: every method must be safe for concurrent use, and
// only SealingKey may block on more than local storage.
type CustomerKeys interface {
	// SealingKey returns the key to seal number's fields with: one held
	// for the customer, else a new one, stored durably before it
	// returns. ok is false when fields must still be written in plain
	// (a till of the store does not read sealed slots yet).
	SealingKey(ctx context.Context, number string) (id CustomerKeyID, key []byte, ok bool, err error)
	// Key returns a key held for number, or false.
	Key(number string, id CustomerKeyID) ([]byte, bool)
	// Forget deletes every key held for number: its erasure merged here.
	Forget(number string)
	// Missing says a sealed slot of number cannot be opened here for
	// lack of key id; it must not block (the node fetches the key from
	// its peers and calls Store.RetryCustomer).
	Missing(number string, id CustomerKeyID)
}

// sealedEdit is one field's edit with its value sealed.
type sealedEdit struct {
	_     struct{} `cbor:",toarray"`
	Field CustomerField
	Box   []byte // nonce | ciphertext | tag
	At    ledger.HLC
	By    string
}

const (
	sealOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
	maxBoxLen    = sealOverhead + MaxCustomerNotesLen
)

// sealAD is the associated data of one field's box.
func sealAD(number string, f CustomerField, at ledger.HLC, by string) []byte {
	ad := make([]byte, 0, 64+len(number)+len(by))
	ad = append(ad, "tillmesh customer field 1\x00"...)
	ad = append(ad, number...)
	ad = append(ad, 0, byte(f))
	ad = binary.BigEndian.AppendUint64(ad, uint64(at.Wall))
	ad = binary.BigEndian.AppendUint32(ad, at.Logical)
	return append(ad, by...)
}

// sealEdits seals edits of number under key.
func sealEdits(number string, key []byte, edits []FieldEdit) ([]sealedEdit, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("seal customer %s: %w", number, err)
	}
	out := make([]sealedEdit, 0, len(edits))
	for _, e := range edits {
		nonce := make([]byte, chacha20poly1305.NonceSizeX, sealOverhead+len(e.Value))
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("seal customer %s: draw nonce: %w", number, err)
		}
		box := aead.Seal(nonce, nonce, []byte(e.Value), sealAD(number, e.Field, e.At, e.By))
		out = append(out, sealedEdit{Field: e.Field, Box: box, At: e.At, By: e.By})
	}
	return out, nil
}

// openEdits opens sealed edits of number with key. A box that does not
// open (a wrong key, or bytes changed) fails the whole slot.
func openEdits(number string, key []byte, sealed []sealedEdit) ([]FieldEdit, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("open customer %s: %w", number, err)
	}
	out := make([]FieldEdit, 0, len(sealed))
	for _, s := range sealed {
		if len(s.Box) < sealOverhead {
			return nil, fmt.Errorf("open customer %s %s: box of %d bytes: %w", number, s.Field, len(s.Box), ErrCorrupt)
		}
		nonce, ct := s.Box[:chacha20poly1305.NonceSizeX], s.Box[chacha20poly1305.NonceSizeX:]
		v, err := aead.Open(nil, nonce, ct, sealAD(number, s.Field, s.At, s.By))
		if err != nil {
			return nil, fmt.Errorf("open customer %s %s: %v: %w", number, s.Field, err, ErrCorrupt)
		}
		e := FieldEdit{Field: s.Field, Value: string(v), At: s.At, By: s.By}
		if err := e.Check(); err != nil {
			return nil, fmt.Errorf("open customer %s: %v: %w", number, err, ErrCorrupt)
		}
		out = append(out, e)
	}
	return out, nil
}

// checkSealed checks a sealed slot's clear parts.
func (s customerSlot) checkSealed() error {
	if len(s.Key) != len(CustomerKeyID{}) {
		return fmt.Errorf("customer %s slot: key id of %d bytes: %w", s.Number, len(s.Key), ErrInvalid)
	}
	if len(s.Edits) > 0 {
		return fmt.Errorf("customer %s slot: both plain and sealed edits: %w", s.Number, ErrInvalid)
	}
	if len(s.Sealed) == 0 || len(s.Sealed) > numCustomerFields {
		return fmt.Errorf("customer %s slot: %d sealed edits, want 1..%d: %w", s.Number, len(s.Sealed), numCustomerFields, ErrInvalid)
	}
	for i, e := range s.Sealed {
		switch {
		case e.Field == 0 || int(e.Field) > numCustomerFields:
			return fmt.Errorf("customer %s slot: unknown field %d: %w", s.Number, e.Field, ErrInvalid)
		case i > 0 && e.Field <= s.Sealed[i-1].Field:
			return fmt.Errorf("customer %s slot: fields not sorted or repeated: %w", s.Number, ErrInvalid)
		case len(e.Box) < sealOverhead || len(e.Box) > maxBoxLen:
			return fmt.Errorf("customer %s slot: %s box of %d bytes: %w", s.Number, e.Field, len(e.Box), ErrInvalid)
		case e.At.Wall <= 0:
			return fmt.Errorf("customer %s %s edit: no clock: %w", s.Number, e.Field, ErrInvalid)
		}
		if err := validID(e.By); err != nil {
			return fmt.Errorf("customer %s %s edit by: %w", s.Number, e.Field, err)
		}
	}
	return nil
}

// keyID returns a sealed slot's key ID.
func (s customerSlot) keyID() (id CustomerKeyID) {
	copy(id[:], s.Key)
	return id
}

// sealed reports whether s is a sealed slot.
func (s customerSlot) sealed() bool { return len(s.Key) > 0 || len(s.Sealed) > 0 }
