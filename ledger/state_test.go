package ledger_test

import (
	"errors"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

func apply(t *testing.T, s *ledger.State, evs ...*ledger.Event) {
	t.Helper()
	for _, ev := range evs {
		if _, err := s.Apply(ev); err != nil {
			t.Fatalf("apply seq %d: %v", ev.Seq, err)
		}
	}
}

func TestChainOutOfOrderAndDuplicates(t *testing.T) {
	till := ledgertest.NewTill(store, 1, 1)
	var evs []*ledger.Event
	for i := range 5 {
		evs = append(evs, till.MustNext(ledgertest.Sale3(), now+int64(i)))
	}
	s := ledger.NewState(store)
	r, err := s.Apply(evs[2])
	if err != nil || !r.Held || len(r.Applied) != 0 {
		t.Fatalf("seq 3 first: %+v %v; want held", r, err)
	}
	if n, missing := s.Held(till.ID); n != 1 || missing != 1 {
		t.Fatalf("Held = %d, missing %d; want 1, 1", n, missing)
	}
	if r, _ := s.Apply(evs[2]); !r.Duplicate {
		t.Fatalf("held twice: %+v, want duplicate", r)
	}
	apply(t, s, evs[1])
	r, err = s.Apply(evs[0])
	if err != nil || len(r.Applied) != 3 {
		t.Fatalf("seq 1 releases 1..3: got %d applied, %v", len(r.Applied), err)
	}
	apply(t, s, evs[4], evs[3], evs[0], evs[4])
	if seq, id, _ := s.Head(till.ID); seq != 5 || id != evs[4].ID() {
		t.Fatalf("head = %d %s, want 5 %s", seq, id, evs[4].ID())
	}
	if got := s.Fold().TillReport(till.ID).Sales; got != 5 {
		t.Fatalf("folded %d sales, want 5 (each once)", got)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestEquivocationKeepsEvidence(t *testing.T) {
	a := ledgertest.NewTill(store, 1, 1)
	b := *a // same key, same position: the till signs two histories
	e1 := a.MustNext(ledgertest.Sale3(), now)
	other := ledgertest.Sale3()
	other.Staff = "2"
	e1x := b.MustNext(other, now)
	s := ledger.NewState(store)
	apply(t, s, e1)
	_, err := s.Apply(e1x)
	if !errors.Is(err, ledger.ErrEquivocation) {
		t.Fatalf("got %v, want ErrEquivocation", err)
	}
	if !s.Flagged(a.ID) || len(s.Evidence()) != 1 || s.Evidence()[0].Got.ID() != e1x.ID() || s.Evidence()[0].Have != e1.ID() {
		t.Fatalf("evidence %+v, flagged %v", s.Evidence(), s.Flagged(a.ID))
	}
	if got := s.Fold().TillReport(a.ID).Sales; got != 1 {
		t.Fatalf("%d sales folded, want 1: the first stays, the second is evidence only", got)
	}
	// A later event built on the other history forks from our chain.
	e2x := b.MustNext(ledgertest.Sale3(), now+1)
	if _, err := s.Apply(e2x); !errors.Is(err, ledger.ErrWrongPrev) {
		t.Fatalf("fork: got %v, want ErrWrongPrev", err)
	}
}

func TestWrongStore(t *testing.T) {
	till := ledgertest.NewTill(ledger.StoreID{42}, 1, 1)
	ev := till.MustNext(ledgertest.Sale3(), now)
	if _, err := ledger.NewState(store).Apply(ev); !errors.Is(err, ledger.ErrWrongStore) {
		t.Fatalf("got %v, want ErrWrongStore", err)
	}
}

func TestRefundAcrossTills(t *testing.T) {
	a := ledgertest.NewTill(store, 1, 1)
	b := ledgertest.NewTill(store, 2, 2)
	saleEv := a.MustNext(ledgertest.Sale3(), now)
	s := ledger.NewState(store)
	apply(t, s, saleEv)

	// Till B refunds one of the two milks, then tries two more.
	lines, err := s.Fold().RefundLines(saleEv.ID(), []ledger.Pick{{Line: 0, Qty: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if lines[0].Amount != 119 || lines[0].SKU != "1001" {
		t.Fatalf("refund line %+v, want 119 for SKU 1001", lines[0])
	}
	r1 := &ledger.Refund{Sale: saleEv.ID(), Currency: "EUR", Staff: "2", Lines: lines,
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 119}}}
	ev, err := b.Next(r1, now+1, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckLocal(ev); err != nil {
		t.Fatalf("first refund: %v", err)
	}
	apply(t, s, ev)
	if _, err := s.Fold().RefundLines(saleEv.ID(), []ledger.Pick{{Line: 0, Qty: 2}}); !errors.Is(err, ledger.ErrOverRefund) {
		t.Fatalf("refund above what remains: got %v, want ErrOverRefund", err)
	}
	// A hand-made refund above what remains is refused before signing.
	over := &ledger.Refund{Sale: saleEv.ID(), Currency: "EUR", Staff: "1",
		Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 2, Amount: 238, Tax: 16, Rate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 238}}}
	ev2, err := a.Next(over, now+2, "r2")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckLocal(ev2); !errors.Is(err, ledger.ErrOverRefund) {
		t.Fatalf("CheckLocal: got %v, want ErrOverRefund", err)
	}
	rem, _ := s.Fold().Refundable(saleEv.ID())
	if rem[0].Qty != 1 || rem[0].Amount != 119 {
		t.Fatalf("remaining %+v, want 1 unit for 119", rem[0])
	}
	if st := s.Fold().Stock("1001"); st[a.ID] != -2 || st[b.ID] != 1 {
		t.Fatalf("stock slots %v, want A -2, B +1", st)
	}
	// Top products count the refunded milk back (it read "qty 2, 1.19"
	// after a refund of one), and a weighed line refunded whole counts as
	// its one item.
	lines, err = s.Fold().RefundLines(saleEv.ID(), []ledger.Pick{{Line: 2, Qty: 1234}})
	if err != nil {
		t.Fatal(err)
	}
	r3 := &ledger.Refund{Sale: saleEv.ID(), Currency: "EUR", Staff: "2", Lines: lines,
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}
	apply(t, s, b.MustNext(r3, now+3))
	top := map[string]ledger.SKUSales{}
	for _, p := range s.Fold().TopProducts(10) {
		top[p.SKU] = p
	}
	if top["1001"].Qty != 1 || top["1001"].Amount != 119 || top["3001"].Qty != 0 || top["3001"].Amount != 0 {
		t.Fatalf("top products after refunds: %+v", top)
	}
	// Void is refused on a partly refunded sale.
	if _, err := s.Fold().VoidOf(saleEv.ID()); err == nil {
		t.Fatal("void of a partly refunded sale: no error")
	}
}

func TestVoidAndShiftReport(t *testing.T) {
	a := ledgertest.NewTill(store, 1, 1)
	s := ledger.NewState(store)
	apply(t, s, a.MustNext(&ledger.ShiftOpen{Currency: "EUR", Float: 10000, Staff: "1"}, now))
	sale1 := a.MustNext(ledgertest.Sale3(), now+1) // 1206 total, cash 2000, change 794
	apply(t, s, sale1)
	card := ledgertest.Sale3()
	card.Tenders, card.Change = []ledger.Tender{{Kind: ledger.Card, Amount: 1206}}, 0
	apply(t, s, a.MustNext(card, now+2))
	v, err := s.Fold().VoidOf(sale1.ID())
	if err != nil {
		t.Fatal(err)
	}
	v.Manager = "9"
	voidEv := a.MustNext(v, now+3)
	if err := s.CheckLocal(voidEv); err != nil {
		t.Fatal(err)
	}
	apply(t, s, voidEv)
	apply(t, s, a.MustNext(&ledger.CashOut{Currency: "EUR", Amount: 5000, Reason: "bank", Staff: "1"}, now+4))
	closeEv := a.MustNext(&ledger.ShiftClose{Currency: "EUR", Staff: "1",
		Counted: []ledger.Denomination{{Value: 2000, Count: 2}, {Value: 500, Count: 2}}}, now+5)
	if err := s.CheckLocal(closeEv); err != nil {
		t.Fatal(err)
	}
	apply(t, s, closeEv)

	shifts := s.Fold().Shifts(a.ID)
	if len(shifts) != 1 || shifts[0].IsOpen() {
		t.Fatalf("shifts %+v, want one closed", shifts)
	}
	z := shifts[0]
	// Float 100.00 + cash sale 12.06 - void 12.06 - cash out 50.00 = 50.00.
	if z.Expected != 5000 || z.Counted != 5000 || z.OverShort != 0 {
		t.Errorf("expected/counted/over-short = %v/%v/%v, want 50.00/50.00/0.00", z.Expected, z.Counted, z.OverShort)
	}
	r := z.Report
	if r.Sales != 2 || r.Voids != 1 || r.Voided != 1206 || r.Total != 1206 || r.SalesTotal != 2412 {
		t.Errorf("report sales %d voids %d voided %v total %v sales total %v", r.Sales, r.Voids, r.Voided, r.Total, r.SalesTotal)
	}
	var tax ledger.Money
	for _, b := range r.Bands {
		tax += b.Tax
	}
	if tax != r.Tax {
		t.Errorf("bands tax %v, report tax %v", tax, r.Tax)
	}
	if st := s.Fold().StockTotal("1001"); st != -2 {
		t.Errorf("milk stock %d, want -2 (one sale stands, one voided)", st)
	}
	// Opening twice and closing with nothing open are refused locally.
	if err := s.CheckLocal(a.MustNext(&ledger.ShiftClose{Currency: "EUR", Staff: "1"}, now+6)); !errors.Is(err, ledger.ErrShiftState) {
		t.Errorf("close without open: got %v", err)
	}
	if _, err := s.Fold().VoidOf(sale1.ID()); !errors.Is(err, ledger.ErrAlreadyVoided) {
		t.Errorf("void twice: got %v", err)
	}
}

func TestNextTimeObservesPeersWithinLimit(t *testing.T) {
	a := ledgertest.NewTill(store, 1, 1)
	b := ledgertest.NewTill(store, 2, 2)
	s := ledger.NewState(store)
	apply(t, s, a.MustNext(ledgertest.Sale3(), now+60_000)) // A's clock is a minute ahead
	if got := s.NextTime(b.ID, now, 120_000); !got.After(ledger.HLC{Wall: now + 60_000}) {
		t.Fatalf("B's next time %v does not order after A's event", got)
	}
	apply(t, s, a.MustNext(ledgertest.Sale3(), now+3*3_600_000)) // then three hours ahead
	if got := s.NextTime(b.ID, now, 120_000); got.Wall != now {
		t.Fatalf("B followed a clock 3h fast: %v", got)
	}
}
