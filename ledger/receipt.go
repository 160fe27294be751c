package ledger

import (
	"fmt"
	"strconv"
	"strings"
)

// Receipt numbers. A receipt number is "<till number>-<n>", where n is
// the event's ordinal among its till's receipt events (IsReceiptKind) in
// chain order: the first sale, refund or void of till 2 is 2-1, the next
// 2-2, whatever shift, cash or stock events lie between. It is a pure
// function of the chain, so every till and HQ give an event the same
// number, events written before numbers existed get theirs too, and the
// chain proves the numbers have no gaps. No event carries it.
//
// A State counts each till's receipt events as it applies them
// (State.Receipts) and reports the number of each applied event
// (Result.Numbers); finding an event by its number, or the number of an
// older event, goes through the State's Index when it implements
// ReceiptIndex (a node keeps both directions on disk).

// IsReceiptKind reports whether events of kind k are numbered receipts:
// sales, refunds, voids and returns without a receipt, the documents a
// shopper or an auditor holds.
// Shift, cash, no-sale and stock events are internal and take no number;
// so does cart_cleared (nothing was sold; it is a record of the cashier).
// The set is part of the numbering: a kind added to it renumbers nothing
// before it, but an older release would not count it, so a new receipt
// kind must be gated like any new kind (node's kind gate).
func IsReceiptKind(k Kind) bool {
	switch k {
	case KindSale, KindRefund, KindVoid, KindReturn:
		return true
	}
	return false
}

// ReceiptNo formats receipt number n of the till numbered till: "2-17".
// Every screen, printout, export and report that shows a receipt number
// goes through it.
func ReceiptNo(till uint32, n uint64) string { return fmt.Sprintf("%d-%d", till, n) }

// EventNo names an event that takes no receipt number (cash movements,
// no-sales, transfers, X reports) by its place in its till's chain:
// "2#57", event 57 of till 2. Slips and transfer notes show it; it is
// never mistaken for a receipt number, which has a dash.
func EventNo(till uint32, seq uint64) string { return fmt.Sprintf("%d#%d", till, seq) }

// ReceiptCode is what a receipt's barcode (CODE128) encodes, on paper and
// on screen alike: "RCN" and the receipt number, e.g. "RCN2-17". The
// prefix tells a scan of a receipt from a scan of a product, and from the
// codes of releases before receipt numbers (ReceiptRef.Legacy).
func ReceiptCode(till uint32, n uint64) string { return "RCN" + ReceiptNo(till, n) }

// ReceiptRef is a parsed receipt reference: till number and either a
// receipt number or, for a legacy code, the event's seq.
type ReceiptRef struct {
	Till uint32
	N    uint64
	// Legacy is set for codes of releases before receipt numbers, which
	// counted every event: N is then the event's seq. The on-screen
	// barcode was "RCT<till>-<seq>"; the printed barcode was
	// "<till>-<seq>", which a scan cannot tell from a typed number, so
	// the till's screen sends a scanned bare code as "RCT<till>-<seq>".
	Legacy bool
}

// ParseReceiptRef reads "2-17" (a receipt number as printed and typed),
// "RCN2-17" (a barcode) or "RCT2-17" (a legacy barcode: till 2's seq 17).
func ParseReceiptRef(s string) (ReceiptRef, error) {
	t := strings.TrimSpace(s)
	var r ReceiptRef
	if len(t) >= 3 {
		switch strings.ToUpper(t[:3]) {
		case "RCN":
			t = t[3:]
		case "RCT":
			t, r.Legacy = t[3:], true
		}
	}
	a, b, ok := strings.Cut(t, "-")
	n, err1 := strconv.ParseUint(a, 10, 32)
	q, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || n == 0 || q == 0 {
		return ReceiptRef{}, fmt.Errorf("%w: receipt %q: want till-number, like 2-17", ErrMalformed, s)
	}
	r.Till, r.N = uint32(n), q
	return r, nil
}

// ReceiptIndex is what an Index implements to find receipt numbers
// again: the number of the receipt event at a till's seq, and the seq of
// a till's receipt number n. Records above what the State applied (a
// revocation took events out) are ignored by the State.
type ReceiptIndex interface {
	ReceiptNumber(t TillID, seq uint64) (n uint64, ok bool, err error)
	ReceiptSeq(t TillID, n uint64) (seq uint64, ok bool, err error)
}

// Receipts returns how many receipt events of a till are applied: its
// newest receipt number, 0 if none.
func (s *State) Receipts(t TillID) uint64 {
	if c := s.chains[t]; c != nil {
		return c.receipts
	}
	return 0
}

// NextReceipt returns the number a till's next event of kind k gets when
// it extends the chain, or 0 if k takes no number.
func (s *State) NextReceipt(t TillID, k Kind) uint64 {
	if !IsReceiptKind(k) {
		return 0
	}
	return s.Receipts(t) + 1
}

// ReceiptNumber returns the receipt number of a till's applied event at
// seq: false if the event takes no number, is not applied, or the index
// cannot say.
func (s *State) ReceiptNumber(t TillID, seq uint64) (uint64, bool) {
	c := s.chains[t]
	ri, ok := s.idx.(ReceiptIndex)
	if c == nil || !ok || seq == 0 || seq > c.head {
		return 0, false
	}
	n, ok, err := ri.ReceiptNumber(t, seq)
	if err != nil || !ok || n == 0 || n > c.receipts {
		return 0, false
	}
	return n, true
}

// ReceiptSeq returns the seq of a till's receipt number n, if applied.
func (s *State) ReceiptSeq(t TillID, n uint64) (uint64, bool) {
	c := s.chains[t]
	ri, ok := s.idx.(ReceiptIndex)
	if c == nil || !ok || n == 0 || n > c.receipts {
		return 0, false
	}
	seq, ok, err := ri.ReceiptSeq(t, n)
	if err != nil || !ok || seq == 0 || seq > c.head {
		return 0, false
	}
	return seq, true
}
