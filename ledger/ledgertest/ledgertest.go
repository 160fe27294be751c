// Package ledgertest makes signed events and whole chains for tests,
// benchmarks, simulators and the demo. Like ledger it is pure: randomness
// comes in as a Rand, keys from a seed, time as an argument.
package ledgertest

import (
	"crypto/ed25519"
	"fmt"

	"github.com/tillmesh/tillmesh/ledger"
)

// Rand is the part of *math/rand/v2.Rand that the generators use.
type Rand interface {
	IntN(n int) int
}

// Key returns a deterministic ed25519 key for a seed byte.
func Key(seed byte) ed25519.PrivateKey {
	s := make([]byte, ed25519.SeedSize)
	s[0], s[1] = seed, 0x7e
	return ed25519.NewKeyFromSeed(s)
}

// Till appends events to one till's chain.
type Till struct {
	Key    ed25519.PrivateKey
	ID     ledger.TillID
	Store  ledger.StoreID
	Number uint32
	Seq    uint64
	Prev   ledger.EventID
	Clock  ledger.HLC
}

// NewTill returns a till with a key from seed and an empty chain.
func NewTill(store ledger.StoreID, seed byte, number uint32) *Till {
	k := Key(seed)
	return &Till{Key: k, ID: ledger.TillOf(k), Store: store, Number: number}
}

// Next signs body as the till's next event at wall time now (Unix ms).
func (t *Till) Next(body ledger.Body, now int64, key string) (*ledger.Event, error) {
	ev := &ledger.Event{Store: t.Store, Seq: t.Seq + 1, Prev: t.Prev, Time: t.Clock.Next(now), Body: body, Key: key}
	if err := ev.Sign(t.Key); err != nil {
		return nil, err
	}
	t.Seq, t.Prev, t.Clock = ev.Seq, ev.ID(), ev.Time
	return ev, nil
}

// MustNext is Next for bodies known to be valid; it panics otherwise.
func (t *Till) MustNext(body ledger.Body, now int64) *ledger.Event {
	ev, err := t.Next(body, now, fmt.Sprintf("k-%d", t.Seq+1))
	if err != nil {
		panic(err)
	}
	return ev
}

// Certificate returns the till's certificate signed by ca.
func (t *Till) Certificate(ca ed25519.PrivateKey, name string, issued int64) *ledger.Certificate {
	c := &ledger.Certificate{Store: t.Store, Till: t.ID, Number: t.Number, Name: name, Issued: issued}
	if err := c.Sign(ca); err != nil {
		panic(err)
	}
	return c
}

// SKUs is a small catalog the generators draw from: SKU, price, tax rate.
var SKUs = []struct {
	SKU   string
	Name  string
	Price ledger.Money
	Rate  ledger.TaxRate
	Unit  ledger.Unit
}{
	{"1001", "Milk 1L", 119, 700, ""},
	{"1002", "Bread", 249, 700, ""},
	{"1003", "Coffee 500g", 799, 700, ""},
	{"2001", "Batteries AA", 599, 2000, ""},
	{"2002", "Light bulb", 349, 2000, ""},
	{"3001", "Apples", 299, 700, ledger.Kilogram},
	{"3002", "Cheese", 1899, 700, ledger.Kilogram},
	{"4001", "Wine", 1299, 2000, ""},
}

// Sale returns a valid sale of 1..maxLines lines drawn from SKUs, paid by
// cash (with change), card, or both.
func Sale(r Rand, maxLines int) *ledger.Sale {
	s := &ledger.Sale{Currency: "EUR", TaxIncluded: r.IntN(4) != 0, Staff: "1"}
	n := 1 + r.IntN(maxLines)
	for i := 0; i < n; i++ {
		p := SKUs[r.IntN(len(SKUs))]
		qty := int64(1 + r.IntN(3))
		if p.Unit == ledger.Kilogram {
			qty = int64(100 + r.IntN(2000))
		}
		l := ledger.Line{SKU: p.SKU, Name: p.Name, Qty: qty, Unit: p.Unit, UnitPrice: p.Price, TaxRate: p.Rate}
		if r.IntN(5) == 0 && p.Unit != ledger.Kilogram {
			l.Discount = ledger.Money(r.IntN(int(p.Price)/2 + 1))
		}
		s.Lines = append(s.Lines, l)
	}
	t, err := s.Totals()
	if err != nil {
		panic(err)
	}
	if r.IntN(6) == 0 && t.Total > 10 {
		s.CartDiscount = ledger.Money(r.IntN(int(t.Total) / 10))
		t, _ = s.Totals()
	}
	switch r.IntN(3) {
	case 0: // cash, rounded up to the next 5.00
		given := (t.Total/500 + 1) * 500
		s.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: given}}
		s.Change = given - t.Total
	case 1:
		s.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: t.Total, Ref: fmt.Sprintf("A%06d", r.IntN(1e6))}}
	default:
		cash := t.Total / 2
		if cash == 0 {
			s.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: t.Total}}
			break
		}
		s.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: cash}, {Kind: ledger.Card, Amount: t.Total - cash}}
	}
	return s
}

// Sale3 is a fixed three-line cash sale, the benchmark's unit of work.
func Sale3() *ledger.Sale {
	return &ledger.Sale{
		Currency: "EUR", TaxIncluded: true, Staff: "1",
		Lines: []ledger.Line{
			{SKU: "1001", Name: "Milk 1L", Qty: 2, UnitPrice: 119, TaxRate: 700},
			{SKU: "2001", Name: "Batteries AA", Qty: 1, UnitPrice: 599, TaxRate: 2000},
			{SKU: "3001", Name: "Apples", Qty: 1234, Unit: ledger.Kilogram, UnitPrice: 299, TaxRate: 700},
		},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 2000}},
		Change:  2000 - (238 + 599 + 369),
	}
}
