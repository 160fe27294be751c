package receipt

import (
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// A sale paid partly by gift card prints the balance left on the card
// under its tender; a card the till did not pass a balance for, and a
// sale without a card, print no such line.
func TestCardBalanceLeftPrinted(t *testing.T) {
	till := ledgertest.NewTill(testStore, 7, 3)
	s := testSale()
	s.Tenders[0] = ledger.Tender{Kind: ledger.GiftCardTender, Amount: 1000, Ref: "GC-1001"}
	ev, err := till.Next(s, time.Date(2026, 3, 1, 13, 5, 0, 0, time.UTC).UnixMilli(), "k-1")
	if err != nil {
		t.Fatal(err)
	}
	info := testInfo()
	info.CardLeft = map[string]ledger.Money{"GC-1001": 1250}
	r, err := FromSale(ev, info)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []Layout{Layout58(), Layout80()} {
		_, doc := render(t, r, l, false)
		if text := doc.Text(); !strings.Contains(text, "Gift card GC-1001: €12.50 left") {
			t.Errorf("%d columns: no balance line:\n%s", l.Columns, text)
		}
	}
	r, err = FromSale(ev, testInfo())
	if err != nil {
		t.Fatal(err)
	}
	if _, doc := render(t, r, Layout80(), false); strings.Contains(doc.Text(), " left") {
		t.Errorf("a card without a known balance prints a balance line:\n%s", doc.Text())
	}
}
