package browsertest_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/relay"
	"github.com/tillmesh/tillmesh/ui"
)

// A manager sends stock to another store from the Transfers page, and
// receives one HQ listed as on its way: the page shows both, and the
// stock moved.
func TestTransfersPageInTheBrowser(t *testing.T) {
	path := chromiumOrSkip(t)
	a := loneTill(t, "North")
	ctx := t.Context()
	cat := node.DemoCatalog(3)
	for _, p := range cat {
		if err := a.Inventory().PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	sku := cat[0].SKU
	if _, _, err := a.Record(ctx, &ledger.StockReceive{Lines: []ledger.StockLine{{SKU: sku, Qty: 50}}, Staff: "1"}, "opening"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddStaff(ctx, "1", "Maria Manager", ui.RoleManager, "1234"); err != nil {
		t.Fatal(err)
	}
	south := ledger.StoreID{0xab, 0xcd, 0xef, 0x01}
	now := time.Now().UnixMilli()
	var storeID ledger.StoreID
	a.View(func(st *ledger.State) { storeID = st.Store() })
	if err := relay.PutChain(ctx, a.Inventory(), relay.ChainStoresSetting, hqapi.Chain{Version: hqapi.ChainVersion, Made: now,
		Stores: []hqapi.ChainStore{{ID: storeID, Name: "North"}, {ID: south, Name: "South"}}}); err != nil {
		t.Fatal(err)
	}
	if err := relay.PutChain(ctx, a.Inventory(), relay.ChainIncomingSetting, hqapi.Chain{Version: hqapi.ChainVersion, Made: now,
		Incoming: []hqapi.IncomingTransfer{{Number: "abcdef01-2-9", From: south, FromName: "South", Lines: []ledger.StockLine{{SKU: sku, Qty: 4}}, Sent: now}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the transfer kinds allowed", func() bool {
		k, err := a.Inventory().Kinds(ctx)
		return err == nil && len(k[a.ID().String()]) >= len(ledger.Kinds)
	})

	br := newBrowser(t, path)
	p := br.page("transfers")
	login(t, p, a.url, "1", "1234")
	do(t, p, "open the transfers page", chromedp.Navigate(a.url+"/transfers"), chromedp.WaitVisible("#xf-send"))
	until(t, p, "South listed as a destination and the incoming transfer", `[...document.querySelectorAll('#xf-to option')].some(o => o.textContent === 'South') && document.querySelector('#xf-incoming').innerText.includes('abcdef01-2-9')`)

	// Send 5 to South.
	do(t, p, "fill the transfer", chromedp.SetValue(`#xf-to`, south.String()),
		chromedp.SendKeys(`#xf-slines .xf-sku`, sku), chromedp.SendKeys(`#xf-slines .xf-qty`, "5"),
		chromedp.Click(`#xf-send button[type=submit]`))
	until(t, p, "the transfer sent", `document.querySelector('#xf-msg').textContent.startsWith('Sent as transfer')`)
	until(t, p, "listed as sent", `document.querySelector('#xf-sent').innerText.includes('South')`)

	// Receive the listed one, one short.
	do(t, p, "receive", chromedp.Click(`#xf-incoming button`), chromedp.WaitVisible(`#xf-receive`))
	do(t, p, "one short", chromedp.SetValue(`#xf-rlines .xf-qty`, "3"), chromedp.Click(`#xf-receive button[type=submit]`))
	until(t, p, "received", `document.querySelector('#xf-msg').textContent.startsWith('Transfer abcdef01-2-9 received')`)
	until(t, p, "the difference shown", `document.querySelector('#xf-received .xf-diff') && document.querySelector('#xf-received').innerText.includes('3 of 4')`)

	// Receiving it again is refused with the reason.
	do(t, p, "receive again by number", chromedp.SendKeys(`#xf-number`, "abcdef01-2-9"), chromedp.Click(`#xf-scan button`), chromedp.WaitVisible(`#xf-receive`))
	do(t, p, "record again", chromedp.SetValue(`#xf-rlines .xf-sku`, sku), chromedp.SetValue(`#xf-rlines .xf-qty`, "1"), chromedp.Click(`#xf-receive button[type=submit]`))
	until(t, p, "refused", `document.querySelector('#xf-msg').textContent.includes('already received')`)

	st, err := a.Stock(ctx, sku)
	if err != nil || st.Total != 50-5+3 {
		t.Fatalf("stock %d (%v), want 48", st.Total, err)
	}
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}
}
