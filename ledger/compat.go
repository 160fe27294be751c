package ledger

import (
	"bytes"
	"fmt"
	"sort"
)

// FormatVersion is the version of the event format this package reads and
// writes: the envelope (keys 1 to 9, signature last), the hash and the
// signature rules. Bodies may grow new kinds and new fields without a new
// format version: an older till keeps such events (see Unknown).
const FormatVersion = 1

// MaxKindLen bounds a kind's name. Names are lower-case ASCII letters,
// digits and underscores, so an unknown kind can be shown and counted.
const MaxKindLen = 32

// Known reports whether this version knows kind k (can decode its body,
// fold it and write it).
func Known(k Kind) bool {
	for _, c := range Kinds {
		if c == k {
			return true
		}
	}
	return testnetBody(k) != nil
}

// Unknown is the body of an event whose kind a newer version wrote and this
// version does not know. Such an event is verified like any other
// (signature, chain, certificate), stored and replicated byte for byte,
// and left out of the folds: the folds count it instead (Fold.Newer). A
// till never writes one: Sign refuses it.
type Unknown struct {
	kind Kind
	raw  []byte
}

// Kind returns the kind the newer version wrote.
func (u *Unknown) Kind() Kind { return u.kind }

// Raw returns the body as signed (canonical CBOR). Callers must not modify it.
func (u *Unknown) Raw() []byte { return u.raw }

// MarshalJSON shows the event as from a newer version, without guessing at
// its content.
func (u *Unknown) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"newer_version":true,"kind":%q,"body_bytes":%d}`, string(u.kind), len(u.raw)), nil
}

// check holds what this version can check of a body it cannot read: a
// well-formed kind name and a CBOR map in canonical form (checked by
// Decode).
func (u *Unknown) check() error {
	if err := checkKindName(u.kind); err != nil {
		return err
	}
	if len(u.raw) == 0 || u.raw[0]>>5 != 5 {
		return invalid("%s body is not a CBOR map", u.kind)
	}
	return nil
}

func checkKindName(k Kind) error {
	if len(k) == 0 || len(k) > MaxKindLen {
		return fmt.Errorf("%w: kind %q: want 1..%d bytes", ErrMalformed, k, MaxKindLen)
	}
	for _, r := range []byte(k) {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("%w: kind %q: want lower-case letters, digits and _", ErrMalformed, k)
		}
	}
	return nil
}

// decodeBody decodes a body. A known kind decodes into its struct, fields
// this version does not know being skipped; keep says the body's bytes are
// not what the struct encodes to (a newer version's fields), so the event
// must keep and send them as signed. An unknown kind becomes *Unknown.
// Either way the bytes must be canonical CBOR.
func decodeBody(k Kind, raw []byte) (b Body, keep bool, err error) {
	switch k {
	case KindSale:
		b = &Sale{}
	case KindRefund:
		b = &Refund{}
	case KindVoid:
		b = &Void{}
	case KindShiftOpen:
		b = &ShiftOpen{}
	case KindShiftClose:
		b = &ShiftClose{}
	case KindCashIn:
		b = &CashIn{}
	case KindCashOut:
		b = &CashOut{}
	case KindNoSale:
		b = &NoSale{}
	case KindStockReceive:
		b = &StockReceive{}
	case KindStockAdjust:
		b = &StockAdjust{}
	case KindStockCount:
		b = &StockCount{}
	case KindCartCleared:
		b = &CartCleared{}
	case KindCard:
		b = &CardMove{}
	case KindReturn:
		b = &Return{}
	case KindTransferOut:
		b = &TransferOut{}
	case KindTransferIn:
		b = &TransferIn{}
	default:
		if b = testnetBody(k); b != nil {
			break
		}
		if err := checkKindName(k); err != nil {
			return nil, false, err
		}
		if err := checkCanonical(k, raw); err != nil {
			return nil, false, err
		}
		u := &Unknown{kind: k, raw: raw}
		if err := u.check(); err != nil {
			return nil, false, err
		}
		return u, true, nil
	}
	if err := bodyDecMode.Unmarshal(raw, b); err != nil {
		return nil, false, fmt.Errorf("%w: %s body: %v", ErrMalformed, k, err)
	}
	if again, err := encMode.Marshal(b); err == nil && bytes.Equal(again, raw) {
		return b, false, nil
	}
	if err := checkCanonical(k, raw); err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// checkCanonical checks that raw is one CBOR data item in the core
// deterministic encoding, whatever it holds: decoded generically and
// encoded again it must give the same bytes.
func checkCanonical(k Kind, raw []byte) error {
	var v any
	if err := bodyDecMode.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("%w: %s body: %v", ErrMalformed, k, err)
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %s body: %v", ErrMalformed, k, err)
	}
	if !bytes.Equal(again, raw) {
		return fmt.Errorf("%w: %s body", ErrNotCanonical, k)
	}
	return nil
}

// NewerFields reports whether the event's body carries fields this version
// does not know (a newer version wrote them). They are kept and sent on as
// signed; the folds read only the fields they know.
func (e *Event) NewerFields() bool {
	if e.body == nil {
		return false
	}
	_, unknown := e.Body.(*Unknown)
	return !unknown
}

// Newer counts events from a newer version by kind: events of a kind this
// version does not know, which the folds leave out.
type Newer map[Kind]int

// Total is the number of events counted.
func (n Newer) Total() int {
	t := 0
	for _, c := range n {
		t += c
	}
	return t
}

// String is the warning shown to people, e.g. "3 events from a newer
// version (kind gift_card)"; empty when there are none.
func (n Newer) String() string {
	if len(n) == 0 {
		return ""
	}
	ks := make([]string, 0, len(n))
	for k := range n {
		ks = append(ks, string(k))
	}
	sort.Strings(ks)
	var b bytes.Buffer
	for i, k := range ks {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
	}
	word := "events"
	if n.Total() == 1 {
		word = "event"
	}
	label := "kind"
	if len(ks) > 1 {
		label = "kinds"
	}
	return fmt.Sprintf("%d %s from a newer version (%s %s), not in reports or stock; upgrade this till", n.Total(), word, label, b.String())
}

func (f *Fold) countNewer(u *Unknown) {
	if f.newer == nil {
		f.newer = Newer{}
	}
	f.newer[u.kind]++
}

// Newer counts the applied events of kinds this version does not know: the
// folds leave them out, and a screen shows Newer's String as a warning.
// The caller must not modify it.
func (f *Fold) Newer() Newer { return f.newer }

// IsTestnetKind reports whether k is a kind only testnet builds know (see
// testnetkind.go): always false in a release build.
func IsTestnetKind(k Kind) bool { return testnetBody(k) != nil }
