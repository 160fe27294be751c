package receipt

import (
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// A sale with a customer prints the customer's number, and nothing else
// about them.
func TestCustomerNumberPrinted(t *testing.T) {
	till := ledgertest.NewTill(testStore, 7, 3)
	s := testSale()
	s.Customer = "482019376154"
	ev, err := till.Next(s, time.Date(2026, 3, 1, 13, 5, 0, 0, time.UTC).UnixMilli(), "k-1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := FromSale(ev, testInfo())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []Layout{Layout58(), Layout80()} {
		_, doc := render(t, r, l, false)
		if text := doc.Text(); !strings.Contains(text, "Customer 482019376154") {
			t.Errorf("%d columns: no customer line:\n%s", l.Columns, text)
		}
	}
	_, doc := render(t, testReceipt(t), Layout80(), false)
	if strings.Contains(doc.Text(), "Customer") {
		t.Error("a sale without a customer prints a customer line")
	}
}
