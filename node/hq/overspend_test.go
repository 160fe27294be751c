package hq_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// TestOverspendsAtHQ: a sale refunded twice over (once offline at till
// 2, once with the owner's grant at till 3) is listed at HQ with the
// tills, events and amounts, in the report and after a restart; a sale
// refunded within its total is not. After a start the tracker's records
// are in storage only: a further refund reads and adds to them.
func TestOverspendsAtHQ(t *testing.T) {
	eachBackend(t, testOverspendsAtHQ)
}

func testOverspendsAtHQ(t *testing.T, b backend) {
	ctx := t.Context()
	store := hqtest.NewStore(40, 3)
	place := b.place(t)
	var last hq.Storage
	open := func() *hq.HQ {
		last = b.open(t, place)
		return newHQ(t, last)
	}
	st := b.open(t, place)
	h := newHQ(t, st, store)
	t1, t2, t3 := store.Tills[0], store.Tills[1], store.Tills[2]
	sale := t1.MustNext(ledgertest.Sale3(), day0)
	fine := t1.MustNext(ledgertest.Sale3(), day0+1)
	line0 := []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 2, Amount: 238, Tax: 16, Rate: 700}}
	cash := []ledger.Tender{{Kind: ledger.Cash, Amount: 238}}
	off := t2.MustNext(&ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "2", Lines: line0, Tenders: cash,
		Offline: &ledger.OfflineSpend{Owner: t1.ID, Approver: "3"}}, day0+2)
	granted := t3.MustNext(&ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "2", Lines: line0, Tenders: cash,
		Grant: &ledger.GrantRef{Owner: t1.ID, N: 1}}, day0+3)
	ok := t2.MustNext(&ledger.Refund{Sale: fine.ID(), Currency: "EUR", Staff: "2", Lines: line0, Tenders: cash,
		Grant: &ledger.GrantRef{Owner: t1.ID, N: 2}}, day0+4)
	src := sale.ID()
	issue := t1.MustNext(&ledger.CardMove{Card: "GC-7", Account: ledger.GiftCard, Op: ledger.CardIssue, Currency: "EUR", Amount: 100, Source: &src, Staff: "1"}, day0+5)
	redeem := t2.MustNext(&ledger.CardMove{Card: "GC-7", Account: ledger.GiftCard, Op: ledger.CardRedeem, Currency: "EUR", Amount: 80,
		Grant: &ledger.GrantRef{Owner: t1.ID, N: 3}, Staff: "2"}, day0+6)
	lost := t3.MustNext(&ledger.CardMove{Card: "GC-7", Account: ledger.GiftCard, Op: ledger.CardRedeem, Currency: "EUR", Amount: 50,
		Grant: &ledger.GrantRef{Owner: t1.ID, N: 3}, Staff: "2"}, day0+7) // a grant used twice: a damaged chain's kind of over-spend
	for i, evs := range [][]*ledger.Event{{sale, fine, issue}, {off, ok, redeem}, {granted, lost}} {
		u := &hqapi.Upload{Fence: 1, Events: raws(evs)}
		if i == 0 {
			u.Certs = store.EncodedCerts()
		}
		if res, err := h.Ingest(ctx, store.ID, t1.ID, u); err != nil || len(res.Rejected) != 0 {
			t.Fatalf("upload %d: %+v %v", i, res, err)
		}
	}
	check := func(h *hq.HQ) {
		t.Helper()
		os := h.Overspends(ctx, &store.ID)
		if len(os) != 1 {
			t.Fatalf("over-spends %+v, want the one sale", os)
		}
		o := os[0]
		if o.Sale != sale.ID() || o.Owner != t1.ID || o.OwnerSeq != 1 || o.Spent != 476 || o.Over != 238 || o.Limit != 1206 ||
			len(o.Reasons) != 1 || o.Reasons[0] != "line 0 refunded 4 of 2" || o.Numbers[t2.ID.String()] != 2 {
			t.Fatalf("over-spend %+v", o)
		}
		if len(o.Spends) != 2 || o.Spends[0].Event != off.ID() || !o.Spends[0].Offline || o.Spends[1].Grant == nil || o.Spends[1].Till != t3.ID {
			t.Fatalf("spends %+v", o.Spends)
		}
		if rep := h.Report(hq.Query{Store: &store.ID}); len(rep.Overspends) != 1 || rep.Overspends[0].Over != 238 {
			t.Fatalf("report over-spends %+v", rep.Overspends)
		}
		cs := h.CardOverspends(&store.ID)
		if len(cs) != 1 || cs[0].Card != "GC-7" || cs[0].Over != 30 || cs[0].Owner != t1.ID || len(cs[0].Spends) != 2 {
			t.Fatalf("card over-spends %+v", cs)
		}
	}
	check(h)
	st.Close()
	h = open()
	check(h)

	// After a start the sale's record is in storage only: a further
	// refund reads it and adds to it, and so does the next start.
	more := t2.MustNext(&ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "2",
		Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 119, Tax: 8, Rate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 119}}, Offline: &ledger.OfflineSpend{Owner: t1.ID, Approver: "3"}}, day0+8)
	if res, err := h.Ingest(ctx, store.ID, t1.ID, &hqapi.Upload{Fence: 1, Events: raws([]*ledger.Event{more})}); err != nil || res.Accepted != 1 {
		t.Fatalf("upload after the start: %+v %v", res, err)
	}
	again := func(h *hq.HQ) {
		t.Helper()
		os := h.Overspends(ctx, &store.ID)
		if len(os) != 1 || os[0].Spent != 595 || os[0].Over != 357 || len(os[0].Spends) != 3 || os[0].Reasons[0] != "line 0 refunded 5 of 2" {
			t.Fatalf("over-spends after a refund read the stored record: %+v", os)
		}
		if cs := h.CardOverspends(&store.ID); len(cs) != 1 || cs[0].Over != 30 {
			t.Fatalf("card over-spends %+v", cs)
		}
	}
	again(h)
	last.Close()
	again(open())
}

// The tracker keeps a bounded number of sale records in memory: a store
// refunding sale after sale does not grow HQ's memory with its history.
// A record it dropped is read back from storage when a later refund
// needs it, so an over-spend across that refund is still found.
func TestOverspendRecordsBounded(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(41, 2)
		h := newHQ(t, b.open(t, b.place(t)), store)
		t1, t2 := store.Tills[0], store.Tills[1]
		line0 := []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 2, Amount: 238, Tax: 16, Rate: 700}}
		cash := []ledger.Tender{{Kind: ledger.Cash, Amount: 238}}
		n := 3 * hq.SpendKeep
		var sales []*ledger.Event
		at := day0
		for range n {
			at++
			sales = append(sales, t1.MustNext(ledgertest.Sale3(), at))
		}
		var refunds []*ledger.Event
		for i, s := range sales {
			at++
			refunds = append(refunds, t2.MustNext(&ledger.Refund{Sale: s.ID(), Currency: "EUR", Staff: "2", Lines: line0, Tenders: cash,
				Grant: &ledger.GrantRef{Owner: t1.ID, N: uint64(i + 1)}}, at))
		}
		upload := func(till ledger.TillID, evs []*ledger.Event, certs bool) {
			t.Helper()
			for lo := 0; lo < len(evs); lo += 100 {
				u := &hqapi.Upload{Fence: 1, Events: raws(evs[lo:min(lo+100, len(evs))])}
				if certs {
					u.Certs = store.EncodedCerts()
				}
				if res, err := h.Ingest(ctx, store.ID, till, u); err != nil || len(res.Rejected) != 0 {
					t.Fatalf("upload: %+v %v", res, err)
				}
			}
		}
		upload(t1.ID, sales, true)
		upload(t2.ID, refunds, true)
		if held := h.SpendRecordsHeld(store.ID); held > hq.SpendKeep {
			t.Fatalf("%d refunded sales: %d records held in memory, want at most %d", n, held, hq.SpendKeep)
		}
		if os := h.Overspends(ctx, &store.ID); len(os) != 0 {
			t.Fatalf("over-spends after one refund each: %+v", os)
		}
		// The first sale's record was dropped; refunding it again reads
		// it back and finds the sale refunded twice over.
		at++
		again := t1.MustNext(&ledger.Refund{Sale: sales[0].ID(), Currency: "EUR", Staff: "1", Lines: line0, Tenders: cash,
			Offline: &ledger.OfflineSpend{Owner: t1.ID, Approver: "3"}}, at)
		upload(t1.ID, []*ledger.Event{again}, false)
		os := h.Overspends(ctx, &store.ID)
		if len(os) != 1 || os[0].Sale != sales[0].ID() || os[0].Over != 238 || len(os[0].Spends) != 2 {
			t.Fatalf("over-spends after the first sale's second refund: %+v", os)
		}
	})
}
