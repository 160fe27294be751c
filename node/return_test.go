package node_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
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
		return err == nil && len(k[b.ID().String()]) >= len(ledger.Kinds)
	})
	ret := &ledger.Return{Currency: "EUR", TaxIncluded: true, Reason: "no receipt", Staff: "1", Approver: "1",
		Lines:   []ledger.Line{{SKU: "10001", Name: "Milk", Qty: 2, UnitPrice: 49, TaxRate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 98}}}
	// Till 2 announces an older release's kinds.
	var base []string
	for _, k := range ledger.BaseKinds {
		base = append(base, string(k))
	}
	announce(t, a, b, base)
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
	announce(t, a, b, all)
	if _, _, err := a.Record(ctx, ret, "ret-1"); err != nil {
		t.Fatalf("a return once every till knows the kind: %v", err)
	}
	waitFor(t, "the returned goods in stock", func() bool {
		st, err := a.Stock(ctx, "10001")
		return err == nil && st.Total == 102
	})
}

// A return without a receipt, and the difference an exchange gives
// back, can go to store credit as a refund's does: the return issues
// the credit on the card named, every till folds the same balance, and
// a store_credit return without a card is refused with nothing recorded.
func TestReturnToStoreCredit(t *testing.T) {
	rs, urls := connectedStore(t, 2)
	cat := node.DemoCatalog(10)
	m := login(t, urls[0], "1", "1234")
	before := rs[0].DB().Vector()[rs[0].ID()]
	if code, out := m.do("POST", "/api/returns", `{"idempotency_key":"sc-r0","lines":[{"sku":"10003","qty":1}],"reason":"no receipt","tender":"store_credit"}`); code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "which card") {
		t.Fatalf("store credit without a card: %d %v", code, out)
	}
	if rs[0].DB().Vector()[rs[0].ID()] != before {
		t.Fatal("a refused return recorded an event")
	}
	ret := m.must(201, "POST", "/api/returns", `{"idempotency_key":"sc-r1","lines":[{"sku":"10003","qty":2}],"reason":"no receipt","tender":"store_credit","ref":"SC-501"}`)
	if ts := fmt.Sprint(ret["body"]); !strings.Contains(ts, "store_credit") || !strings.Contains(ts, "SC-501") {
		t.Fatalf("return to store credit: %v", ret)
	}
	want := 2 * int64(cat[2].Price)
	for i, u := range urls {
		c := login(t, u, "2", "0000")
		waitFor(t, fmt.Sprintf("the store credit at till %d", i+1), func() bool {
			code, out := c.do("GET", "/api/cards/SC-501", "")
			return code == 200 && n(out["balance"]) == want && out["account"] == "store_credit" && n(out["owner"]) == 1
		})
	}
	// An exchange down: the dearer of two products back, the cheaper
	// taken; the difference goes on SC-502.
	hi, lo := cat[2], cat[0]
	if hi.Price < lo.Price {
		hi, lo = lo, hi
	}
	m.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"sku":%q}`, lo.SKU))
	out := m.must(201, "POST", "/api/exchanges", fmt.Sprintf(`{"idempotency_key":"sc-x1","lines":[{"sku":%q,"qty":1}],"reason":"changed mind","tender":"store_credit","ref":"SC-502"}`, hi.SKU))
	diff := int64(hi.Price - lo.Price)
	if n(out["difference"]) != -diff {
		t.Fatalf("exchange: %v", out)
	}
	if sc := m.must(200, "GET", "/api/cards/SC-502", ""); n(sc["balance"]) != diff || sc["account"] != "store_credit" {
		t.Fatalf("exchange difference as store credit: %v", sc)
	}
	m.must(201, "POST", "/api/cards/redeem", fmt.Sprintf(`{"idempotency_key":"sc-use","card":"SC-502","amount":%d,"account":"store_credit"}`, diff))
}
