package ledger

import (
	"fmt"
	"sort"
)

// Stock transfers between the stores of a chain. A transfer_out at the
// sending store takes the goods out of its stock at once; a transfer_in at
// the receiving store, against the transfer's number, puts what arrived
// into its stock and records any difference. Each store's ledger holds its
// own side only; HQ matches the two sides by number. Both kinds are
// outside BaseKinds, so a till writes them only once every till of its
// store knows them (node's kind gate).
const (
	KindTransferOut Kind = "transfer_out"
	KindTransferIn  Kind = "transfer_in"
)

// MaxTransferNumberLen bounds a transfer number.
const MaxTransferNumberLen = 64

// TransferOut sends goods to another store of the chain. Number is made by
// the sending till and unique in the chain without coordination
// (TransferNumber).
type TransferOut struct {
	Number string      `cbor:"1,keyasint" json:"number"`
	To     StoreID     `cbor:"2,keyasint" json:"to"`
	Lines  []StockLine `cbor:"3,keyasint" json:"lines"` // quantities sent, each positive
	Note   string      `cbor:"4,keyasint,omitempty" json:"note,omitempty"`
	Staff  string      `cbor:"5,keyasint" json:"staff"`
}

// TransferIn receives a transfer at its destination. Sent is what the
// receiving till knew was sent (from HQ's list or the transfer note); it
// is empty when the till received blind. Lines is what arrived, by SKU,
// 0 for a line that did not arrive at all; never more than Sent says.
type TransferIn struct {
	Number string      `cbor:"1,keyasint" json:"number"`
	From   StoreID     `cbor:"2,keyasint" json:"from"`
	Sent   []StockLine `cbor:"3,keyasint,omitempty" json:"sent,omitempty"`
	Lines  []StockLine `cbor:"4,keyasint" json:"lines"`
	Note   string      `cbor:"5,keyasint,omitempty" json:"note,omitempty"`
	Staff  string      `cbor:"6,keyasint" json:"staff"`
}

func (*TransferOut) Kind() Kind { return KindTransferOut }
func (*TransferIn) Kind() Kind  { return KindTransferIn }

// TransferNumber makes the number of a transfer sent by till number till
// of store, as the till's n-th (any number that only grows per till, such
// as the seq the event will take): "<first 8 hex of the store>-<till>-<n>".
// Till numbers are unique in a store and stores have random IDs, so the
// number is unique in the chain without asking anyone (two stores sharing
// the 32-bit prefix is the one way it could repeat; HQ matches on number
// and sending store, so even then nothing mixes).
func TransferNumber(store StoreID, till uint32, n uint64) string {
	return fmt.Sprintf("%s-%d-%d", store.String()[:8], till, n)
}

func checkTransferNumber(n string) error {
	if n == "" || len(n) > MaxTransferNumberLen {
		return invalid("transfer number %q: want 1..%d bytes", n, MaxTransferNumberLen)
	}
	for _, r := range n {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' || r == '.') {
			return invalid("transfer number %q: contains %q", n, r)
		}
	}
	return nil
}

// checkTransferLines checks lines of distinct SKUs; zero quantities are
// allowed only with allowZero (a line that did not arrive).
func checkTransferLines(what string, lines []StockLine, allowZero bool) error {
	if len(lines) == 0 || len(lines) > MaxLines {
		return invalid("%d %s lines, want 1..%d", len(lines), what, MaxLines)
	}
	seen := make(map[string]bool, len(lines))
	for i, l := range lines {
		if err := checkSKU(l.SKU); err != nil {
			return fmt.Errorf("%s line %d: %w", what, i+1, err)
		}
		if seen[l.SKU] {
			return invalid("%s line %d: sku %s twice", what, i+1, l.SKU)
		}
		seen[l.SKU] = true
		if l.Qty < 0 || l.Qty > MaxQty || (l.Qty == 0 && !allowZero) {
			return invalid("%s line %d (%s): quantity %d", what, i+1, l.SKU, l.Qty)
		}
	}
	return nil
}

func (t *TransferOut) check() error {
	if err := checkTransferNumber(t.Number); err != nil {
		return err
	}
	if t.To == (StoreID{}) {
		return invalid("transfer %s names no destination store", t.Number)
	}
	if err := checkTransferLines("sent", t.Lines, false); err != nil {
		return err
	}
	if err := checkText("note", t.Note); err != nil {
		return err
	}
	return checkStaff("staff", t.Staff, true)
}

func (t *TransferIn) check() error {
	if err := checkTransferNumber(t.Number); err != nil {
		return err
	}
	if t.From == (StoreID{}) {
		return invalid("transfer %s names no sending store", t.Number)
	}
	if err := checkTransferLines("received", t.Lines, true); err != nil {
		return err
	}
	if len(t.Sent) > 0 {
		if err := checkTransferLines("sent", t.Sent, false); err != nil {
			return err
		}
		sent := make(map[string]int64, len(t.Sent))
		for _, l := range t.Sent {
			sent[l.SKU] = l.Qty
		}
		for _, l := range t.Lines {
			s, ok := sent[l.SKU]
			switch {
			case !ok && l.Qty > 0:
				return invalid("transfer %s: %d of %s received, none was sent", t.Number, l.Qty, l.SKU)
			case l.Qty > s:
				return invalid("transfer %s: %d of %s received, %d was sent", t.Number, l.Qty, l.SKU, s)
			}
		}
	}
	if err := checkText("note", t.Note); err != nil {
		return err
	}
	return checkStaff("staff", t.Staff, true)
}

// Differences returns, per SKU, what arrived minus what was sent (negative
// for missing goods), leaving out SKUs that match: empty when the transfer
// arrived whole. sent is the sending store's lines.
func Differences(sent, received []StockLine) map[string]int64 {
	d := map[string]int64{}
	for _, l := range sent {
		d[l.SKU] -= l.Qty
	}
	for _, l := range received {
		d[l.SKU] += l.Qty
	}
	for sku, q := range d {
		if q == 0 {
			delete(d, sku)
		}
	}
	return d
}

// TransferSide is one store's record of a transfer: a transfer_out or a
// transfer_in as its ledger holds it.
type TransferSide struct {
	Number string      `json:"number"`
	Other  StoreID     `json:"other"` // the destination of an out, the sender of an in
	Lines  []StockLine `json:"lines"` // sent (out) or received (in)
	Sent   []StockLine `json:"sent,omitempty"`
	Note   string      `json:"note,omitempty"`
	Till   TillID      `json:"till"`
	Seq    uint64      `json:"seq"`
	Time   HLC         `json:"time"`
}

// transfers is the fold of a store's transfer events: every number it
// sent and every receipt it made. It grows with transfers, not events.
type transfers struct {
	out map[string]*TransferSide
	in  map[string][]*TransferSide // a number received twice (two tills cut off) lists both
}

// SideOf returns the transfer side an event records, or nil for an event
// of another kind.
func SideOf(ev *Event) (side *TransferSide, in bool) {
	switch b := ev.Body.(type) {
	case *TransferOut:
		return &TransferSide{Number: b.Number, Other: b.To, Lines: b.Lines, Note: b.Note, Till: ev.Till, Seq: ev.Seq, Time: ev.Time}, false
	case *TransferIn:
		return &TransferSide{Number: b.Number, Other: b.From, Lines: b.Lines, Sent: b.Sent, Note: b.Note, Till: ev.Till, Seq: ev.Seq, Time: ev.Time}, true
	}
	return nil, false
}

func (f *Fold) applyTransfer(ev *Event) {
	if f.xfer.out == nil {
		f.xfer = transfers{out: map[string]*TransferSide{}, in: map[string][]*TransferSide{}}
	}
	side, in := SideOf(ev)
	switch {
	case side == nil:
	case in:
		f.xfer.in[side.Number] = append(f.xfer.in[side.Number], side)
	case f.xfer.out[side.Number] == nil: // CheckLocal refuses a reused number
		f.xfer.out[side.Number] = side
	}
}

// TransferOut returns the transfer this store sent under number, or nil.
func (f *Fold) TransferOut(number string) *TransferSide { return f.xfer.out[number] }

// TransferIn returns this store's receipts of a transfer (normally one).
func (f *Fold) TransferIn(number string) []*TransferSide { return f.xfer.in[number] }

// TransfersOut lists the transfers this store sent, oldest first.
func (f *Fold) TransfersOut() []*TransferSide {
	out := make([]*TransferSide, 0, len(f.xfer.out))
	for _, t := range f.xfer.out {
		out = append(out, t)
	}
	sortSides(out)
	return out
}

// TransfersIn lists this store's receipts of transfers, oldest first.
func (f *Fold) TransfersIn() []*TransferSide {
	var out []*TransferSide
	for _, ts := range f.xfer.in {
		out = append(out, ts...)
	}
	sortSides(out)
	return out
}

func sortSides(ts []*TransferSide) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Time != ts[j].Time {
			return ts[i].Time.Before(ts[j].Time)
		}
		if ts[i].Number != ts[j].Number {
			return ts[i].Number < ts[j].Number
		}
		if ts[i].Till != ts[j].Till {
			return string(ts[i].Till[:]) < string(ts[j].Till[:])
		}
		return ts[i].Seq < ts[j].Seq
	})
}

// checkTransferLocal holds a till's own new transfer event to the rules
// that need the store's ledger: no transfer to its own store, a number
// used once, no receipt at the sending store and none twice.
func (s *State) checkTransferLocal(ev *Event) error {
	switch b := ev.Body.(type) {
	case *TransferOut:
		switch {
		case b.To == ev.Store:
			return ev.errorf(ErrInvalidBody, "transfer %s: the destination is this store", b.Number)
		case s.fold.xfer.out[b.Number] != nil:
			return ev.errorf(ErrInvalidBody, "transfer number %s is already used", b.Number)
		}
	case *TransferIn:
		if b.From == ev.Store || s.fold.xfer.out[b.Number] != nil {
			return ev.errorf(ErrInvalidBody, "transfer %s was sent by this store: it is received at its destination", b.Number)
		}
		if prev := s.fold.xfer.in[b.Number]; len(prev) > 0 {
			return ev.errorf(ErrInvalidBody, "transfer %s was already received (till %s, seq %d)", b.Number, prev[0].Till.Short(), prev[0].Seq)
		}
	}
	return nil
}

// cpTransfer is a transfer side in a checkpoint.
type cpTransfer struct {
	In   bool `cbor:",omitempty"`
	Side TransferSide
}

func (f *Fold) checkpointTransfers() []cpTransfer {
	var out []cpTransfer
	for _, t := range f.TransfersOut() {
		out = append(out, cpTransfer{Side: *t})
	}
	for _, t := range f.TransfersIn() {
		out = append(out, cpTransfer{In: true, Side: *t})
	}
	return out
}

func (f *Fold) restoreTransfers(cp []cpTransfer) {
	if len(cp) == 0 {
		return
	}
	f.xfer = transfers{out: map[string]*TransferSide{}, in: map[string][]*TransferSide{}}
	for i := range cp {
		t := cp[i].Side
		if cp[i].In {
			f.xfer.in[t.Number] = append(f.xfer.in[t.Number], &t)
		} else {
			f.xfer.out[t.Number] = &t
		}
	}
}

// CheckBody checks the rules a body must hold on its own, as signing and
// decoding do: for callers that build a body from outside input (a form,
// a message from HQ) and want its error before anything else happens.
func CheckBody(b Body) error {
	if b == nil {
		return invalid("no body")
	}
	return b.check()
}
