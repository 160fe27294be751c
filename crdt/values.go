package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/tillmesh/tillmesh/ledger/basket"
)

// This file holds the typed values stored under CRDT keys and their
// encodings. Everything here is pure: no I/O, no clock, no randomness.

// Role is what a staff member may do at a till.
type Role string

// Staff roles, from the least to the most trusted. What each may do is
// the store's permission table (a setting), not this package's concern.
const (
	RoleCashier    Role = "cashier"
	RoleSupervisor Role = "supervisor"
	RoleManager    Role = "manager"
)

// Product is a catalog entry, keyed by SKU: ledger/basket's one product
// type, whose CBOR keys are the stored encoding. Concurrent edits of one
// product are resolved by go-ds-crdt (the edit that has seen the other
// wins, then the higher DAG height), never by Updated.
type Product = basket.Product

// Staff is a person who may log in at a till, keyed by ID. The zero
// values of Inactive and Removed are an active member, so entries written
// before they existed read as active.
type Staff struct {
	ID      string `cbor:"1,keyasint"`
	Name    string `cbor:"2,keyasint"`
	PINHash []byte `cbor:"3,keyasint"` // argon2id output, encoded by the caller; empty once removed
	Role    Role   `cbor:"4,keyasint"`
	// Inactive members may not log in; they may be made active again.
	Inactive bool `cbor:"5,keyasint,omitempty"`
	// Removed members keep their entry (name, role) for the events that
	// name them, lose their PIN hash and never log in again.
	Removed bool `cbor:"6,keyasint,omitempty"`
}

// Revocation records that a till (or a certificate, or a peer: the ID is
// whatever the store's gater checks) may no longer join the store.
// Revocations are never deleted.
type Revocation struct {
	ID     string `cbor:"1,keyasint"`
	Reason string `cbor:"2,keyasint,omitempty"`
	At     int64  `cbor:"3,keyasint"` // Unix milliseconds, supplied by the caller
	// AfterSeq: events the till signed up to this seq stay valid.
	AfterSeq uint64 `cbor:"4,keyasint,omitempty"`
	// Signed is the revocation as the store CA signed it (the caller's
	// encoding, ledger.Revocation): readers verify it before they act.
	Signed []byte `cbor:"5,keyasint,omitempty"`
}

// Slot is one till's cumulative stock movement for one SKU in one database
// incarnation (epoch): the PN-counter cell under /stock/<sku>/<till>/<epoch>.
type Slot struct {
	Seq   uint64 // ledger seq of the last movement included, >= 1
	Total int64  // sum of all movements included
}

// Limits on values; they keep DAG nodes small and reject nonsense early.
const (
	maxNameLen     = 200
	maxPINHashLen  = 512
	maxCertLen     = 16 << 10
	maxSettingLen  = 64 << 10
	maxReasonLen   = 500
	slotLen        = 16
	maxValueLen    = 64 << 10 // largest CBOR value the decoders accept
	maxCBORArray   = 64
	maxCBORMapPair = 32
)

// Codec modes are immutable and safe for concurrent use, like a compiled
// regexp; building them cannot fail for these constant options.
var (
	encMode = mustEncMode()
	decMode = mustDecMode()
)

func mustEncMode() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // constant options: a broken build, not bad input
	}
	return m
}

func mustDecMode() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxArrayElements: maxCBORArray,
		MaxMapPairs:      maxCBORMapPair,
		MaxNestedLevels:  4,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err) // constant options: a broken build, not bad input
	}
	return m
}

// validID reports whether s may be used as one segment of a key: an SKU, a
// till ID, a staff ID, a setting name, a revocation ID. IDs are 1-128
// characters from [A-Za-z0-9._-] and start with a letter or digit, so they
// never contain the key separator and are never "." or "..".
func validID(s string) error {
	if err := basket.ValidID(s); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	return nil
}

// validText is basket.ValidText with crdt's ErrInvalid.
func validText(what, s string, max int, required bool) error {
	if err := basket.ValidText(what, s, max, required); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	return nil
}

// Validate reports the first problem with s, or nil.
func (s Staff) Validate() error {
	if err := validID(s.ID); err != nil {
		return fmt.Errorf("staff id: %w", err)
	}
	if err := validText("staff "+s.ID+" name", s.Name, maxNameLen, true); err != nil {
		return err
	}
	switch {
	case s.Removed && len(s.PINHash) != 0:
		return fmt.Errorf("staff %s: removed but keeps a pin hash: %w", s.ID, ErrInvalid)
	case !s.Removed && (len(s.PINHash) == 0 || len(s.PINHash) > maxPINHashLen):
		return fmt.Errorf("staff %s: pin hash length %d not in 1..%d: %w", s.ID, len(s.PINHash), maxPINHashLen, ErrInvalid)
	}
	if s.Role != RoleCashier && s.Role != RoleSupervisor && s.Role != RoleManager {
		return fmt.Errorf("staff %s: role %q is not %q, %q or %q: %w", s.ID, s.Role, RoleCashier, RoleSupervisor, RoleManager, ErrInvalid)
	}
	return nil
}

// Validate reports the first problem with r, or nil.
func (r Revocation) Validate() error {
	if err := validID(r.ID); err != nil {
		return fmt.Errorf("revocation id: %w", err)
	}
	if len(r.Signed) > maxCertLen {
		return fmt.Errorf("revocation %s: signed form of %d bytes, at most %d: %w", r.ID, len(r.Signed), maxCertLen, ErrInvalid)
	}
	return validText("revocation "+r.ID+" reason", r.Reason, maxReasonLen, false)
}

// encodeValue encodes v (a Product, Staff or Revocation) in CBOR core
// deterministic mode after validating it.
func encodeValue(v interface{ Validate() error }) ([]byte, error) {
	if err := v.Validate(); err != nil {
		if !errors.Is(err, ErrInvalid) {
			err = fmt.Errorf("%w: %w", err, ErrInvalid) // basket's rules
		}
		return nil, err
	}
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// decodeValue decodes CBOR into v and validates the result. Unknown map
// keys are ignored so that newer tills can add fields.
func decodeValue(b []byte, v interface{ Validate() error }) error {
	if len(b) == 0 || len(b) > maxValueLen {
		return fmt.Errorf("decode %T: length %d not in 1..%d: %w", v, len(b), maxValueLen, ErrCorrupt)
	}
	if b[0]>>5 != 5 { // CBOR major type 5: map
		return fmt.Errorf("decode %T: not a CBOR map: %w", v, ErrCorrupt)
	}
	if err := decMode.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %T: %v: %w", v, err, ErrCorrupt)
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("decode %T: %v: %w", v, err, ErrCorrupt)
	}
	return nil
}

func decodeProduct(b []byte) (Product, error) {
	var p Product
	err := decodeValue(b, &p)
	if len(p.Barcodes) == 0 {
		p.Barcodes = nil // an empty list as sent, the same product as none (omitempty)
	}
	return p, err
}

func decodeStaff(b []byte) (Staff, error) {
	var s Staff
	err := decodeValue(b, &s)
	return s, err
}

func decodeRevocation(b []byte) (Revocation, error) {
	var r Revocation
	err := decodeValue(b, &r)
	return r, err
}

// encodeSlot lays a slot out as big-endian seq then big-endian two's
// complement total: 16 bytes. go-ds-crdt keeps, at equal DAG height, the
// larger value bytes, so the later movement (higher seq) wins such a tie.
func encodeSlot(s Slot) []byte {
	b := make([]byte, slotLen)
	binary.BigEndian.PutUint64(b[:8], s.Seq)
	binary.BigEndian.PutUint64(b[8:], uint64(s.Total))
	return b
}

func decodeSlot(b []byte) (Slot, error) {
	if len(b) != slotLen {
		return Slot{}, fmt.Errorf("decode slot: length %d, want %d: %w", len(b), slotLen, ErrCorrupt)
	}
	s := Slot{
		Seq:   binary.BigEndian.Uint64(b[:8]),
		Total: int64(binary.BigEndian.Uint64(b[8:])),
	}
	if s.Seq == 0 {
		return Slot{}, fmt.Errorf("decode slot: seq 0: %w", ErrCorrupt)
	}
	return s, nil
}
