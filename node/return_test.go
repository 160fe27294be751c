package node_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// A return without a receipt is a kind the first release does not know:
// while a till of the store runs an older release it is refused, naming
// that till, and nothing is recorded; once every till knows it, it is
// recorded and its goods are back in stock.
func TestReturnKindIsGated(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	seed(t, a, 2)
	ctx := t.Context()
	waitFor(t, "till 1 to see till 2's announced kinds", func() bool {
		k, err := a.Inventory().Kinds(ctx)
		return err == nil && len(k[b.ID().String()]) == len(ledger.Kinds)
	})
	ret := &ledger.Return{Currency: "EUR", TaxIncluded: true, Reason: "no receipt", Staff: "1", Approver: "1",
		Lines:   []ledger.Line{{SKU: "10001", Name: "Milk", Qty: 2, UnitPrice: 49, TaxRate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 98}}}
	// Till 2 announces an older release's kinds.
	var base []string
	for _, k := range ledger.BaseKinds {
		base = append(base, string(k))
	}
	if err := a.Inventory().PutKinds(ctx, b.ID().String(), base); err != nil {
		t.Fatal(err)
	}
	before := a.DB().Vector()[a.ID()]
	if _, _, err := a.Record(ctx, ret, "ret-1"); !errors.Is(err, ui.ErrConflict) || !strings.Contains(err.Error(), "till 2") {
		t.Fatalf("a return with till 2 on an older release: %v", err)
	}
	if a.DB().Vector()[a.ID()] != before {
		t.Fatal("a refused return was recorded")
	}
	var all []string
	for _, k := range ledger.Kinds {
		all = append(all, string(k))
	}
	if err := a.Inventory().PutKinds(ctx, b.ID().String(), all); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Record(ctx, ret, "ret-1"); err != nil {
		t.Fatalf("a return once every till knows the kind: %v", err)
	}
	waitFor(t, "the returned goods in stock", func() bool {
		st, err := a.Stock(ctx, "10001")
		return err == nil && st.Total == 102
	})
}
