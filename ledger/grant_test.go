package ledger_test

import (
	"errors"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// A held grant reserves its units: the owner never grants them twice,
// and a refund naming a grant may carry the owner's amounts when the
// refunding till has not seen the other refunds yet.
func TestGrantLinesCountHeldGrants(t *testing.T) {
	a := ledgertest.NewTill(store, 1, 1)
	b := ledgertest.NewTill(store, 2, 2)
	saleEv := a.MustNext(ledgertest.Sale3(), now)
	s := ledger.NewState(store)
	apply(t, s, saleEv)
	f := s.Fold()
	g1, err := f.GrantLines(saleEv.ID(), []ledger.Pick{{Line: 0, Qty: 1}}, nil)
	if err != nil || g1[0].Amount != 119 {
		t.Fatalf("first grant %+v %v, want 119", g1, err)
	}
	held := [][]ledger.RefundLine{g1}
	if _, err := f.GrantLines(saleEv.ID(), []ledger.Pick{{Line: 0, Qty: 2}}, held); !errors.Is(err, ledger.ErrOverRefund) {
		t.Fatalf("grant above what held grants leave: %v, want ErrOverRefund", err)
	}
	if _, err := f.GrantLines(saleEv.ID(), []ledger.Pick{{Line: 0, Qty: 1}, {Line: 0, Qty: 1}}, nil); !errors.Is(err, ledger.ErrInvalidBody) {
		t.Fatalf("a line picked twice: %v", err)
	}
	g2, err := f.GrantLines(saleEv.ID(), []ledger.Pick{{Line: 0, Qty: 1}}, held)
	if err != nil || g2[0].Amount != 119 {
		t.Fatalf("second grant %+v %v", g2, err)
	}
	// B records the second grant's refund before the first one's arrived.
	r2 := &ledger.Refund{Sale: saleEv.ID(), Currency: "EUR", Staff: "2", Lines: g2,
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 119}}, Grant: &ledger.GrantRef{Owner: a.ID, N: 2}}
	ev, _ := b.Next(r2, now+1, "r2")
	if err := s.CheckLocal(ev); err != nil {
		t.Fatalf("granted refund: %v", err)
	}
	apply(t, s, ev)
	used, err := f.UsedGrants(saleEv.ID())
	if err != nil || !used[ledger.GrantRef{Owner: a.ID, N: 2}] || len(used) != 1 {
		t.Fatalf("used grants %v %v", used, err)
	}
	// A grant from a till that did not make the sale is refused.
	bad := *r2
	bad.Grant = &ledger.GrantRef{Owner: b.ID, N: 1}
	ev, _ = b.Next(&bad, now+2, "bad")
	if err := s.CheckLocal(ev); !errors.Is(err, ledger.ErrInvalidBody) {
		t.Fatalf("grant of another till: %v", err)
	}
	// Amounts above what remains are refused even with a grant.
	big := *r2
	big.Lines = []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 500, Tax: 10, Rate: 700}}
	big.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: 500}}
	ev, _ = b.Next(&big, now+2, "big")
	if err := s.CheckLocal(ev); !errors.Is(err, ledger.ErrInvalidBody) {
		t.Fatalf("amount above remains: %v", err)
	}
	// Both a grant and an offline approval: refused by the body check.
	both := *r2
	both.Offline = &ledger.OfflineSpend{Owner: a.ID, Approver: "5"}
	if _, err := b.Next(&both, now+2, "both"); !errors.Is(err, ledger.ErrInvalidBody) {
		t.Fatalf("grant and offline: %v", err)
	}
}

// Two tills that refund the same line without grants (offline) take the
// sale over its total: Overspends names the tills, events and amounts.
func TestOverspendsNameTillsEventsAmounts(t *testing.T) {
	a := ledgertest.NewTill(store, 1, 1)
	b := ledgertest.NewTill(store, 2, 2)
	c := ledgertest.NewTill(store, 3, 3)
	saleEv := a.MustNext(ledgertest.Sale3(), now)
	s := ledger.NewState(store)
	apply(t, s, saleEv)
	lines, _ := s.Fold().RefundLines(saleEv.ID(), []ledger.Pick{{Line: 0, Qty: 2}})
	mk := func(tl *ledgertest.Till, key string, off *ledger.OfflineSpend) *ledger.Event {
		return tl.MustNext(&ledger.Refund{Sale: saleEv.ID(), Currency: "EUR", Staff: "2", Lines: lines,
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 238}}, Offline: off}, now+1)
	}
	rb := mk(b, "rb", &ledger.OfflineSpend{Owner: a.ID, Approver: "9"})
	rc := mk(c, "rc", &ledger.OfflineSpend{Owner: a.ID, Approver: "9"})
	if os, err := s.Fold().Overspends(); err != nil || len(os) != 0 {
		t.Fatalf("before: %v %v", os, err)
	}
	apply(t, s, rb, rc)
	os, err := s.Fold().Overspends()
	if err != nil || len(os) != 1 {
		t.Fatalf("overspends %v %v", os, err)
	}
	o := os[0]
	if o.Sale != saleEv.ID() || o.Owner != a.ID || o.Limit != 1206 || o.Spent != 476 || o.Over != 238 ||
		len(o.Spends) != 2 || !o.Spends[0].Offline || o.Reasons[0] != "line 0 refunded 4 of 2" {
		t.Fatalf("overspend %+v", o)
	}
	ids := map[ledger.EventID]bool{o.Spends[0].Event: true, o.Spends[1].Event: true}
	if !ids[rb.ID()] || !ids[rc.ID()] || o.Spends[0].Amount != 238 {
		t.Fatalf("spends %+v", o.Spends)
	}
}
