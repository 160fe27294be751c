package browsertest_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/ui"
)

// storeWithHQ makes a store of n enrolled tills, an HQ on embedded
// storage that knows it (admin "boss", password "correct horse") and
// serves its dashboard; the tills are not started.
func storeWithHQ(t *testing.T, name string, n int) (*pki.StoreFile, []string, *hq.HQ, string) {
	t.Helper()
	storeDir := t.TempDir()
	store, err := pki.InitStore(storeDir, name)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for i := 1; i <= n; i++ {
		d := t.TempDir()
		if _, err := pki.Enroll(storeDir, d, uint32(i), fmt.Sprintf("Till %d", i), time.Now()); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	st, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger = st, quiet()
	h, err := hq.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Before the storage closes (cleanups run last first): the dashboard's
	// chain report refreshes in the background and must not read a closed
	// Badger.
	t.Cleanup(h.StopRefreshes)
	if err := h.RegisterStore(context.Background(), store.ID, store.Name, store.CA); err != nil {
		t.Fatal(err)
	}
	if err := h.SetPassword(context.Background(), "boss", "correct horse"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return store, dirs, h, srv.URL
}

// runTill starts an enrolled till that relays to HQ at hqURL; stop ends
// it (also at cleanup) so that a test can start it again on its data.
func runTill(t *testing.T, store *pki.StoreFile, dir, hqURL string, peers ...string) (tl *till, stop func()) {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger, cfg.HQ = dir, store, quiet(), hqURL
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.StaticPeers, cfg.MDNS = "127.0.0.1:0", []string{"/ip4/127.0.0.1/tcp/0"}, peers, false
	cfg.SyncInterval = 300 * time.Millisecond
	n, err := node.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		n.Close()
	}
	t.Cleanup(stop)
	waitFor(t, "the till's HTTP server", func() bool { return n.HTTPAddr() != "" })
	return &till{Till: n, url: "http://" + n.HTTPAddr()}, stop
}

// hqCard reads an HQ report card's value by its label.
func hqCard(t *testing.T, p context.Context, label string) string {
	t.Helper()
	v := js[string](t, p, fmt.Sprintf(`(() => { for (const c of document.querySelectorAll('#report-out .card')) { if (c.firstChild.textContent === %q) return c.querySelector('b').textContent } return '' })()`, label))
	if v == "" {
		t.Fatalf("no HQ card %q: %s", label, text(t, p, "#report-out"))
	}
	return v
}

// hqRow reads the cells of the first row of an HQ report table whose
// heading is h3 (By store, By till), as amounts in minor units.
func hqRow(t *testing.T, p context.Context, h3 string) []string {
	t.Helper()
	cells := js[[]string](t, p, fmt.Sprintf(`(() => { for (const h of document.querySelectorAll('#report-out h3')) { if (h.textContent === %q) { const tr = h.nextElementSibling.querySelector('tbody tr'); return tr ? [...tr.cells].map(c => c.textContent) : [] } } return [] })()`, h3))
	if len(cells) == 0 {
		t.Fatalf("no row under %q: %s", h3, text(t, p, "#report-out"))
	}
	return cells
}

// TestADayAtTheCounter walks a day as a person does it, in the browser:
// open the shift, sell twice (cash, then card), clear a cart, take cash
// out, refund part of the first sale by its receipt number, close the
// shift counting the drawer, read the Z, the reports page, and HQ. Every
// figure the person sees must agree with every other, to the cent, and
// the receipt numbers run 1-1, 1-2, 1-3 although shift, cash, stock and
// cleared-cart events lie between.
func TestADayAtTheCounter(t *testing.T) {
	path := chromiumOrSkip(t)
	ctx := t.Context()
	store, dirs, h, hqURL := storeWithHQ(t, "Corner Shop", 1)
	a, _ := runTill(t, store, dirs[0], hqURL)
	cat := node.DemoCatalog(6)
	var lines []ledger.StockLine
	for _, p := range cat {
		if err := a.Inventory().PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
		if p.Unit != ledger.Kilogram {
			lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: 50})
		}
	}
	if _, _, err := a.Record(ctx, &ledger.StockReceive{Lines: lines, Staff: "1"}, "opening"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddStaff(ctx, "1", "Maria Manager", ui.RoleManager, "1234"); err != nil {
		t.Fatal(err)
	}
	if err := a.PutSetting(ctx, ui.SettingScanGap, "300"); err != nil {
		t.Fatal(err)
	}
	var each []int
	for i, p := range cat {
		if p.Unit != ledger.Kilogram {
			each = append(each, i)
		}
	}
	br := newBrowser(t, path)
	p := br.page("till 1")
	login(t, p, a.url, "1", "1234")

	// Open the shift with a 100.00 float.
	openShift(t, p, "100.00")

	// sell scans the items and pays: cash (given, or the total) or card.
	sell := func(card bool, items ...int) (receipt string, total int64) {
		t.Helper()
		seen := map[int]bool{}
		for _, i := range items {
			seen[i] = true
			wedge(t, p, cat[i].Barcodes[0])
			until(t, p, "item in the cart", fmt.Sprintf(`document.querySelectorAll('#cart-lines tr').length === %d`, len(seen)))
		}
		until(t, p, "every item in the cart", fmt.Sprintf(`[...document.querySelectorAll('#cart-lines tr td:nth-child(3)')].reduce((a, c) => a + parseInt(c.textContent, 10), 0) === %d`, len(items)))
		total = cents(t, text(t, p, "#t-total"))
		do(t, p, "pay", chromedp.Click("#btn-pay"), chromedp.WaitVisible("#tender-amount"))
		setInput(t, p, "#tender-amount", fmt.Sprintf("%d.%02d", total/100, total%100))
		button := "#pay-cash"
		if card {
			button = "#pay-card"
		}
		do(t, p, "tender", chromedp.Click(button))
		until(t, p, "the receipt", `!document.querySelector('#view-receipt').hidden && document.querySelector('#receipt-number').textContent !== ''`)
		receipt = text(t, p, "#receipt-number")
		do(t, p, "next sale", chromedp.Click("#btn-new-sale"), chromedp.WaitVisible("#view-sale"))
		return receipt, total
	}
	r1, cashSale := sell(false, each[0], each[1], each[1])
	// A cart cleared: it leaves a trace, and no receipt number.
	wedge(t, p, cat[each[2]].Barcodes[0])
	until(t, p, "item to clear", `document.querySelectorAll('#cart-lines tr').length === 1`)
	clearedValue := cents(t, text(t, p, "#t-total"))
	do(t, p, "clear", chromedp.Click("#btn-clear"))
	dialog(t, p, "Clear the sale?")
	setInput(t, p, `#dlg input[name=reason]`, "customer left")
	do(t, p, "confirm clear", chromedp.Click("#dlg-ok"))
	until(t, p, "clear recorded", `document.querySelector('#sale-msg').textContent === 'Sale cleared (recorded)' && document.querySelectorAll('#cart-lines tr').length === 0`)
	r2, cardSale := sell(true, each[3])

	// 20.00 out of the drawer to the bank.
	nav(t, p, "cash")
	setInput(t, p, "#cash-amount", "20.00")
	setInput(t, p, "#cash-reason", "bank")
	do(t, p, "cash out", chromedp.Click("#cash-out-btn"))
	until(t, p, "cash out recorded", `document.querySelector('#cash-msg').textContent.startsWith('Cash out')`)

	// Refund one of the two items of the first sale, typing its number.
	nav(t, p, "refund")
	setInput(t, p, "#refund-ref", r1)
	js[bool](t, p, `(document.querySelector('#refund-find').requestSubmit(), true)`)
	until(t, p, "the first sale", fmt.Sprintf(`(document.querySelector('#refund-sale h3') || {textContent: ''}).textContent.startsWith('Sale %s ')`, r1))
	refunded := cents(t, text(t, p, `#refund-sale tbody tr:nth-child(2) td:nth-child(4)`)) / 2
	setInput(t, p, `#refund-sale input.pick[data-line="1"]`, "1")
	until(t, p, "refund preview", fmt.Sprintf(`parseInt(document.querySelector('#refund-total').textContent.replace(/[^0-9]/g, ''), 10) === %d`, refunded))
	do(t, p, "refund", chromedp.Click("#refund-btn"))
	until(t, p, "refund recorded", `document.querySelector('#refund-msg').textContent.includes('recorded')`)
	r3 := strings.TrimSuffix(strings.Fields(text(t, p, "#refund-result"))[1], ":")
	if r1 != "1-1" || r2 != "1-2" || r3 != "1-3" {
		t.Fatalf("receipt numbers %s, %s, %s; want 1-1, 1-2, 1-3 (the shift, cash, stock and cleared cart take none)", r1, r2, r3)
	}

	// Close the shift, counting exactly what the drawer should hold.
	expected := 10000 + cashSale - refunded - 2000
	nav(t, p, "shift")
	do(t, p, "close shift", chromedp.WaitVisible("#shift-close-start"), chromedp.Click("#shift-close-start"), chromedp.WaitVisible("#denoms input"))
	left := expected
	var counts []string
	for _, v := range []int64{50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1} {
		counts = append(counts, fmt.Sprint(left/v))
		left %= v
	}
	js[bool](t, p, fmt.Sprintf(`(() => { const c = %q.split(','); document.querySelectorAll('#denoms input').forEach((e, i) => { e.value = c[i]; e.dispatchEvent(new Event('input')) }); return true })()`, strings.Join(counts, ",")))
	do(t, p, "close", chromedp.Click("#shift-close-btn"))
	dialog(t, p, "Close the shift?")
	do(t, p, "confirm close", chromedp.Click("#dlg-ok"))
	until(t, p, "Z report", `document.querySelector('#z-report').textContent.includes('Z report')`)
	sales, kept := cashSale+cardSale, cashSale+cardSale-refunded
	want := map[string]int64{"Sales (2)": sales, "Refunds (1)": -refunded, "Total kept": kept, "Float": 10000,
		"Cash out": -2000, "Cash expected": expected, "Cash counted": expected, "Carts cleared (1)": clearedValue,
		"by Maria Manager (1)": clearedValue}
	for label, w := range want {
		if got := reportLine(t, p, "#z-report", label); got != w {
			t.Errorf("Z report %s: %d, want %d", label, got, w)
		}
	}
	br.shot(p, "day-z")

	// The reports page: the store is this one till, all in the shift.
	nav(t, p, "reports")
	until(t, p, "store report", `document.querySelectorAll('#rep-store .l').length > 5`)
	for label, w := range want {
		if label == "Cash counted" {
			continue // a shift's figure
		}
		if got := reportLine(t, p, "#rep-store", label); got != w {
			t.Errorf("reports page %s: %d, want %d (the Z says so)", label, got, w)
		}
	}
	if row := js[[]string](t, p, `[...document.querySelectorAll('#rep-tills tr:first-child td')].map(c => c.textContent)`); len(row) < 3 || row[1] != "2" || cents(t, row[2]) != kept {
		t.Errorf("reports page's till row %v, want 2 sales, %d kept", row, kept)
	}

	// HQ, once the relay has sent the day.
	var last uint64
	a.View(func(s *ledger.State) { last, _, _ = s.Head(a.ID()) })
	waitFor(t, "the day at HQ", func() bool { return h.Vector(store.ID)[a.ID()] == last })
	ph := br.page("hq")
	do(t, ph, "open HQ", chromedp.Navigate(hqURL), chromedp.WaitVisible("#login-form"))
	loginHQ(t, ph)
	do(t, ph, "stores", chromedp.Click(`#nav button[data-tab=stores]`), chromedp.WaitVisible("#store-table"))
	until(t, ph, "the store", `document.querySelectorAll('#store-table tr.clickable').length === 1`)
	clickStoreRow(t, ph)
	until(t, ph, "till 1's last receipt", `document.querySelector('#store-detail td.last-receipt') && document.querySelector('#store-detail td.last-receipt').textContent === '1-3'`)
	do(t, ph, "reports", chromedp.Click(`#nav button[data-tab=reports]`))
	until(t, ph, "HQ report", `document.querySelectorAll('#report-out .card').length > 5`)
	for label, w := range map[string]int64{"Sales total": sales, "Total kept": kept} {
		if got := cents(t, hqCard(t, ph, label)); got != w {
			t.Errorf("HQ card %s: %d, want %d", label, got, w)
		}
	}
	if got := hqCard(t, ph, "Sales"); got != "2" {
		t.Errorf("HQ card Sales: %s, want 2", got)
	}
	for label, w := range map[string][2]int64{"Refunds": {1, refunded}, "Cleared carts": {1, clearedValue}} {
		n, v, _ := strings.Cut(hqCard(t, ph, label), " / ")
		if n != fmt.Sprint(w[0]) || cents(t, v) != w[1] {
			t.Errorf("HQ card %s: %s / %s, want %d / %d", label, n, v, w[0], w[1])
		}
	}
	// By store and by till: sales, sales total, refunds and voids, kept.
	for _, row := range [][]string{hqRow(t, ph, "By store"), hqRow(t, ph, "By till")[1:]} {
		if row[1] != "2" || cents(t, row[2]) != sales || cents(t, row[3]) != refunded || cents(t, row[4]) != kept {
			t.Errorf("HQ row %v, want 2 sales, %d, %d, %d", row, sales, refunded, kept)
		}
	}
	cleared := hqRow(t, ph, "Cleared carts by cashier")
	if cleared[0] != "Maria Manager" && cleared[0] != "staff 1" || cleared[1] != "1" || cents(t, cleared[2]) != clearedValue {
		t.Errorf("HQ cleared carts by cashier %v, want staff 1: 1, %d", cleared, clearedValue)
	}
	br.shot(ph, "day-hq")
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestReceiptNumbersAcrossTillsAndHQ: two tills interleave shift opens,
// cash movements, stock events and cleared carts with their sales and a
// refund across tills; each till's receipts are numbered 1..N without
// gaps, and every till and HQ give every event the same number, also
// after a till restarts from its checkpoint.
func TestReceiptNumbersAcrossTillsAndHQ(t *testing.T) {
	ctx := t.Context()
	store, dirs, h, hqURL := storeWithHQ(t, "Two Tills", 2)
	a, stopA := runTill(t, store, dirs[0], hqURL)
	b, _ := runTill(t, store, dirs[1], hqURL, a.Host().Addrs()[0].String())
	cat := node.DemoCatalog(4)
	for _, p := range cat {
		if err := a.Inventory().PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AddStaff(ctx, "1", "Maria Manager", ui.RoleManager, "1234"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the catalog at till 2", func() bool { _, err := b.Product(ctx, cat[3].SKU); return err == nil })
	sell := func(tl *till, key string) *ledger.Event {
		t.Helper()
		ev, _, err := tl.Sell(ctx, ui.SaleRequest{IdempotencyKey: key, Staff: "1",
			Lines: []ui.SaleLine{{SKU: cat[0].SKU, Qty: 2}}, Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 10000}}})
		if err != nil {
			t.Fatalf("sale %s: %v", key, err)
		}
		return ev
	}
	record := func(tl *till, body ledger.Body, key string) {
		t.Helper()
		if _, _, err := tl.Record(ctx, body, key); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	var firstSale *ledger.Event
	for i, tl := range []*till{a, b} {
		record(tl, &ledger.ShiftOpen{Currency: "EUR", Float: 5000, Staff: "1"}, fmt.Sprint("open", i))
		for j := range 4 {
			ev := sell(tl, fmt.Sprintf("sale-%d-%d", i, j))
			if firstSale == nil {
				firstSale = ev
			}
			record(tl, &ledger.CashIn{Currency: "EUR", Amount: 100, Reason: "change", Staff: "1"}, fmt.Sprintf("in-%d-%d", i, j))
			record(tl, &ledger.StockReceive{Lines: []ledger.StockLine{{SKU: cat[1].SKU, Qty: 2}}, Staff: "1"}, fmt.Sprintf("recv-%d-%d", i, j))
		}
		record(tl, &ledger.CashOut{Currency: "EUR", Amount: 300, Reason: "bank", Staff: "1"}, fmt.Sprint("out", i))
	}
	// Till 2 refunds a line of till 1's first sale: its own number.
	waitFor(t, "till 1's sale at till 2", func() bool {
		var ok bool
		b.View(func(s *ledger.State) { _, _, _, ok = s.Fold().Sale(firstSale.ID()) })
		return ok
	})
	var lines []ledger.RefundLine
	var err error
	b.View(func(s *ledger.State) {
		lines, err = s.Fold().RefundLines(firstSale.ID(), []ledger.Pick{{Line: 0, Qty: 1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	record(b, &ledger.Refund{Sale: firstSale.ID(), Currency: "EUR", Lines: lines, Staff: "1",
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}, "refund")
	want := map[ledger.TillID]uint64{a.ID(): 4, b.ID(): 5}

	// numbers reads every event's number at one till, checking 1..N.
	numbers := func(tl *till, where string) map[ledger.TillID][]string {
		t.Helper()
		out := map[ledger.TillID][]string{}
		for _, src := range []*till{a, b} {
			var head uint64
			tl.View(func(s *ledger.State) { head, _, _ = s.Head(src.ID()) })
			var n uint64
			for seq := uint64(1); seq <= head; seq++ {
				ev, err := tl.Event(src.ID(), seq)
				if err != nil {
					t.Fatal(err)
				}
				var got uint64
				var ok bool
				tl.View(func(s *ledger.State) { got, ok = s.ReceiptNumber(src.ID(), seq) })
				if ledger.IsReceiptKind(ev.Kind()) {
					n++
				}
				if ledger.IsReceiptKind(ev.Kind()) != ok || (ok && got != n) {
					t.Fatalf("%s: till %d seq %d (%s) has number %d %v, want %d", where, src.Number(), seq, ev.Kind(), got, ok, n)
				}
				r := ""
				if ok {
					r = ledger.ReceiptNo(src.Number(), got)
				}
				out[src.ID()] = append(out[src.ID()], r)
			}
			if n != want[src.ID()] {
				t.Fatalf("%s: till %d has %d receipts, want %d", where, src.Number(), n, want[src.ID()])
			}
		}
		return out
	}
	var vec ledger.Vector
	waitFor(t, "both tills and HQ hold every event", func() bool {
		vec = a.DB().Vector()
		return vec.Equal(b.DB().Vector()) && vec.Equal(h.Vector(store.ID))
	})
	atA := numbers(a, "till 1")
	atB := numbers(b, "till 2")
	if fmt.Sprint(atA) != fmt.Sprint(atB) {
		t.Fatalf("till 1 numbers\n%v\ntill 2 numbers\n%v", atA, atB)
	}
	v, _ := h.Store(store.ID)
	for _, tv := range v.Tills {
		if tv.Receipts != want[tv.Till] || tv.LastReceipt != ledger.ReceiptNo(tv.Number, want[tv.Till]) {
			t.Errorf("HQ: till %d: %d receipts, last %q; want %d", tv.Number, tv.Receipts, tv.LastReceipt, want[tv.Till])
		}
	}
	// Till 1 restarts: from its checkpoint (stored at close) and nothing
	// above it; then sells on.
	stopA()
	a2, _ := runTill(t, store, dirs[0], hqURL, b.Host().Addrs()[0].String())
	if again := numbers(a2, "till 1 after a restart"); fmt.Sprint(again) != fmt.Sprint(atA) {
		t.Fatalf("after a restart\n%v\nwant\n%v", again, atA)
	}
	ev := sell(a2, "after-restart")
	var n uint64
	a2.View(func(s *ledger.State) { n, _ = s.ReceiptNumber(ev.Till, ev.Seq) })
	if n != 5 {
		t.Fatalf("the first sale after the restart is number %d, want 5", n)
	}
}
