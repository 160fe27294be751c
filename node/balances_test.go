package node_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// TestGiftCardsSpentOnce: a gift card sold at till 1 is redeemed by
// nine cashiers on three tills at the same moment; only what its balance
// covers goes through, every till folds the same balance, a sale pays
// from it, and bad input changes nothing. A refund paid out as store
// credit issues it.
func TestGiftCardsSpentOnce(t *testing.T) {
	rs, urls := connectedStore(t, 3)
	price := int64(node.DemoCatalog(10)[2].Price)
	_, receipt := saleOn(t, rs[0], "gc-sale", "10003", 10, rs)
	m1 := login(t, urls[0], "1", "1234")
	card := m1.must(201, "POST", "/api/cards/issue", fmt.Sprintf(`{"idempotency_key":"gc-issue","card":"GC-1001","amount":%d,"sale":%q}`, 10*price, receipt))
	if n(card["balance"]) != 10*price || card["active"] != true || n(card["owner"]) != 1 {
		t.Fatalf("issued card: %v", card)
	}
	if again := m1.must(200, "POST", "/api/cards/issue", fmt.Sprintf(`{"idempotency_key":"gc-issue","card":"GC-1001","amount":%d,"sale":%q}`, 10*price, receipt)); n(again["balance"]) != 10*price {
		t.Fatalf("issue retried: %v", again)
	}
	var clients []*web
	for range 3 {
		for _, u := range urls {
			clients = append(clients, login(t, u, "2", "0000"))
		}
	}
	for i, c := range clients {
		waitFor(t, fmt.Sprintf("the card at client %d's till", i), func() bool { code, _ := c.do("GET", "/api/cards/GC-1001", ""); return code == 200 })
	}
	codes := raceRequests(t, clients, "/api/cards/redeem", func(i int) string {
		return fmt.Sprintf(`{"idempotency_key":"gc-r-%d","card":"GC-1001","amount":%d}`, i, 3*price)
	})
	ok := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			ok++
		case http.StatusBadRequest:
		default:
			t.Fatalf("redemption answered %d (codes %v)", c, codes)
		}
	}
	if ok != 3 {
		t.Fatalf("%d redemptions of %d on a card of %d went through (codes %v), want 3", ok, 3*price, 10*price, codes)
	}
	for i, c := range clients[:3] {
		waitFor(t, fmt.Sprintf("balance %d on till %d", price, i+1), func() bool {
			_, out := c.do("GET", "/api/cards/GC-1001", "")
			return n(out["balance"]) == price && n(out["moves"]) == 4
		})
	}
	// Bad input: nothing changes.
	c2 := clients[1]
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{fmt.Sprintf(`{"idempotency_key":"b1","card":"GC-1001","amount":%d}`, price+1), 400, "left"},
		{`{"idempotency_key":"b2","card":"GC-9999","amount":1}`, 400, "unknown card"},
		{`{"idempotency_key":"b3","card":"GC/1","amount":1}`, 400, "card number"},
		{`{"idempotency_key":"b4","card":"GC-1001","amount":-5}`, 400, "amount"},
	} {
		if code, out := c2.do("POST", "/api/cards/redeem", tc.body); code != tc.code || !strings.Contains(fmt.Sprint(out["error"]), tc.want) {
			t.Fatalf("%s: %d %v, want %d %q", tc.body, code, out, tc.code, tc.want)
		}
	}
	if _, out := c2.do("GET", "/api/cards/GC-1001", ""); n(out["balance"]) != price {
		t.Fatalf("bad input changed the card: %v", out)
	}
	// A sale at till 2 pays the rest by card.
	sale := c2.must(201, "POST", "/api/sales", fmt.Sprintf(`{"idempotency_key":"gc-pay","lines":[{"sku":"10003","qty":1}],"tenders":[{"kind":"gift_card","amount":%d,"ref":"GC-1001"}]}`, price))
	if !strings.Contains(fmt.Sprint(sale["tenders"]), "gift_card") {
		t.Fatalf("sale paid by card: %v", sale)
	}
	if _, out := c2.do("GET", "/api/cards/GC-1001", ""); n(out["balance"]) != 0 {
		t.Fatalf("after the sale: %v", out)
	}
	if code, out := c2.do("POST", "/api/sales", `{"idempotency_key":"gc-pay-2","lines":[{"sku":"10003","qty":1}],"tenders":[{"kind":"gift_card","amount":`+fmt.Sprint(price)+`,"ref":"GC-1001"}]}`); code != 400 {
		t.Fatalf("a sale paid from an empty card: %d %v", code, out)
	}
	// Deactivated: no more issues or redemptions.
	m1.must(201, "POST", "/api/cards/deactivate", `{"idempotency_key":"gc-off","card":"GC-1001"}`)
	waitFor(t, "deactivation at till 2", func() bool { _, out := c2.do("GET", "/api/cards/GC-1001", ""); return out["active"] == false })
	// Store credit: a refund at till 3 pays out as credit on a new card.
	c3 := clients[2]
	_, r2 := saleOn(t, rs[0], "sc-sale", "10003", 2, rs)
	c3.must(201, "POST", "/api/refunds", fmt.Sprintf(`{"idempotency_key":"sc-ref","sale":%q,"lines":[{"line":0,"qty":1}],"tender":"store_credit","ref":"SC-77"}`, r2))
	sc := c3.must(200, "GET", "/api/cards/SC-77", "")
	if n(sc["balance"]) != price || sc["account"] != "store_credit" || n(sc["owner"]) != 3 {
		t.Fatalf("store credit: %v", sc)
	}
	c3.must(201, "POST", "/api/cards/redeem", fmt.Sprintf(`{"idempotency_key":"sc-use","card":"SC-77","amount":%d,"account":"store_credit"}`, price))
}

// TestSaleWithTwoCardsGivesTheFirstBack: a sale paid by two gift cards
// redeems them one by one before it is recorded. When the second fails,
// the first card's redemption is given back (a card issue naming the
// redemption as its source), no sale is recorded, and the cashier hears
// which tender failed. Paid by the first card alone, the sale then goes
// through.
func TestSaleWithTwoCardsGivesTheFirstBack(t *testing.T) {
	rs, urls := connectedStore(t, 1)
	price := int64(node.DemoCatalog(10)[2].Price)
	_, receipt := saleOn(t, rs[0], "gc-src", "10003", 5, rs)
	m := login(t, urls[0], "1", "1234")
	m.must(201, "POST", "/api/cards/issue", fmt.Sprintf(`{"idempotency_key":"gc-a","card":"GC-2001","amount":%d,"sale":%q}`, 2*price, receipt))
	m.must(201, "POST", "/api/cards/issue", fmt.Sprintf(`{"idempotency_key":"gc-b","card":"GC-2002","amount":%d,"sale":%q}`, price/2, receipt))
	sales := func() int64 {
		var k int64
		rs[0].DB().View(func(st *ledger.State) { k = int64(st.Fold().StoreReport().Sales) })
		return k
	}
	before := sales()
	code, out := m.do("POST", "/api/sales", fmt.Sprintf(`{"idempotency_key":"two-cards","lines":[{"sku":"10003","qty":3}],"tenders":[`+
		`{"kind":"gift_card","amount":%d,"ref":"GC-2001"},{"kind":"gift_card","amount":%d,"ref":"GC-2002"}]}`, 2*price, price))
	if code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "tender 2 (card GC-2002)") {
		t.Fatalf("a sale whose second card is short: %d %v", code, out)
	}
	if a := m.must(200, "GET", "/api/cards/GC-2001", ""); n(a["balance"]) != 2*price || n(a["moves"]) != 3 {
		t.Fatalf("the first card after the failed sale: %v (want its balance %d back, in 3 moves: issue, redeem, given back)", a, 2*price)
	}
	if b := m.must(200, "GET", "/api/cards/GC-2002", ""); n(b["balance"]) != price/2 || n(b["moves"]) != 1 {
		t.Fatalf("the second card after the failed sale: %v", b)
	}
	if got := sales(); got != before {
		t.Fatalf("sales %d after the failed sale, want %d", got, before)
	}
	// Paid in full by the first card, the sale goes through.
	m.must(201, "POST", "/api/sales", fmt.Sprintf(`{"idempotency_key":"one-card","lines":[{"sku":"10003","qty":2}],"tenders":[{"kind":"gift_card","amount":%d,"ref":"GC-2001"}]}`, 2*price))
	if a := m.must(200, "GET", "/api/cards/GC-2001", ""); n(a["balance"]) != 0 {
		t.Fatalf("the first card after paying: %v", a)
	}
}

// raceRequests posts one request per client to path, released together.
func raceRequests(t *testing.T, clients []*web, path string, body func(i int) string) []int {
	start := make(chan struct{})
	codes := make([]int, len(clients))
	done := make(chan struct{}, len(clients))
	for i, c := range clients {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			codes[i], _ = c.doNoFatal("POST", path, body(i))
		}()
	}
	close(start)
	for range clients {
		<-done
	}
	return codes
}

// TestCardTenderGated: while a till of a release without card events is
// in the store, a sale paid by gift card (which that release would
// refuse) and a refund paid out as store credit are refused, and nothing
// is written.
func TestCardTenderGated(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	seed(t, a, 5)
	ctx := t.Context()
	waitFor(t, "till 2's kinds at till 1", func() bool {
		k, err := a.Inventory().Kinds(ctx)
		return err == nil && len(k[b.ID().String()]) > 0
	})
	var base []string
	for _, k := range ledger.BaseKinds {
		base = append(base, string(k))
	}
	announce(t, a, b, base)
	before := a.DB().Vector()[a.ID()]
	_, _, err := a.Sell(ctx, ui.SaleRequest{IdempotencyKey: "gated", Lines: []ui.SaleLine{{SKU: "10001", Qty: 1}},
		Tenders: []ledger.Tender{{Kind: ledger.GiftCardTender, Amount: node.DemoCatalog(1)[0].Price, Ref: "GC-1"}}})
	if !errors.Is(err, ui.ErrConflict) || !strings.Contains(err.Error(), "till 2") {
		t.Fatalf("gift card tender with till 2 on an older release: %v", err)
	}
	sale := sell(t, a, "s", "10001", 1)
	_, _, err = a.Record(ctx, &ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "1",
		Lines:   []ledger.RefundLine{{Line: 0, SKU: "10001", Qty: 1}},
		Tenders: []ledger.Tender{{Kind: ledger.StoreCreditTender, Amount: 1, Ref: "SC-1"}}}, "gated-refund")
	if !errors.Is(err, ui.ErrConflict) {
		t.Fatalf("store credit refund with till 2 on an older release: %v", err)
	}
	if got := a.DB().Vector()[a.ID()]; got != before+1 {
		t.Fatalf("till 1 wrote %d events, want only the cash sale", got-before)
	}
}

// TestLoyaltyPoints: a sale naming a customer earns points by the
// store's rule (excluded SKUs earn none), every till folds the same
// points balance, and points are spent once; bad amounts change nothing.
func TestLoyaltyPoints(t *testing.T) {
	rs, urls := connectedStore(t, 2)
	a, b := rs[0], rs[1]
	ctx := t.Context()
	login(t, urls[0], "1", "1234").must(200, "PUT", "/api/settings", `{"loyalty_points_per_unit":2,"loyalty_excluded_skus":"10002, 10009"}`)
	cat := node.DemoCatalog(10)
	req := ui.SaleRequest{Staff: "2", Lines: []ui.SaleLine{{SKU: "10001", Qty: 3}, {SKU: "10002", Qty: 1}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100_000}}}
	sale, err := req.Sale(func(l ui.SaleLine) (ui.Product, error) { return a.Product(ctx, l.SKU) })
	if err != nil {
		t.Fatal(err)
	}
	sale.Customer = "C-42"
	if _, _, err := a.Record(ctx, sale, "loyal-1"); err != nil {
		t.Fatal(err)
	}
	want := ledger.Money(int64(3*cat[0].Price/100) * 2)
	for i, r := range rs {
		waitFor(t, fmt.Sprintf("points at till %d", i+1), func() bool {
			bal, err := r.CardBalance(ctx, "C-42")
			return err == nil && bal.Balance == want && bal.Account == ledger.Points
		})
	}
	redeem := func(key string, amount ledger.Money) error {
		_, _, err := b.Record(ctx, &ledger.CardMove{Card: "C-42", Account: ledger.Points, Op: ledger.CardRedeem,
			Currency: ledger.PointsCurrency, Amount: amount, Staff: "2"}, key)
		return err
	}
	if err := redeem("p-r1", want-1); err != nil {
		t.Fatalf("redeem points: %v", err)
	}
	if err := redeem("p-r2", 2); !errors.Is(err, ledger.ErrOverRedeem) {
		t.Fatalf("redeem above the points balance: %v", err)
	}
	if err := redeem("p-r3", -1); !errors.Is(err, ledger.ErrInvalidBody) {
		t.Fatalf("negative points: %v", err)
	}
	if bal, _ := b.CardBalance(ctx, "C-42"); bal.Balance != 1 || bal.Moves != 2 {
		t.Fatalf("points after bad input: %+v", bal)
	}
	cb := login(t, urls[1], "2", "0000")
	if code, out := cb.do("POST", "/api/cards/redeem", `{"idempotency_key":"p-h1","card":"C-42","amount":1.5,"account":"points"}`); code != 400 {
		t.Fatalf("fractional points: %d %v", code, out)
	}
	if out := cb.must(201, "POST", "/api/cards/redeem", `{"idempotency_key":"p-h2","card":"C-42","amount":1,"account":"points"}`); n(out["balance"]) != 0 || out["account"] != "points" {
		t.Fatalf("points redeemed over HTTP: %v", out)
	}
}

// A customer with loyalty points left is not erased: the points would be
// stranded. Once they are spent, the erasure goes through.
func TestEraseCustomerWithPointsRefused(t *testing.T) {
	rs, urls := connectedStore(t, 1)
	a := rs[0]
	ctx := t.Context()
	login(t, urls[0], "1", "1234").must(200, "PUT", "/api/settings", `{"loyalty_points_per_unit":1}`)
	c, err := a.CreateCustomer(ctx, ui.Customer{Name: "Anna Meier", Phone: "0171 5550101"})
	if err != nil {
		t.Fatal(err)
	}
	req := ui.SaleRequest{Staff: "2", Customer: c.Number, IdempotencyKey: "erase-sale", Lines: []ui.SaleLine{{SKU: "10001", Qty: 5}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100_000}}}
	if _, _, err := a.Sell(ctx, req); err != nil {
		t.Fatal(err)
	}
	var bal ledger.CardBalance
	waitFor(t, "the sale's points", func() bool { bal, err = a.CardBalance(ctx, c.Number); return err == nil && bal.Balance > 0 })
	err = a.EraseCustomer(ctx, c.Number)
	if !errors.Is(err, ui.ErrConflict) || !strings.Contains(err.Error(), "loyalty points") {
		t.Fatalf("erasing a customer with %d points: %v", bal.Balance, err)
	}
	if ie := (*i18n.Error)(nil); !errors.As(err, &ie) || ie.Key != "till.error.customer_points" {
		t.Fatalf("erasing a customer with points: %v, want catalog key till.error.customer_points", err)
	}
	if got, err := a.Customer(ctx, c.Number); err != nil || got.Name != "Anna Meier" {
		t.Fatalf("the refused erasure changed the customer: %+v, %v", got, err)
	}
	if _, _, err := a.Record(ctx, &ledger.CardMove{Card: c.Number, Account: ledger.Points, Op: ledger.CardRedeem,
		Currency: ledger.PointsCurrency, Amount: bal.Balance, Staff: "2"}, "erase-spend"); err != nil {
		t.Fatal(err)
	}
	if err := a.EraseCustomer(ctx, c.Number); err != nil {
		t.Fatalf("erasing once the points are spent: %v", err)
	}
}

// TestRefundTakesPointsBack: a refund of a sale that earned points takes
// back the refunded share, capped at what is left when the customer spent
// some already; a void takes back all a sale earned.
func TestRefundTakesPointsBack(t *testing.T) {
	rs, urls := connectedStore(t, 2)
	a, b := rs[0], rs[1]
	ctx := t.Context()
	login(t, urls[0], "1", "1234").must(200, "PUT", "/api/settings", `{"loyalty_points_per_unit":100}`)
	cat := node.DemoCatalog(10)
	sellTo := func(key string, qty int64) (*ledger.Event, string) {
		req := ui.SaleRequest{Staff: "2", Lines: []ui.SaleLine{{SKU: "10001", Qty: qty}}, Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100_000}}}
		sale, err := req.Sale(func(l ui.SaleLine) (ui.Product, error) { return a.Product(ctx, l.SKU) })
		if err != nil {
			t.Fatal(err)
		}
		sale.Customer = "C-7"
		ev, _, err := a.Record(ctx, sale, key)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the sale at till 2", func() bool { return b.DB().Vector()[a.ID()] >= ev.Seq+1 })
		return ev, receiptNo(a, ev)
	}
	points := func(r *runningTill) ledger.Money {
		bal, err := r.CardBalance(ctx, "C-7")
		if err != nil {
			t.Fatal(err)
		}
		return bal.Balance
	}
	waitPoints := func(what string, want ledger.Money) {
		t.Helper()
		for i, r := range rs {
			waitFor(t, fmt.Sprintf("%s: %d points at till %d", what, want, i+1), func() bool { return points(r) == want })
		}
	}
	unit := int64(cat[0].Price)
	earned := ledger.Money(4 * unit / 100 * 100) // a multiple of 100: a quarter of it is exact
	_, receipt := sellTo("pb-sale", 4)
	waitPoints("earned", earned)

	// One unit of four back, at the other till: a quarter of the points.
	mb := login(t, urls[1], "1", "1234")
	mb.must(201, "POST", "/api/refunds", fmt.Sprintf(`{"idempotency_key":"pb-r1","sale":%q,"lines":[{"line":0,"qty":1}],"tender":"cash"}`, receipt))
	left := earned - earned/4
	waitPoints("a quarter back", left)

	// The customer spends all but 1 point; two more units back take only that 1.
	if _, _, err := b.Record(ctx, &ledger.CardMove{Card: "C-7", Account: ledger.Points, Op: ledger.CardRedeem,
		Currency: ledger.PointsCurrency, Amount: left - 1, Staff: "2"}, "pb-spend"); err != nil {
		t.Fatal(err)
	}
	mb.must(201, "POST", "/api/refunds", fmt.Sprintf(`{"idempotency_key":"pb-r2","sale":%q,"lines":[{"line":0,"qty":2}],"tender":"cash"}`, receipt))
	waitPoints("spent points are not taken below zero", 0)
	for i, r := range rs {
		if over, err := r.CardOverspends(ctx); err != nil || len(over) != 0 {
			t.Fatalf("till %d: card over-spends %+v %v", i+1, over, err)
		}
	}

	// A void takes back all a sale earned.
	_, receipt2 := sellTo("pb-sale-2", 3)
	waitPoints("earned again", ledger.Money(3*unit/100*100))
	mb.must(201, "POST", "/api/voids", fmt.Sprintf(`{"idempotency_key":"pb-v","sale":%q,"reason":"wrong customer"}`, receipt2))
	waitPoints("voided", 0)
}

// TestCardOfAnotherChain: with the chain's card prefixes set, a card
// number of another chain is refused as such (not as "unknown card"), at
// the lookup, the issue, a redemption and store credit, and nothing is
// recorded; a card of this chain already in use keeps working.
func TestCardOfAnotherChain(t *testing.T) {
	rs, urls := connectedStore(t, 1)
	a := rs[0]
	price := int64(node.DemoCatalog(10)[2].Price)
	_, receipt := saleOn(t, a, "ch-sale", "10003", 4, rs)
	m := login(t, urls[0], "1", "1234")
	m.must(201, "POST", "/api/cards/issue", fmt.Sprintf(`{"idempotency_key":"ch-old","card":"OLD-1","amount":%d,"sale":%q}`, price, receipt))
	m.must(200, "PUT", "/api/settings", `{"card_prefixes":"GC-, 604219"}`)
	if s := m.must(200, "GET", "/api/settings", ""); s["card_prefixes"] != "GC-, 604219" {
		t.Fatalf("settings: %v", s)
	}
	before := a.DB().Vector()[a.ID()]
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
	}{
		{"lookup", "GET", "/api/cards/XC-77", "", 404},
		{"issue", "POST", "/api/cards/issue", fmt.Sprintf(`{"idempotency_key":"ch-1","card":"XC-77","amount":%d,"sale":%q}`, price, receipt), 400},
		{"redeem", "POST", "/api/cards/redeem", `{"idempotency_key":"ch-2","card":"XC-77","amount":100}`, 400},
		{"store credit", "POST", "/api/refunds", fmt.Sprintf(`{"idempotency_key":"ch-3","sale":%q,"lines":[{"line":0,"qty":1}],"tender":"store_credit","ref":"XC-78"}`, receipt), 400},
	} {
		code, out := m.do(tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(fmt.Sprint(out["error"]), "card belongs to another chain") {
			t.Errorf("%s: %d %v, want %d and \"card belongs to another chain\"", tc.name, code, out, tc.code)
		}
	}
	if code, out := m.do("GET", "/api/cards/GC-404", ""); code != 404 || !strings.Contains(fmt.Sprint(out["error"]), "unknown card") {
		t.Errorf("unknown card of this chain: %d %v", code, out)
	}
	if after := a.DB().Vector()[a.ID()]; after != before {
		t.Fatalf("refused requests recorded %d events", after-before)
	}
	if out := m.must(200, "GET", "/api/cards/OLD-1", ""); n(out["balance"]) != price {
		t.Fatalf("a card issued before the prefixes: %v", out)
	}
	m.must(201, "POST", "/api/cards/issue", fmt.Sprintf(`{"idempotency_key":"ch-4","card":"GC-9","amount":%d,"sale":%q}`, price, receipt))
}
