package hq_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// TestReceiptsAndClearedCartsAtHQ: two tills interleave shift, cash,
// stock and cleared-cart events with their sales; HQ numbers each till's
// receipts as the tills do (its last receipt is the count of sales,
// refunds and voids, not the seq) and reports the cleared carts by
// cashier, the same after a restart (both backends).
func TestReceiptsAndClearedCartsAtHQ(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(70, 2)
		place := b.place(t)
		st := b.open(t, place)
		h := newHQ(t, st, store)
		want := map[ledger.TillID]uint64{}
		line := ledgertest.Sale3().Lines[0]
		for i, till := range store.Tills {
			var evs []*ledger.Event
			at := day0 + int64(i)*1000
			next := func(body ledger.Body) {
				evs = append(evs, till.MustNext(body, at+int64(len(evs))*10))
				if ledger.IsReceiptKind(body.Kind()) {
					want[till.ID]++
				}
			}
			next(&ledger.ShiftOpen{Currency: "EUR", Float: 1000, Staff: "1"})
			for j := range 5 + i {
				next(ledgertest.Sale3())
				next(&ledger.CashIn{Currency: "EUR", Amount: 100, Reason: "float", Staff: "1"})
				next(&ledger.StockReceive{Lines: []ledger.StockLine{{SKU: line.SKU, Qty: 3}}, Staff: "1"})
				if j%2 == 0 {
					next(&ledger.CartCleared{Currency: "EUR", Lines: []ledger.Line{line}, Total: 250, Staff: string(rune('2' + i)), Reason: "customer left"})
				}
			}
			res, err := h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: uint64(1 + i), Events: raws(evs), Certs: store.EncodedCerts()})
			if err != nil || res.Accepted != len(evs) {
				t.Fatalf("ingest till %d: %+v %v", i+1, res, err)
			}
		}
		check := func(when string, h *hq.HQ) {
			t.Helper()
			v, _ := h.Store(store.ID)
			for _, tv := range v.Tills {
				if tv.Receipts != want[tv.Till] || tv.LastReceipt != ledger.ReceiptNo(tv.Number, want[tv.Till]) || tv.Seq <= tv.Receipts {
					t.Errorf("%s: till %d: %d receipts, last %q at seq %d; want %d", when, tv.Number, tv.Receipts, tv.LastReceipt, tv.Seq, want[tv.Till])
				}
			}
			rep := h.Report(hq.Query{})
			if rep.Total.Cleared != 6 || rep.Total.ClearedValue != 1500 || rep.Total.ClearedBy["2"].Count != 3 || rep.Total.ClearedBy["3"].Count != 3 {
				t.Errorf("%s: cleared carts %d worth %d, by %+v", when, rep.Total.Cleared, rep.Total.ClearedValue, rep.Total.ClearedBy)
			}
			if rep.Total.Sales != 11 {
				t.Errorf("%s: %d sales, want 11", when, rep.Total.Sales)
			}
			for _, ts := range rep.Tills {
				if ts.Report.Cleared != 3 {
					t.Errorf("%s: till %d: %d cleared carts, want 3", when, ts.Number, ts.Report.Cleared)
				}
			}
		}
		check("after ingest", h)
		st.Close()
		st = b.open(t, place)
		check("after a restart", newHQ(t, st))
	})
}

// HQ's stock names each product and gives a weighed one's unit (issue
// 18, item 8: the Name column was empty and 50000 showed without "kg").
func TestHQStockNamesAndUnits(t *testing.T) {
	ctx := t.Context()
	store := hqtest.NewStore(71, 1)
	st, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := newHQ(t, st, store)
	apples := hqapi.Product{SKU: "30001", Name: "Apples", Price: 299, Currency: "EUR", TaxRate: 700, Unit: "kg"}
	tea := hqapi.Product{SKU: "10003", Name: "Tea small", Price: 249, Currency: "EUR", TaxRate: 700, Unit: "ea"}
	if err := h.PutStoreCatalog(ctx, store.ID, hqapi.StoreCatalog{Products: []hqapi.Product{apples, tea}, At: 1}); err != nil {
		t.Fatal(err)
	}
	till := store.Tills[0]
	ev := till.MustNext(&ledger.StockReceive{Lines: []ledger.StockLine{{SKU: "30001", Qty: 50_000}, {SKU: "10003", Qty: 12}}, Staff: "1"}, day0)
	if _, err := h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: 1, Events: raws([]*ledger.Event{ev}), Certs: store.EncodedCerts()}); err != nil {
		t.Fatal(err)
	}
	got, err := h.Stock(ctx, &store.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]hq.StockLevel{"30001": {Name: "Apples", Unit: "kg", Qty: 50_000}, "10003": {Name: "Tea small", Unit: "ea", Qty: 12}}
	if len(got) != 2 {
		t.Fatalf("stock %+v", got)
	}
	for _, l := range got {
		if w := want[l.SKU]; l.Name != w.Name || l.Unit != w.Unit || l.Qty != w.Qty {
			t.Errorf("stock of %s: %+v, want %+v", l.SKU, l, w)
		}
	}
}
