package ledgertest

import (
	"crypto/ed25519"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/tillmesh/tillmesh/ledger"
)

// envelope is the event format (ledger.FormatVersion 1), written out here
// so tests can sign what a newer version would write: ledger itself never
// writes a kind it does not know.
type envelope struct {
	Store ledger.StoreID  `cbor:"1,keyasint"`
	Till  ledger.TillID   `cbor:"2,keyasint"`
	Seq   uint64          `cbor:"3,keyasint"`
	Prev  ledger.EventID  `cbor:"4,keyasint"`
	Time  ledger.HLC      `cbor:"5,keyasint"`
	Kind  ledger.Kind     `cbor:"6,keyasint"`
	Body  cbor.RawMessage `cbor:"7,keyasint"`
	Key   string          `cbor:"8,keyasint,omitempty"`
	Sig   []byte          `cbor:"9,keyasint,omitempty"`
}

// SignRaw signs an event of kind with body bytes as given, as a newer
// version of tillmesh would, and decodes it with this version's Decode.
// It returns the signed bytes too, so a caller can check that what this
// version keeps and sends on is byte for byte what was signed.
func SignRaw(key ed25519.PrivateKey, store ledger.StoreID, seq uint64, prev ledger.EventID, at ledger.HLC, kind ledger.Kind, body []byte, idem string) (*ledger.Event, []byte, error) {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return nil, nil, err
	}
	w := envelope{Store: store, Till: ledger.TillOf(key), Seq: seq, Prev: prev, Time: at, Kind: kind, Body: body, Key: idem}
	msg, err := em.Marshal(w)
	if err != nil {
		return nil, nil, fmt.Errorf("ledgertest: encode %s: %w", kind, err)
	}
	w.Sig = ed25519.Sign(key, msg)
	b, err := em.Marshal(w)
	if err != nil {
		return nil, nil, fmt.Errorf("ledgertest: encode %s: %w", kind, err)
	}
	ev, err := ledger.Decode(b)
	return ev, b, err
}

// Encode encodes v canonically (core deterministic CBOR), as events are.
func Encode(v any) ([]byte, error) {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	return em.Marshal(v)
}

// WithFields returns body's encoding with extra map entries added, as a
// newer version would write a known kind with fields this one lacks.
func WithFields(body ledger.Body, extra map[uint64]any) ([]byte, error) {
	b, err := Encode(body)
	if err != nil {
		return nil, err
	}
	var m map[uint64]any
	if err := cbor.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range extra {
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("ledgertest: %s already has field %d", body.Kind(), k)
		}
		m[k] = v
	}
	return Encode(m)
}

// FutureKind is a kind no version of tillmesh writes: tests use it for an
// event from a newer version.
const FutureKind ledger.Kind = "future_kind"

// Future returns a body of FutureKind: a map with fields this version
// cannot read (a card number, an amount, a nested list).
func Future(n int) []byte {
	b, err := Encode(map[uint64]any{1: fmt.Sprintf("card-%d", n), 2: int64(n) * 100, 3: []any{"a", uint64(n)}})
	if err != nil {
		panic(err) // constant shapes: cannot fail
	}
	return b
}

// NextRaw signs the till's next event of kind with body bytes as given,
// as a newer version would write it (see SignRaw).
func (t *Till) NextRaw(kind ledger.Kind, body []byte, now int64, key string) (*ledger.Event, error) {
	ev, _, err := SignRaw(t.Key, t.Store, t.Seq+1, t.Prev, t.Clock.Next(now), kind, body, key)
	if err != nil {
		return nil, err
	}
	t.Seq, t.Prev, t.Clock = ev.Seq, ev.ID(), ev.Time
	return ev, nil
}
