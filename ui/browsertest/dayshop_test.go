package browsertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/ui"
)

// startTillWith runs an enrolled till with simulated devices (scale,
// serial scanner, printer).
func startTillWith(t *testing.T, store *pki.StoreFile, dir string, set *sim.Set, peers ...string) *till {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = dir, store, quiet()
	cfg.Sim, cfg.HW.Devices = set, set.Devices()
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.StaticPeers, cfg.MDNS = "127.0.0.1:0", []string{"/ip4/127.0.0.1/tcp/0"}, peers, false
	cfg.SyncInterval = 300 * time.Millisecond
	tl, err := node.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		tl.Close()
	})
	waitFor(t, "the till's HTTP server", func() bool { return tl.HTTPAddr() != "" })
	return &till{Till: tl, url: "http://" + tl.HTTPAddr()}
}

func gtin(t *testing.T, payload string) string {
	t.Helper()
	c, err := basket.CheckDigit(payload)
	if err != nil {
		t.Fatal(err)
	}
	return payload + string(c)
}

// A cashier's day across two tills, as clicked: a price override a
// supervisor approves, an item weighed on the scale, a price-embedded
// label and a serial scan, the sale parked at till 1 and resumed and paid
// at till 2, then the manager's day close.
func TestCashiersDayInTheBrowser(t *testing.T) {
	path := chromiumOrSkip(t)
	store, dirs := enrolledStore(t, "Corner Shop", "Till 1", "Till 2")
	set := sim.NewSet()
	a := startTillWith(t, store, dirs[0], set)
	b := startTill(t, store, dirs[1], a.Host().Addrs()[0].String())
	ctx := t.Context()
	cat := node.DemoCatalog(4)
	apples := crdt.Product{SKU: "A1", Name: "Apples loose", Price: 299, Currency: "EUR", TaxRate: 700, Unit: ledger.Kilogram,
		Barcodes: []string{gtin(t, "400000999999"), gtin(t, "280012300000"), gtin(t, "210012300000")}}
	for _, p := range append(cat, apples) {
		if err := a.Inventory().PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct {
		id, name, pin string
		role          ui.Role
	}{{"1", "Maria Manager", "1234", ui.RoleManager}, {"2", "Carl Cashier", "0000", ui.RoleCashier}, {"3", "Sue Supervisor", "3333", ui.RoleSupervisor}} {
		if err := a.AddStaff(ctx, s.id, s.name, s.role, s.pin); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.PutSetting(ctx, ui.SettingScanGap, "300"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "catalog and staff on till 2", func() bool {
		_, err := b.Authenticate(ctx, "3", "3333")
		_, err2 := b.Product(ctx, "A1")
		return err == nil && err2 == nil
	})

	br := newBrowser(t, path)
	pa, pb := br.page("till 1"), br.page("till 2")
	login(t, pa, a.url, "2", "0000")
	openShift(t, pa, "100.00")

	// A price override: the cashier asks, a supervisor approves.
	wedge(t, pa, cat[0].Barcodes[0])
	until(t, pa, "first item", `document.querySelectorAll('#cart-lines tr').length === 1`)
	do(t, pa, "price override", chromedp.Click("#btn-price"))
	dialog(t, pa, "Price of "+cat[0].Name)
	setInput(t, pa, `#dlg input[name=price]`, "0.40") // within the 20% a supervisor may cut
	setInput(t, pa, `#dlg input[name=reason]`, "dented tin")
	do(t, pa, "set price", chromedp.Click("#dlg-ok"))
	dialog(t, pa, "Manager approval")
	setInput(t, pa, `#dlg input[name=m]`, "3")
	setInput(t, pa, `#dlg input[name=p]`, "3333")
	do(t, pa, "approve", chromedp.Click("#dlg-ok"))
	dialogClosed(t, pa)
	if ln := text(t, pa, "#cart-lines tr:nth-child(1)"); !strings.Contains(ln, "was") || !strings.Contains(ln, "dented tin") {
		t.Fatalf("overridden line on screen: %q", ln)
	}

	// Apples on the scale: scanning them reads 0.750 kg.
	set.Scale.Set(750, true)
	wedge(t, pa, apples.Barcodes[0])
	until(t, pa, "weighed apples", `document.querySelectorAll('#cart-lines tr').length === 2 && document.querySelector('#cart-lines tr:nth-child(2)').textContent.includes('0.750')`)
	// More apples on the scale: the line follows it live (the "weight"
	// event), no Weigh click; taken off, it stops following.
	set.Scale.Set(900, true)
	until(t, pa, "the apples' weight live", `document.querySelector('#cart-lines tr:nth-child(2)').textContent.includes('0.900') && document.querySelector('#cart-lines tr:nth-child(2)').classList.contains('on-scale')`)
	set.Scale.Set(0, true)
	until(t, pa, "the apples taken off the scale", `document.querySelector('#cart-lines tr:nth-child(2)').classList.contains('on-scale') === false`)
	set.Scale.Set(400, true)
	until(t, pa, "the page told 400 g", `document.querySelector('#cart-lines').dataset.scale === '400'`)
	if ln := text(t, pa, "#cart-lines tr:nth-child(2)"); !strings.Contains(ln, "0.900") {
		t.Fatalf("a line taken off the scale followed the next weight: %q", ln)
	}
	set.Scale.Set(0, true)
	// A price label: 3.00 of apples.
	wedge(t, pa, gtin(t, "210012300300"))
	until(t, pa, "price label line", `document.querySelectorAll('#cart-lines tr').length === 3`)
	if got := cents(t, text(t, pa, "#cart-lines tr:nth-child(3) td.amount")); got != 300 {
		t.Fatalf("price label line amount %d, want 300", got)
	}
	// The serial scanner feeds the same cart.
	waitFor(t, "the serial scanner connected", func() bool { return set.Scanner.Connected() > 0 })
	if err := set.Scanner.Scan(cat[1].Barcodes[0]); err != nil {
		t.Fatal(err)
	}
	until(t, pa, "serial scan in the cart", `document.querySelectorAll('#cart-lines tr').length === 4`)
	total := cents(t, text(t, pa, "#t-total"))
	br.shot(pa, "cashiers-day-cart")

	// Park it with a name; the cart is empty.
	do(t, pa, "park", chromedp.Click("#btn-park"))
	dialog(t, pa, "Park this sale")
	setInput(t, pa, `#dlg input[name=name]`, "Mrs Jones")
	do(t, pa, "park ok", chromedp.Click("#dlg-ok"))
	until(t, pa, "parked", `document.querySelector('#sale-msg').textContent.includes('parked as 1-1')`)
	until(t, pa, "cart empty", `document.querySelectorAll('#cart-lines tr').length === 0`)

	// Till 2 resumes it and takes the money.
	login(t, pb, b.url, "2", "0000")
	do(t, pb, "parked sales", chromedp.Click("#btn-parked"))
	dialog(t, pb, "Parked sales")
	if opt := text(t, pb, `#dlg select[name=id]`); !strings.Contains(opt, "1-1 · Mrs Jones") {
		t.Fatalf("parked sales listed at till 2: %q", opt)
	}
	do(t, pb, "resume", chromedp.Click("#dlg-ok"))
	dialogClosed(t, pb)
	until(t, pb, "resumed cart", `document.querySelectorAll('#cart-lines tr').length === 4`)
	if got := cents(t, text(t, pb, "#t-total")); got != total {
		t.Fatalf("total at till 2 %d, at till 1 %d", got, total)
	}
	do(t, pb, "pay", chromedp.Click("#btn-pay"), chromedp.WaitVisible("#view-tender"))
	do(t, pb, "card", chromedp.Click("#pay-card"), chromedp.WaitVisible("#view-receipt"))
	var sale *ledger.Sale
	waitFor(t, "the sale in till 2's ledger", func() bool {
		b.View(func(s *ledger.State) {
			seq, _, _ := s.Head(b.ID())
			if id, ok := s.ID(b.ID(), seq); ok {
				sale, _, _, _ = s.Fold().Sale(id)
			}
		})
		return sale != nil
	})
	if l := sale.Lines[0]; l.UnitPrice != 40 || l.ListPrice != cat[0].Price || l.OverrideReason != "dented tin" || l.OverrideBy != "3" {
		t.Fatalf("overridden line in the ledger: %+v", l)
	}
	if l := sale.Lines[1]; l.SKU != "A1" || l.Qty != 900 {
		t.Fatalf("weighed line in the ledger: %+v", l)
	}
	// Till 1 cannot resume it again.
	if _, err := a.Resume(ctx, "1-1", "again"); err == nil || !strings.Contains(err.Error(), "already resumed at till 2") {
		t.Fatalf("second resume: %v", err)
	}

	// Till 2 opens its shift; a customer brings back an item without a
	// receipt (a supervisor approves) for store credit, then exchanges
	// another.
	if _, _, err := b.Record(ctx, &ledger.ShiftOpen{Currency: "EUR", Float: 5000, Staff: "2"}, "open-b"); err != nil {
		t.Fatal(err)
	}
	nav(t, pb, "refund")
	do(t, pb, "return without receipt", chromedp.Click("#btn-return-noreceipt"))
	dialog(t, pb, "Return without a receipt")
	setInput(t, pb, `#dlg input[name=code]`, cat[1].SKU)
	setInput(t, pb, `#dlg input[name=reason]`, "no receipt, unopened")
	// Given back as store credit on a new card.
	do(t, pb, "store credit", chromedp.SetValue(`#dlg select[name=tender]`, "store_credit"))
	setInput(t, pb, `#dlg input[name=card]`, "SC-2001")
	do(t, pb, "take back", chromedp.Click("#dlg-ok"))
	dialog(t, pb, "Manager approval")
	setInput(t, pb, `#dlg input[name=m]`, "3")
	setInput(t, pb, `#dlg input[name=p]`, "3333")
	do(t, pb, "approve the return", chromedp.Click("#dlg-ok"))
	until(t, pb, "return recorded", `document.querySelector('#refund-msg').textContent.startsWith('Return 2-')`)
	if bal, err := b.CardBalance(ctx, "SC-2001"); err != nil || bal.Balance != cat[1].Price || bal.Account != ledger.StoreCredit {
		t.Fatalf("store credit from the return: %+v %v", bal, err)
	}
	nav(t, pb, "sale")
	wedge(t, pb, cat[2].Barcodes[0])
	until(t, pb, "new goods in the cart", `document.querySelectorAll('#cart-lines tr').length === 1`)
	do(t, pb, "exchange", chromedp.Click("#btn-exchange"))
	dialog(t, pb, "Exchange")
	setInput(t, pb, `#dlg input[name=code]`, cat[1].SKU)
	setInput(t, pb, `#dlg input[name=reason]`, "wrong flavour")
	do(t, pb, "exchange ok", chromedp.Click("#dlg-ok"))
	dialog(t, pb, "Manager approval")
	setInput(t, pb, `#dlg input[name=m]`, "3")
	setInput(t, pb, `#dlg input[name=p]`, "3333")
	do(t, pb, "approve the exchange", chromedp.Click("#dlg-ok"))
	until(t, pb, "exchange recorded", `document.querySelector('#sale-msg').textContent.startsWith('Exchange 2-')`)
	until(t, pb, "cart empty after the exchange", `document.querySelectorAll('#cart-lines tr').length === 0`)
	diff := cat[2].Price - cat[1].Price
	if msg := text(t, pb, "#sale-msg"); !strings.Contains(msg, strings.TrimPrefix(fmt.Sprintf("%d.%02d", abs(int64(diff))/100, abs(int64(diff))%100), "")) {
		t.Fatalf("exchange message %q, want the difference %v", msg, diff)
	}
	var returns int
	b.View(func(s *ledger.State) { returns = s.Fold().TillReport(b.ID()).Refunds })
	if returns != 2 {
		t.Fatalf("till 2's report counts %d returns, want 2 (one alone, one in the exchange)", returns)
	}

	// The manager closes the day at till 1: till 1's shift is still open.
	pc := br.page("manager")
	login(t, pc, a.url, "1", "1234")
	waitFor(t, "till 2's sale at till 1", func() bool { return a.DB().Vector()[b.ID()] >= 1 })
	nav(t, pc, "day")
	until(t, pc, "the day's tills", `document.querySelectorAll('#day-tills tr').length >= 1`)
	if w := text(t, pc, "#day-warnings"); !strings.Contains(w, "till 1: the shift opened at") {
		t.Fatalf("day close warnings: %q", w)
	}
	br.shot(pc, "day-close")
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// A serial scan's cart comes by the event stream, and can come before
// the answer to a keyboard scan made just before it: that older answer
// must not hide the serial scan's line (CI saw the cart stay one line
// short, the serial scan in it at the till but not on the screen).
func TestSerialScanNotHiddenByAnOlderAnswer(t *testing.T) {
	cat := node.DemoCatalog(2)
	set, p := cashierAtOneTill(t, cat...)
	// The keyboard scan's answer (one line) is held back until the page
	// shows the serial scan's cart (two lines); __staleSeen is set once
	// the page has handled the held answer.
	holdFirstCartAnswer(t, p, `document.querySelectorAll('#cart-lines tr').length === 2`)
	wedge(t, p, cat[0].Barcodes[0])
	until(t, p, "the keyboard scan's answer held", `window.__held === true`)
	waitFor(t, "the serial scanner connected", func() bool { return set.Scanner.Connected() > 0 })
	if err := set.Scanner.Scan(cat[1].Barcodes[0]); err != nil {
		t.Fatal(err)
	}
	until(t, p, "the older answer handled", `window.__staleSeen === true`)
	if n := js[int](t, p, `document.querySelectorAll('#cart-lines tr').length`); n != 2 {
		t.Fatalf("after the keyboard scan's answer came after the serial scan's cart the screen shows %d lines, want 2", n)
	}
}

// holdFirstCartAnswer holds the answer to the page's first POST
// /api/cart/lines back until cond (a JavaScript expression) holds, at
// most 20 s, as a busy till may answer late. The page sets
// window.__held when that answer arrives and window.__staleSeen once
// it has handled it.
func holdFirstCartAnswer(t *testing.T, p context.Context, cond string) {
	t.Helper()
	js[bool](t, p, fmt.Sprintf(`(() => {
		const real = window.fetch;
		let n = 0;
		window.fetch = async (path, opts) => {
			if (!(opts && opts.method === 'POST' && String(path).endsWith('/api/cart/lines'))) return real(path, opts);
			const i = ++n;
			const res = await real(path, opts);
			if (i !== 1) return res;
			window.__held = true;
			const t0 = Date.now();
			while (!(%s) && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 10));
			const body = await res.json();
			res.json = async () => { setTimeout(() => { window.__staleSeen = true; }, 0); return body; };
			return res;
		};
		return true;
	})()`, cond))
}

// cashierAtOneTill starts one enrolled till with simulated devices and
// the given products, and signs a cashier in on a browser page.
func cashierAtOneTill(t *testing.T, products ...crdt.Product) (*sim.Set, context.Context) {
	t.Helper()
	path := chromiumOrSkip(t)
	store, dirs := enrolledStore(t, "Corner Shop", "Till 1")
	set := sim.NewSet()
	a := startTillWith(t, store, dirs[0], set)
	ctx := t.Context()
	for _, p := range products {
		if err := a.Inventory().PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AddStaff(ctx, "2", "Carl Cashier", ui.RoleCashier, "0000"); err != nil {
		t.Fatal(err)
	}
	// The wedge types over DevTools, slower than a scanner on a loaded
	// machine: a wider gap keeps it a scan, as in the other tests.
	if err := a.PutSetting(ctx, ui.SettingScanGap, "300"); err != nil {
		t.Fatal(err)
	}
	p := newBrowser(t, path).page("till 1")
	login(t, p, a.url, "2", "0000")
	return set, p
}
