package basket

import (
	"encoding/binary"
	"errors"
	"math/big"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

// basketOf reads a basket from fuzz bytes: up to 8 lines of a price,
// quantity, rate, unit and discount each, a basket discount, a limit and
// tenders. Every field may be out of range: Price must refuse, never
// overflow.
func basketOf(data []byte) (Basket, []ledger.Tender) {
	next := func() int64 {
		if len(data) < 8 {
			data = nil
			return 0
		}
		v := int64(binary.LittleEndian.Uint64(data))
		data = data[8:]
		return v
	}
	small := func(mod int64) int64 { v := next() % mod; return max(v, -v) }
	disc := func() *Discount {
		switch small(3) {
		case 1:
			return &Discount{Kind: Percent, Value: small(11000)}
		case 2:
			return &Discount{Kind: Amount, Value: next() >> small(64)}
		}
		return nil
	}
	var b Basket
	for n := small(9); n > 0; n-- {
		p := Product{SKU: "p", Name: "P", Currency: "EUR", Price: ledger.Money(next() >> small(64)), TaxRate: ledger.TaxRate(small(12000)), Unit: ledger.Each}
		if small(2) == 1 {
			p.Unit = ledger.Kilogram
		}
		b.Items = append(b.Items, Item{Product: p, Qty: next() >> small(64), Discount: disc()})
	}
	b.Discount, b.TaxIncluded, b.LimitBP = disc(), small(2) == 1, small(12000)-1000
	var ts []ledger.Tender
	for n := small(4); n > 0; n-- {
		ts = append(ts, ledger.Tender{Kind: []ledger.TenderKind{ledger.Cash, ledger.Card, ledger.Other}[small(3)], Amount: ledger.Money(next() >> small(64))})
	}
	return b, ts
}

// FuzzPrice: totals never overflow (a priced basket's amounts add up and
// stay within the ledger's bounds), change is never negative and covers
// the total, and a basket with nothing approved and nothing listed in
// Over keeps the discount limit.
func FuzzPrice(f *testing.F) {
	f.Add(make([]byte, 200))
	f.Add([]byte("\x03\x00\x00\x00\x00\x00\x00\x00\x77\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, ts := basketOf(data)
		p, err := Price(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Price: %v, want ErrInvalid", err)
			}
			return
		}
		tot := p.Totals
		if tot.Total < 0 || tot.Net < 0 || tot.Tax < 0 || tot.Discounts < 0 || tot.Discounts > tot.Gross {
			t.Fatalf("totals out of range: %+v", tot)
		}
		var sum, gross ledger.Money
		for _, l := range tot.Lines {
			if l.Amount < 0 || l.Gross < 0 || l.Discount+l.CartDiscount > l.Gross {
				t.Fatalf("line out of range: %+v", l)
			}
			sum += l.Amount
			gross += l.Gross
		}
		if sum != tot.Total || gross != tot.Gross {
			t.Fatalf("lines add to %v (gross %v), totals say %v (gross %v)", sum, gross, tot.Total, tot.Gross)
		}
		if len(p.Over) == 0 && b.LimitBP >= 0 {
			n := int64(0)
			for _, it := range b.Items {
				if it.Discount != nil {
					n++
				}
			}
			if b.Discount != nil {
				n++
			}
			// Each discount may round up by at most one minor unit.
			l := new(big.Int).Mul(big.NewInt(int64(tot.Discounts)-n), big.NewInt(10000))
			r := new(big.Int).Mul(big.NewInt(int64(tot.Gross)), big.NewInt(b.LimitBP))
			if l.Cmp(r) > 0 {
				t.Fatalf("discounts %v of %v exceed the %d bp limit with nothing over", tot.Discounts, tot.Gross, b.LimitBP)
			}
		}
		s, err := p.Pay(ts)
		if err != nil {
			return
		}
		var paid ledger.Money
		for _, tn := range s.Tenders {
			paid += tn.Amount
		}
		if s.Change < 0 || paid-s.Change != tot.Total {
			t.Fatalf("paid %v, change %v, total %v", paid, s.Change, tot.Total)
		}
	})
}
