package hw_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// waitFor polls cond until it holds (testkit.WaitFor).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 10*time.Second, cond)
}

// fastBackoff keeps reconnect tests quick.
var fastBackoff = hw.Backoff{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond}

// fastTimeouts keep no-reply tests quick.
var fastTimeouts = hw.Timeouts{Open: time.Second, Write: 300 * time.Millisecond, Status: 100 * time.Millisecond}

var testTill = ledgertest.NewTill(ledger.StoreID{7}, 3, 4)

// saleReceipt signs a one-line cash sale and returns its receipt.
func saleReceipt(t testing.TB, name string) receipt.Receipt {
	t.Helper()
	s := &ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "anna",
		Lines:   []ledger.Line{{SKU: "1", Name: name, Qty: 1, UnitPrice: 250, TaxRate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 500}}, Change: 250}
	ev, err := testTill.Next(s, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()+int64(testTill.Seq), fmt.Sprint("k", testTill.Seq))
	if err != nil {
		t.Fatal(err)
	}
	r, err := receipt.FromSale(ev, receipt.Info{Store: "Test Store", Number: 4, Receipt: ev.Seq}) // every event here is a sale
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// render lays out r for a default 80 mm printer.
func render(t testing.TB, r receipt.Receipt, reprint bool) hw.Job {
	t.Helper()
	p, err := receipt.Render(r, receipt.Layout80(), reprint)
	if err != nil {
		t.Fatal(err)
	}
	return hw.Job{Segments: p.Segments}
}
