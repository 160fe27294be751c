package browsertest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
)

// TestWeightWhileTheLineIsAdded: the cashier scans loose apples with
// 0.750 kg on the scale and puts more on before the till's answer to
// adding the line reaches the page (the line is already on screen: the
// cart came over the event stream). The page heard the new weight while
// the line did not yet follow the scale; the line still ends at 0.900 kg.
// The browser holds that answer back (DevTools' Fetch domain), so the
// order is the same every run; a loaded test run once made it by chance.
func TestWeightWhileTheLineIsAdded(t *testing.T) {
	apples := crdt.Product{SKU: "A1", Name: "Apples loose", Price: 299, Currency: "EUR", TaxRate: 700, Unit: ledger.Kilogram,
		Barcodes: []string{gtin(t, "400000999999")}}
	set, pa := cashierAtOneTill(t, apples)
	openShift(t, pa, "100.00")

	// Answers to adding a cart line with a weight wait for release.
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	if err := chromedp.Listen(pa, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		weighed := e.Request.Method == "POST" && len(e.Request.PostDataEntries) > 0 &&
			strings.Contains(string(e.Request.PostDataEntries[0].Bytes), `"qty"`)
		go func() {
			if weighed {
				held <- struct{}{}
				select {
				case <-release:
				case <-pa.Done():
					return
				}
			}
			_, _ = chromedp.Call(pa, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
		}()
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(pa, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*/api/cart/lines", RequestStage: fetch.RequestStageResponse},
	}}); err != nil {
		t.Fatal(err)
	}

	set.Scale.Set(750, true)
	wedge(t, pa, apples.Barcodes[0])
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the page never added the weighed line")
	}
	until(t, pa, "the weighed line, from the event stream", `document.querySelectorAll('#cart-lines tr').length === 1 && document.querySelector('#cart-lines tr').textContent.includes('0.750')`)
	set.Scale.Set(900, true)
	until(t, pa, "the page told 900 g", `document.querySelector('#cart-lines').dataset.scale === '900'`)
	close(release)
	until(t, pa, "the line at the new weight, following the scale", `document.querySelector('#cart-lines tr').textContent.includes('0.900') && document.querySelector('#cart-lines tr').classList.contains('on-scale')`)
}
