package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// TillID is a till's ed25519 public key. It names the till's chain, and the
// till's libp2p identity is derived from the same key.
type TillID [ed25519.PublicKeySize]byte

// String is the key in hex.
func (t TillID) String() string { return hex.EncodeToString(t[:]) }

// Short is the first 8 hex digits, for logs.
func (t TillID) Short() string { return hex.EncodeToString(t[:4]) }

// PublicKey returns the key for signature checks.
func (t TillID) PublicKey() ed25519.PublicKey { return ed25519.PublicKey(t[:]) }

// TillOf returns the TillID of a private key.
func TillOf(key ed25519.PrivateKey) TillID {
	var t TillID
	copy(t[:], key.Public().(ed25519.PublicKey))
	return t
}

// MarshalText writes the key in hex (JSON, logs); CBOR keeps raw bytes.
func (t TillID) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses the hex form.
func (t *TillID) UnmarshalText(b []byte) error { return parseHex(t[:], string(b), "till id") }

// ParseTillID parses the hex form written by String.
func ParseTillID(s string) (TillID, error) {
	var t TillID
	err := parseHex(t[:], s, "till id")
	return t, err
}

// StoreID names a store. It is chosen at random when the store is set up.
type StoreID [16]byte

// String is the ID in hex.
func (s StoreID) String() string { return hex.EncodeToString(s[:]) }

// MarshalText writes the ID in hex.
func (s StoreID) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses the hex form.
func (s *StoreID) UnmarshalText(b []byte) error { return parseHex(s[:], string(b), "store id") }

// ParseStoreID parses the hex form written by String.
func ParseStoreID(s string) (StoreID, error) {
	var id StoreID
	err := parseHex(id[:], s, "store id")
	return id, err
}

// EventID is the SHA-256 of an event's signed encoding. The zero EventID is
// the Prev of a till's first event.
type EventID [sha256.Size]byte

// String is the ID in hex.
func (id EventID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero ID.
func (id EventID) IsZero() bool { return id == EventID{} }

// MarshalText writes the ID in hex.
func (id EventID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the hex form.
func (id *EventID) UnmarshalText(b []byte) error { return parseHex(id[:], string(b), "event id") }

// ParseEventID parses the hex form written by String.
func ParseEventID(s string) (EventID, error) {
	var id EventID
	err := parseHex(id[:], s, "event id")
	return id, err
}

func parseHex(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("ledger: %s %q: want %d hex digits, got %d", what, s, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("ledger: %s %q: %w", what, s, err)
	}
	return nil
}

// Event is one signed entry in a till's append-only chain. Events are
// immutable once signed: Sign and Decode record the encoding, and ID and
// Bytes return it.
type Event struct {
	Store StoreID
	Till  TillID
	Seq   uint64  // 1, 2, 3 ... with no gaps in a till's chain
	Prev  EventID // ID of the till's event Seq-1; zero for Seq 1
	Time  HLC
	Body  Body   // the kind is Body.Kind()
	Key   string // idempotency key, made by the client before the request
	Sig   []byte // ed25519 over the encoding with Sig empty

	raw  []byte
	body []byte // the body as signed, when Body does not encode to it (newer fields or kind)
	id   EventID
}

// Kind returns the kind of the event's body.
func (e *Event) Kind() Kind {
	if e.Body == nil {
		return ""
	}
	return e.Body.Kind()
}

// ID returns the EventID. It is zero until the event is signed or decoded.
func (e *Event) ID() EventID { return e.id }

// Bytes returns the signed encoding. Callers must not modify it.
func (e *Event) Bytes() []byte { return e.raw }

// wire is the encoded form of an Event. Integer keys keep events small;
// the core deterministic encoding sorts them.
type wire struct {
	Store StoreID         `cbor:"1,keyasint"`
	Till  TillID          `cbor:"2,keyasint"`
	Seq   uint64          `cbor:"3,keyasint"`
	Prev  EventID         `cbor:"4,keyasint"`
	Time  HLC             `cbor:"5,keyasint"`
	Kind  Kind            `cbor:"6,keyasint"`
	Body  cbor.RawMessage `cbor:"7,keyasint"`
	Key   string          `cbor:"8,keyasint,omitempty"`
	Sig   []byte          `cbor:"9,keyasint,omitempty"`
}

// Limits on what a decoder accepts, so a hostile peer cannot make a till
// allocate without bound.
const (
	MaxEventSize = 64 << 10
	MaxKeyLen    = 128
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
	// bodyDecMode reads bodies: the same bounds as decMode, but fields
	// this version does not know are skipped (a newer version wrote them).
	bodyDecMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err) // constant options: cannot fail
	}
	opts := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  16,
		MaxArrayElements: 4096,
		MaxMapPairs:      512,
		UTF8:             cbor.UTF8RejectInvalid,
	}
	if bodyDecMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
	// The envelope is the format itself (FormatVersion): no unknown keys.
	opts.ExtraReturnErrors = cbor.ExtraDecErrorUnknownField
	if decMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
}

// signing returns the encoding of e with sig in place (nil while signing).
func (e *Event) encode(sig []byte) ([]byte, error) {
	if e.Body == nil {
		return nil, fmt.Errorf("ledger: event has no body")
	}
	body := e.body
	if body == nil {
		var err error
		if body, err = encMode.Marshal(e.Body); err != nil {
			return nil, fmt.Errorf("ledger: encode %s body: %w", e.Body.Kind(), err)
		}
	}
	return encMode.Marshal(wire{
		Store: e.Store, Till: e.Till, Seq: e.Seq, Prev: e.Prev, Time: e.Time,
		Kind: e.Body.Kind(), Body: body, Key: e.Key, Sig: sig,
	})
}

// Sign signs e with the till's key, sets Till from the key, and records the
// encoding and ID. It checks the event's own invariants first, so a till
// never signs an event its peers would reject, and it refuses a kind this
// version does not know (*Unknown): a till writes only what it can fold.
func (e *Event) Sign(key ed25519.PrivateKey) error {
	e.Till = TillOf(key)
	e.Sig = nil
	e.body = nil
	if u, ok := e.Body.(*Unknown); ok {
		return e.errorf(ErrUnknownKind, "this version does not write kind %q", u.kind)
	}
	if err := e.Check(); err != nil {
		return err
	}
	msg, err := e.encode(nil)
	if err != nil {
		return err
	}
	e.Sig = ed25519.Sign(key, msg)
	if e.raw, err = e.encode(e.Sig); err != nil {
		return err
	}
	e.id = sha256.Sum256(e.raw)
	return nil
}

// Decode parses a signed event. It accepts only the canonical encoding,
// the one Sign produces, so one event cannot travel under two EventIDs. It
// checks the shape of the event but not its signature: call Verify.
//
// Forward compatibility: a body of a kind this version does not know
// decodes to *Unknown, and a known kind's body may carry fields this
// version does not know. Both keep the body's bytes as signed, so the
// event's ID, signature and Bytes stay those its till made, and peers and
// HQ receive them byte for byte. The envelope admits no unknown keys.
func Decode(b []byte) (*Event, error) {
	if len(b) > MaxEventSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(b), MaxEventSize)
	}
	var w wire
	if err := decMode.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	body, keep, err := decodeBody(w.Kind, w.Body)
	if err != nil {
		return nil, &Error{Till: w.Till, Seq: w.Seq, Err: err}
	}
	// The body's bytes were checked by decodeBody; the envelope is
	// checked here by encoding it around them.
	e := &Event{Store: w.Store, Till: w.Till, Seq: w.Seq, Prev: w.Prev, Time: w.Time,
		Body: body, Key: w.Key, Sig: w.Sig, body: w.Body}
	canon, err := e.encode(w.Sig)
	if err != nil {
		return nil, &Error{Till: w.Till, Seq: w.Seq, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	if !bytes.Equal(canon, b) {
		return nil, &Error{Till: w.Till, Seq: w.Seq, Err: ErrNotCanonical}
	}
	if !keep {
		e.body = nil // Body encodes to exactly these bytes
	}
	e.raw = append([]byte(nil), b...)
	e.id = sha256.Sum256(e.raw)
	return e, nil
}

// Verify checks the event's signature and its own invariants (Check). It
// does not look at other events: chains and refunds are State's concern.
func (e *Event) Verify() error {
	if err := e.verifySig(); err != nil {
		return err
	}
	return e.Check()
}

func (e *Event) verifySig() error {
	if len(e.Sig) != ed25519.SignatureSize {
		return e.errorf(ErrBadSignature, "signature is %d bytes", len(e.Sig))
	}
	msg := e.signedPart()
	if msg == nil {
		var err error
		if msg, err = e.encode(nil); err != nil {
			return e.errorf(ErrMalformed, "%v", err)
		}
	}
	if !ed25519.Verify(e.Till.PublicKey(), msg, e.Sig) {
		return e.errorf(ErrBadSignature, "")
	}
	return nil
}

// Check verifies the invariants an event must hold on its own: a sane
// envelope and a body whose rules hold (see each body's check).
func (e *Event) Check() error {
	switch {
	case e.Seq == 0:
		return e.errorf(ErrMalformed, "seq 0")
	case e.Seq == 1 && !e.Prev.IsZero():
		return e.errorf(ErrWrongPrev, "first event has a prev")
	case e.Seq > 1 && e.Prev.IsZero():
		return e.errorf(ErrWrongPrev, "no prev")
	case len(e.Key) > MaxKeyLen:
		return e.errorf(ErrMalformed, "idempotency key is %d bytes, limit %d", len(e.Key), MaxKeyLen)
	case e.Body == nil:
		return e.errorf(ErrUnknownKind, "no body")
	case e.Time.Wall <= 0:
		return e.errorf(ErrMalformed, "time %v", e.Time)
	}
	if err := e.Body.check(); err != nil {
		return &Error{Till: e.Till, Seq: e.Seq, Err: err}
	}
	return nil
}

// VerifyRun authenticates a run of consecutive events of one till, oldest
// first, whose first event follows prev (the ID of the event before it, or
// zero). It checks the newest event's signature and the hash chain down
// from it: each event's Prev is the ID of the one before, so the newest
// signature commits to every earlier byte. Each event's own invariants are
// checked too. It returns the index of the first bad event and its error,
// or -1 and nil.
func VerifyRun(prev EventID, run []*Event) (int, error) {
	if len(run) == 0 {
		return -1, nil
	}
	till := run[0].Till
	for i, e := range run {
		switch {
		case e.Till != till:
			return i, e.errorf(ErrMalformed, "run mixes tills %s and %s", till.Short(), e.Till.Short())
		case i > 0 && e.Seq != run[i-1].Seq+1:
			return i, e.errorf(ErrSeqGap, "after seq %d", run[i-1].Seq)
		case e.Prev != prev:
			return i, e.errorf(ErrWrongPrev, "prev %s, want %s", short(e.Prev), short(prev))
		}
		if err := e.Check(); err != nil {
			return i, err
		}
		prev = e.ID()
	}
	last := len(run) - 1
	if err := run[last].verifySig(); err != nil {
		return last, err
	}
	return -1, nil
}

// signedPart derives the signed message from the recorded encoding without
// encoding again: Sig has the highest key, so in the canonical encoding it
// is the map's last entry (key 9, a 64-byte string: 09 58 40 ...). The
// message is the same map with one entry fewer and that entry cut off.
// It returns nil when the event has no recorded encoding of that shape,
// or when it no longer matches the event (a caller changed Sig).
func (e *Event) signedPart() []byte {
	const tail = 3 + ed25519.SignatureSize
	r := e.raw
	if len(r) < 1+tail || r[0] < 0xa2 || r[0] > 0xb7 ||
		r[len(r)-tail] != 0x09 || r[len(r)-tail+1] != 0x58 || r[len(r)-tail+2] != ed25519.SignatureSize ||
		!bytes.Equal(r[len(r)-ed25519.SignatureSize:], e.Sig) {
		return nil
	}
	msg := make([]byte, len(r)-tail)
	msg[0] = r[0] - 1
	copy(msg[1:], r[1:len(r)-tail])
	return msg
}

func short(id EventID) string { return hex.EncodeToString(id[:4]) }

func (e *Event) errorf(sentinel error, format string, args ...any) error {
	err := sentinel
	if format != "" {
		err = fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
	}
	return &Error{Till: e.Till, Seq: e.Seq, Err: err}
}
