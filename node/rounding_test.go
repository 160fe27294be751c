package node_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// A so'm store rounding cash to 100: sales round both ways, a cash refund
// rounds what it gives back, the drawer and the report agree; and while
// a till of an older release is in the store, no rounding is written.
func TestCashRoundingAndItsGate(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	ctx := t.Context()
	for name, v := range map[string]string{ui.SettingCurrency: "UZS", ui.SettingCashRounding: "100", ui.SettingSmallestAmount: "5"} {
		if err := a.PutSetting(ctx, name, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []crdt.Product{
		{SKU: "choy", Name: "Choy", Price: 12345, Currency: "UZS", Unit: ledger.Each},
		{SKU: "non", Name: "Non", Price: 12350, Currency: "UZS", Unit: ledger.Each},
	} {
		if err := a.Inventory().PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "till 2's kinds, with cash rounding", func() bool {
		return a.KindAllowed(ctx, ledger.FeatureCashRounding) == nil && a.Number() == 1 && b.Number() == 2
	})
	if _, _, err := a.Record(ctx, &ledger.ShiftOpen{Currency: "UZS", Float: 100_000, Staff: "1"}, "open"); err != nil {
		t.Fatal(err)
	}
	var last *ledger.Event
	pay := func(key, sku string, cash ledger.Money) (*ledger.Sale, error) {
		ev, _, err := a.Sell(ctx, ui.SaleRequest{IdempotencyKey: key, Lines: []ui.SaleLine{{SKU: sku, Qty: 1}},
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: cash}}})
		if err != nil {
			return nil, err
		}
		last = ev
		return ev.Body.(*ledger.Sale), nil
	}
	down, err := pay("down", "choy", 12300)
	sale := last.ID()
	if err != nil || down.Rounding != -45 || down.RoundStep != 100 || down.Change != 0 {
		t.Fatalf("12,345 paid 12,300 in cash: %+v, %v; want rounding -45", down, err)
	}
	up, err := pay("up", "non", 20000)
	if err != nil || up.Rounding != 50 || up.Change != 7600 {
		t.Fatalf("12,350 paid 20,000: %+v, %v; want rounding +50, change 7,600", up, err)
	}
	card, _, err := a.Sell(ctx, ui.SaleRequest{IdempotencyKey: "card", Lines: []ui.SaleLine{{SKU: "choy", Qty: 1}},
		Tenders: []ledger.Tender{{Kind: ledger.Card, Amount: 12345}}})
	if err != nil || card.Body.(*ledger.Sale).Rounding != 0 || card.Body.(*ledger.Sale).RoundStep != 0 {
		t.Fatalf("a card sale is not rounded: %v", err)
	}

	// A cash refund of the first sale gives back 12,300: rounding -45.
	lines := refundAll(t, a, sale)
	rev, _, err := a.Record(ctx, &ledger.Refund{Sale: sale, Currency: "UZS", Lines: lines, Staff: "1",
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}, "refund")
	if err != nil {
		t.Fatal(err)
	}
	if rf := rev.Body.(*ledger.Refund); rf.Rounding != -45 || rf.Tenders[0].Amount != 12300 {
		t.Fatalf("cash refund of 12,345: gave %v, rounding %v; want 12,300 and -45", rf.Tenders[0].Amount, rf.Rounding)
	}
	var rep ledger.Report
	a.View(func(st *ledger.State) { rep = st.Fold().TillReport(a.ID()) })
	wantCash := ledger.Money(100_000 + 12300 + 12400 - 12300)
	if rep.CashExpected != wantCash || rep.Rounding != -45+50+45 {
		t.Fatalf("drawer %v rounding %v, want %v and %v", rep.CashExpected, rep.Rounding, wantCash, -45+50+45)
	}

	// Till 2 as an older release: it announces the first release's kinds
	// only. No rounding is written; a cash payment that needs it is
	// refused with the till to upgrade, an exact one goes through.
	var old []string
	for _, k := range ledger.BaseKinds {
		old = append(old, string(k))
	}
	announce(t, a, b, old)
	if got, err := a.TillsNotKnowing(ctx, ledger.FeatureCashRounding); err != nil || len(got) != 1 || got[0] != "till 2" {
		t.Fatalf("cash rounding with till 2 on an older release: tills not knowing %v, %v; want till 2", got, err)
	}
	_, err = pay("short", "choy", 12300)
	if !errors.Is(err, ui.ErrBadRequest) || !strings.Contains(err.Error(), "tenders short") || !strings.Contains(err.Error(), "till 2") || !strings.Contains(err.Error(), "cash_rounding") {
		t.Fatalf("12,300 for 12,345 with till 2 on an old release: %v; want tenders short naming till 2 and cash_rounding", err)
	}
	exact, err := pay("exact", "choy", 20000)
	if err != nil || exact.Rounding != 0 || exact.RoundStep != 0 || exact.Change != 20000-12345 {
		t.Fatalf("with the gate closed: %+v, %v; want no rounding, change 7,655", exact, err)
	}
	rev, _, err = a.Record(ctx, &ledger.Refund{Sale: card.ID(), Currency: "UZS", Lines: refundAll(t, a, card.ID()), Staff: "1",
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 12345}}}, "refund2")
	if err != nil || rev.Body.(*ledger.Refund).Rounding != 0 {
		t.Fatalf("a refund with the gate closed: %v; want recorded without rounding", err)
	}
}

// refundAll is the refund lines of all of a sale's first line.
func refundAll(t *testing.T, a *runningTill, sale ledger.EventID) []ledger.RefundLine {
	t.Helper()
	var ls []ledger.RefundLine
	var err error
	a.View(func(st *ledger.State) {
		ls, err = st.Fold().RefundLines(sale, []ledger.Pick{{Line: 0, Qty: 1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ls
}
