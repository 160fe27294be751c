package ledger_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

func TestRoundCash(t *testing.T) {
	for _, tc := range []struct{ amount, step, want ledger.Money }{
		{12345, 100, 12300}, // down
		{12350, 100, 12400}, // half: away from zero
		{12351, 100, 12400}, // up
		{12300, 100, 12300},
		{-12345, 100, -12300}, // a refund rounds like a sale
		{-12350, 100, -12400},
		{723, 5, 725}, // Swiss 0.05 in centimes
		{722, 5, 720},
		{499, 1000, 0},
		{500, 1000, 1000},
		{12345, 0, 12345},
		{12345, 1, 12345},
	} {
		if got := ledger.RoundCash(tc.amount, tc.step); got != tc.want {
			t.Errorf("RoundCash(%d, %d) = %d, want %d", tc.amount, tc.step, got, tc.want)
		}
	}
}

// uzsSale is one line of 12,345 so'm (0% tax) paid with ts.
func uzsSale(price ledger.Money, ts ...ledger.Tender) *ledger.Sale {
	return &ledger.Sale{Currency: "UZS", TaxIncluded: true, Staff: "1",
		Lines:   []ledger.Line{{SKU: "non", Qty: 1, UnitPrice: price}},
		Tenders: ts}
}

func TestSaleRoundingRules(t *testing.T) {
	till := ledgertest.NewTill(store, 1, 1)
	cash := func(m ledger.Money) ledger.Tender { return ledger.Tender{Kind: ledger.Cash, Amount: m} }
	card := func(m ledger.Money) ledger.Tender { return ledger.Tender{Kind: ledger.Card, Amount: m} }
	for name, tc := range map[string]struct {
		sale *ledger.Sale
		ok   bool
	}{
		"down":               {with(uzsSale(12345, cash(12300)), 100, -45, 0), true},
		"up":                 {with(uzsSale(12350, cash(12400)), 100, 50, 0), true},
		"up with change":     {with(uzsSale(12350, cash(20000)), 100, 50, 7600), true},
		"card and cash":      {with(uzsSale(12345, card(5000), cash(7300)), 100, -45, 0), true},
		"card only":          {with(uzsSale(12345, card(12345)), 100, 0, 0), true},
		"wrong way":          {with(uzsSale(12345, cash(12400)), 100, 55, 0), false},
		"rounding by card":   {with(uzsSale(12345, card(12300)), 100, -45, 0), false},
		"rounding, no step":  {with(uzsSale(12345, cash(12300)), 0, -45, 0), false},
		"unrounded, stepped": {with(uzsSale(12345, cash(12345)), 100, 0, 0), false},
		"step too large":     {with(uzsSale(12345, cash(12345)), ledger.MaxRoundStep+1, 0, 0), false},
		"short of rounded":   {with(uzsSale(12345, cash(12200)), 100, -45, 0), false},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := till.Next(tc.sale, now, name)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ledger.ErrInvalidBody) && !errors.Is(err, ledger.ErrTendersShort) {
				t.Fatalf("got %v, want the sale refused", err)
			}
		})
	}
	// Without the fields (what a release before them reads) the same
	// sale does not balance: hence the kind gate.
	old := with(uzsSale(12345, cash(12300)), 0, 0, 0)
	if _, err := till.Next(old, now, "old"); !errors.Is(err, ledger.ErrTendersShort) {
		t.Fatalf("a rounded sale read without its rounding: %v, want tenders short", err)
	}
}

func with(s *ledger.Sale, step, rounding, change ledger.Money) *ledger.Sale {
	s.RoundStep, s.Rounding, s.Change = step, rounding, change
	return s
}

// TestRoundingReportsAgree: sales rounded both ways, a partial cash
// refund rounded down, a void of a sale rounded up. The drawer, the
// report's rounding line and the tenders all tell one story.
func TestRoundingReportsAgree(t *testing.T) {
	till := ledgertest.NewTill(store, 1, 1)
	s := ledger.NewState(store)
	rec := func(b ledger.Body) *ledger.Event {
		t.Helper()
		ev, err := till.Next(b, now+int64(till.Seq), "")
		if err != nil {
			t.Fatalf("sign %s: %v", b.Kind(), err)
		}
		if err := s.CheckLocal(ev); err != nil {
			t.Fatalf("check %s: %v", b.Kind(), err)
		}
		apply(t, s, ev)
		return ev
	}
	cash := func(m ledger.Money) ledger.Tender { return ledger.Tender{Kind: ledger.Cash, Amount: m} }
	rec(&ledger.ShiftOpen{Currency: "UZS", Float: 100000, Staff: "1"})
	down := uzsSale(12345, cash(12300))
	down.Lines[0].Qty = 3 // 37,035 -> 37,000: -35
	down.Tenders = []ledger.Tender{cash(50000)}
	sale1 := rec(with(down, 100, -35, 13000))
	sale2 := rec(with(uzsSale(12350, cash(12400)), 100, 50, 0)) // +50

	// Refund one unit of sale 1 (12,345) in cash: 12,300 back, -45.
	lines, err := s.Fold().RefundLines(sale1.ID(), []ledger.Pick{{Line: 0, Qty: 1}})
	if err != nil {
		t.Fatal(err)
	}
	back := lines[0].Amount
	rf := &ledger.Refund{Sale: sale1.ID(), Currency: "UZS", Lines: lines, Staff: "1", RoundStep: 100,
		Rounding: ledger.CashRounding(back, 100), Tenders: []ledger.Tender{cash(ledger.RoundCash(back, 100))}}
	if rf.Rounding != -45 || rf.Tenders[0].Amount != 12300 {
		t.Fatalf("refund of %v rounds to %v (%v), want 12300 (-45)", back, rf.Tenders[0].Amount, rf.Rounding)
	}
	rec(rf)
	// A refund whose rounding is not the step's is refused.
	bad := *rf
	bad.Rounding, bad.Tenders = 55, []ledger.Tender{cash(12400)}
	if _, err := ledgertest.NewTill(store, 2, 2).Next(&bad, now, ""); !errors.Is(err, ledger.ErrInvalidBody) {
		t.Fatal("a refund rounded the wrong way was signed")
	}

	v, err := s.Fold().VoidOf(sale2.ID())
	if err != nil {
		t.Fatal(err)
	}
	if v.Rounding != 50 || v.Cash != 12400 {
		t.Fatalf("void copies rounding %v cash %v, want 50 and 12400", v.Rounding, v.Cash)
	}
	v.Manager = "9"
	rec(v)

	r := s.Fold().TillReport(till.ID)
	// Taken: 37,000 + 12,400; given back: 12,300 + 12,400.
	wantCash := ledger.Money(100000 + 37000 + 12400 - 12300 - 12400)
	if r.CashExpected != wantCash {
		t.Errorf("cash expected %v, want %v", r.CashExpected, wantCash)
	}
	if want := ledger.Money(-35 + 50 + 45 - 50); r.Rounding != want {
		t.Errorf("rounding %v, want %v", r.Rounding, want)
	}
	var in, out ledger.Money
	for _, m := range r.Tenders {
		in += m
	}
	for _, m := range r.RefundTenders {
		out += m
	}
	if in-out != r.Total+r.Rounding {
		t.Errorf("tenders %v less given back %v = %v, want total %v plus rounding %v", in, out, in-out, r.Total, r.Rounding)
	}
	sh := s.Fold().Shifts(till.ID)
	if len(sh) != 1 || sh[0].Report.CashExpected != r.CashExpected || sh[0].Report.Rounding != r.Rounding {
		t.Errorf("shift report %+v disagrees with the till's", sh)
	}
	st := s.Fold().StoreReport()
	merged := ledger.NewReport()
	merged.Merge(&r)
	if st.Rounding != r.Rounding || merged.Rounding != r.Rounding || merged.CashExpected != r.CashExpected {
		t.Errorf("store %v / merged %v rounding, want %v", st.Rounding, merged.Rounding, r.Rounding)
	}
}

// roundedSale is ledgertest.Sale paid again with cash rounded to step:
// cash alone (with change) or a card part and cash for the rest.
func roundedSale(rng *rand.Rand, step ledger.Money) *ledger.Sale {
	s := ledgertest.Sale(rng, 5)
	tot, _ := s.Totals()
	s.RoundStep, s.Change = step, 0
	if rng.IntN(2) == 0 || tot.Total < 2 {
		due := ledger.RoundCash(tot.Total, step)
		s.Rounding = due - tot.Total
		given := due + ledger.Money(rng.IntN(3))*step
		if given <= 0 {
			given = step
		}
		s.Tenders, s.Change = []ledger.Tender{{Kind: ledger.Cash, Amount: given}}, given-due
		return s
	}
	card := tot.Total / 2
	rest := tot.Total - card
	s.Rounding = ledger.CashRounding(rest, step)
	s.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: card}, {Kind: ledger.Cash, Amount: rest + s.Rounding}}
	if rest+s.Rounding <= 0 { // the cash part rounds to nothing: pay it by card
		s.RoundStep, s.Rounding, s.Tenders = 0, 0, []ledger.Tender{{Kind: ledger.Card, Amount: tot.Total}}
	}
	return s
}

// TestRoundingProperty: random sales rounded to a random step, cash
// refunds of random lines rounded too, and voids. Whatever happens, the
// till's report, its shift's and the store's agree; tenders taken less
// tenders given back equal total plus rounding; the drawer holds the
// float plus the cash that changed hands.
func TestRoundingProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 20))
	steps := []ledger.Money{5, 10, 100, 1000}
	till := ledgertest.NewTill(store, 1, 1)
	s := ledger.NewState(store)
	at := now
	rec := func(b ledger.Body) *ledger.Event {
		t.Helper()
		at++
		ev, err := till.Next(b, at, "")
		if err != nil {
			t.Fatalf("sign %s: %v", b.Kind(), err)
		}
		if err := s.CheckLocal(ev); err != nil {
			t.Fatalf("check %s: %v", b.Kind(), err)
		}
		apply(t, s, ev)
		return ev
	}
	rec(&ledger.ShiftOpen{Currency: "EUR", Float: 10_000, Staff: "1"})
	cashMoved := ledger.Money(0)
	var sales []*ledger.Event
	for range 300 {
		switch k := rng.IntN(10); {
		case k < 6 || len(sales) == 0:
			sale := roundedSale(rng, steps[rng.IntN(len(steps))])
			cashMoved += cashIn(sale.Tenders) - sale.Change
			sales = append(sales, rec(sale))
		case k < 9:
			ev := sales[rng.IntN(len(sales))]
			rem, err := s.Fold().Refundable(ev.ID())
			if err != nil || len(rem) == 0 {
				continue
			}
			r := rem[rng.IntN(len(rem))]
			if r.Qty == 0 {
				continue
			}
			lines, err := s.Fold().RefundLines(ev.ID(), []ledger.Pick{{Line: r.Line, Qty: 1 + rng.Int64N(r.Qty)}})
			if err != nil {
				continue
			}
			step := steps[rng.IntN(len(steps))]
			back := lines[0].Amount
			if ledger.RoundCash(back, step) <= 0 {
				continue
			}
			rf := &ledger.Refund{Sale: ev.ID(), Currency: "EUR", Lines: lines, Staff: "1", RoundStep: step,
				Rounding: ledger.CashRounding(back, step), Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: ledger.RoundCash(back, step)}}}
			cashMoved -= rf.Tenders[0].Amount
			rec(rf)
		default:
			ev := sales[rng.IntN(len(sales))]
			v, err := s.Fold().VoidOf(ev.ID())
			if err != nil {
				continue
			}
			v.Manager = "9"
			cashMoved -= v.Cash
			rec(v)
		}
	}
	r := s.Fold().TillReport(till.ID)
	var in, out ledger.Money
	for _, m := range r.Tenders {
		in += m
	}
	for _, m := range r.RefundTenders {
		out += m
	}
	if in-out != r.Total+r.Rounding {
		t.Fatalf("tenders %v less given back %v = %v, want total %v plus rounding %v", in, out, in-out, r.Total, r.Rounding)
	}
	if r.CashExpected != 10_000+cashMoved {
		t.Fatalf("drawer %v, want %v", r.CashExpected, 10_000+cashMoved)
	}
	sh := s.Fold().OpenShift(till.ID)
	st := s.Fold().StoreReport()
	if sh == nil || sh.Report.Rounding != r.Rounding || sh.Report.CashExpected != r.CashExpected || st.Rounding != r.Rounding || st.Total != r.Total {
		t.Fatalf("shift %+v / store %v disagree with the till's rounding %v", sh, st.Rounding, r.Rounding)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func cashIn(ts []ledger.Tender) ledger.Money {
	var c ledger.Money
	for _, t := range ts {
		if t.Kind == ledger.Cash {
			c += t.Amount
		}
	}
	return c
}
