package ledger_test

import (
	"errors"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

func TestCardFoldAndRules(t *testing.T) {
	a := ledgertest.NewTill(store, 1, 1)
	b := ledgertest.NewTill(store, 2, 2)
	sale := a.MustNext(ledgertest.Sale3(), now)
	src := sale.ID()
	issue := a.MustNext(&ledger.CardMove{Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardIssue, Currency: "EUR", Amount: 1000, Source: &src, Staff: "1"}, now+1)
	r1 := b.MustNext(&ledger.CardMove{Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardRedeem, Currency: "EUR", Amount: 300,
		Grant: &ledger.GrantRef{Owner: a.ID, N: 1}, Staff: "2"}, now+2)
	other := b.MustNext(&ledger.CardMove{Card: "GC-2", Account: ledger.GiftCard, Op: ledger.CardIssue, Currency: "EUR", Amount: 5, Source: &src, Staff: "2"}, now+3)
	bal := ledger.FoldCard("GC-1", []*ledger.Event{r1, issue, other, r1})
	if bal.Balance != 700 || bal.Issued != 1000 || bal.Redeemed != 300 || bal.Owner != a.ID || !bal.Active || bal.Moves != 2 {
		t.Fatalf("balance %+v", bal)
	}
	if err := bal.CheckRedeem(701, 0, "EUR"); !errors.Is(err, ledger.ErrOverRedeem) {
		t.Fatalf("above balance: %v", err)
	}
	if err := bal.CheckRedeem(400, 301, "EUR"); !errors.Is(err, ledger.ErrOverRedeem) {
		t.Fatalf("above balance less held grants: %v", err)
	}
	if err := bal.CheckRedeem(10, 0, "USD"); !errors.Is(err, ledger.ErrInvalidBody) {
		t.Fatalf("other currency: %v", err)
	}
	if err := ledger.FoldCard("GC-9", []*ledger.Event{issue}).CheckRedeem(1, 0, "EUR"); err == nil {
		t.Fatal("unknown card redeemed")
	}
	off := a.MustNext(&ledger.CardMove{Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardDeactivate, Currency: "EUR", Staff: "1"}, now+4)
	if bal := ledger.FoldCard("GC-1", []*ledger.Event{issue, r1, off}); bal.Active || bal.CheckRedeem(1, 0, "EUR") == nil {
		t.Fatalf("deactivated card: %+v", bal)
	}
	if _, ok := bal.Overspend(); ok {
		t.Fatal("over-spend on a card within its balance")
	}
	r2 := b.MustNext(&ledger.CardMove{Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardRedeem, Currency: "EUR", Amount: 900, Staff: "2",
		Offline: &ledger.OfflineSpend{Owner: a.ID, Approver: "3"}}, now+5)
	if o, ok := ledger.FoldCard("GC-1", []*ledger.Event{issue, r1, r2}).Overspend(); !ok || o.Over != 200 || len(o.Spends) != 2 || !o.Spends[1].Offline {
		t.Fatalf("over-spend %+v %v", o, ok)
	}
	for name, m := range map[string]*ledger.CardMove{
		"negative":        {Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardRedeem, Currency: "EUR", Amount: -1, Staff: "1"},
		"issue no source": {Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardIssue, Currency: "EUR", Amount: 1, Staff: "1"},
		"bad number":      {Card: "G/1", Account: ledger.GiftCard, Op: ledger.CardRedeem, Currency: "EUR", Amount: 1, Staff: "1"},
		"bad account":     {Card: "GC-1", Account: "points", Op: ledger.CardRedeem, Currency: "EUR", Amount: 1, Staff: "1"},
		"deactivate amt":  {Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardDeactivate, Currency: "EUR", Amount: 1, Staff: "1"},
	} {
		if _, err := b.Next(m, now+9, name); !errors.Is(err, ledger.ErrInvalidBody) {
			t.Errorf("%s: %v, want ErrInvalidBody", name, err)
		}
	}
}

// A return without a receipt paid out as store credit issues it, as a
// refund's store-credit tender does; its cash tenders issue nothing.
func TestReturnIssuesStoreCredit(t *testing.T) {
	a := ledgertest.NewTill(store, 1, 1)
	ret := a.MustNext(&ledger.Return{Currency: "EUR", TaxIncluded: true, Reason: "no receipt", Staff: "1",
		Lines:   []ledger.Line{{SKU: "1", Name: "Milk", Qty: 2, UnitPrice: 50, TaxRate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 30}, {Kind: ledger.StoreCreditTender, Amount: 70, Ref: "SC-1"}}}, now)
	bal := ledger.FoldCard("SC-1", []*ledger.Event{ret})
	if bal.Balance != 70 || bal.Account != ledger.StoreCredit || bal.Owner != a.ID || !bal.Active {
		t.Fatalf("store credit from a return: %+v", bal)
	}
	if es := ledger.CardEntries(ret); len(es) != 1 {
		t.Fatalf("card entries of a return: %v", es)
	}
}

// BenchmarkFoldCard: the balance of a card with 10,000 movements.
//
//	go test -run XXX -bench FoldCard ./ledger/
func BenchmarkFoldCard(b *testing.B) {
	a := ledgertest.NewTill(store, 1, 1)
	sale := a.MustNext(ledgertest.Sale3(), now)
	src := sale.ID()
	evs := []*ledger.Event{a.MustNext(&ledger.CardMove{Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardIssue, Currency: "EUR",
		Amount: ledger.MaxPrice, Source: &src, Staff: "1"}, now+1)}
	for i := range 9_999 {
		evs = append(evs, a.MustNext(&ledger.CardMove{Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardRedeem, Currency: "EUR",
			Amount: 1, Grant: &ledger.GrantRef{Owner: a.ID, N: uint64(i + 1)}, Staff: "1"}, now+2+int64(i)))
	}
	b.ResetTimer()
	for range b.N {
		if bal := ledger.FoldCard("GC-1", evs); bal.Moves != 10_000 {
			b.Fatal(bal.Moves)
		}
	}
}

func TestEarnPoints(t *testing.T) {
	s := ledgertest.Sale3() // 2.38 of 1001, 5.99 of 2001, 3.69 of 3001
	r := ledger.EarnRule{PerUnit: 3, Excluded: []string{"2"}}
	if got := r.EarnPoints(s); got != 0 {
		t.Fatalf("no customer: %d points", got)
	}
	s.Customer = "C-1"
	for _, tc := range []struct {
		rule ledger.EarnRule
		want int64
	}{
		{ledger.EarnRule{PerUnit: 3, Excluded: []string{"2"}}, 3 * 6}, // 2.38 + 3.69 = 6.07: 6 whole units
		{ledger.EarnRule{PerUnit: 1}, 12},                             // 12.06
		{ledger.EarnRule{PerUnit: 1, Excluded: []string{"1", "2", "3"}}, 0},
		{ledger.EarnRule{PerUnit: 0}, 0},
		{ledger.EarnRule{PerUnit: -5}, 0},
		// A currency of whole units (so'm: Unit 1): 1206 so'm earn 1206 points.
		{ledger.EarnRule{PerUnit: 1, Unit: 1}, 1206},
		{ledger.EarnRule{PerUnit: 1, Unit: 100}, 12},
	} {
		if got := tc.rule.EarnPoints(s); got != tc.want {
			t.Errorf("%+v: %d points, want %d", tc.rule, got, tc.want)
		}
	}
}

// TestPointsBack: a refund takes back the refunded share of the points a
// sale earned, by the lines the rule counts, and the refunds of the whole
// sale take back exactly what it earned, however they are split.
func TestPointsBack(t *testing.T) {
	s := ledgertest.Sale3() // 2.38 of 1001, 5.99 of 2001, 3.69 of 3001
	r := ledger.EarnRule{PerUnit: 3, Excluded: []string{"2"}}
	l := func(line int, amount ledger.Money) ledger.RefundLine {
		return ledger.RefundLine{Line: line, Amount: amount}
	}
	for _, tc := range []struct {
		name         string
		before, this []ledger.RefundLine
		want         ledger.Money
	}{
		{"excluded line", nil, []ledger.RefundLine{l(1, 599)}, 0},
		{"first line", nil, []ledger.RefundLine{l(0, 238)}, 7}, // 18 x 238/607 = 7.06
		{"the rest", []ledger.RefundLine{l(0, 238), l(1, 599)}, []ledger.RefundLine{l(2, 369)}, 11},
		{"third line first", nil, []ledger.RefundLine{l(2, 369)}, 11}, // 10.94
		{"then the first", []ledger.RefundLine{l(2, 369)}, []ledger.RefundLine{l(0, 238)}, 7},
		{"half a line", nil, []ledger.RefundLine{l(0, 119)}, 4}, // 3.53
		{"more than paid", []ledger.RefundLine{l(0, 238), l(2, 369)}, []ledger.RefundLine{l(0, 1)}, 0},
		{"bad line", nil, []ledger.RefundLine{l(7, 100), l(-1, 100)}, 0},
	} {
		if got := r.PointsBack(s, 18, tc.before, tc.this); got != tc.want {
			t.Errorf("%s: %d points back, want %d", tc.name, got, tc.want)
		}
	}
	if got := r.PointsBack(s, 0, nil, []ledger.RefundLine{l(0, 238)}); got != 0 {
		t.Errorf("nothing earned: %d back", got)
	}
	// Split into cents in any order: the parts add up to what was earned.
	var before []ledger.RefundLine
	var sum ledger.Money
	for _, part := range []ledger.RefundLine{l(2, 100), l(0, 1), l(2, 269), l(1, 599), l(0, 200), l(0, 37)} {
		sum += r.PointsBack(s, 18, before, []ledger.RefundLine{part})
		before = append(before, part)
	}
	if sum != 18 {
		t.Fatalf("a sale refunded in parts took back %d points of 18", sum)
	}
}
