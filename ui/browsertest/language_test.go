package browsertest_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// englishWords are words of the English screens a Russian or Uzbek
// cashier must never meet on them.
var englishWords = []string{"Sale", "Refund", "Shift", "Cash", "Card", "Total", "Change", "Receipt", "Pay", "Payment",
	"Customer", "Customers", "Discount", "Discounts", "Price", "Amount", "Quantity", "Items", "Item", "Tax", "Drawer",
	"Lock", "Log", "Settings", "Stock", "Reports", "Catalog", "Clear", "Park", "Weigh", "Exchange", "Back", "New",
	"Find", "Reason", "Staff", "Till", "Cancel", "Unlock", "Scan", "Search", "remove", "live", "unsent", "shift",
	"mesh", "open", "Store", "credit", "Gift", "Printer", "printer", "receipt", "Subtotal", "TOTAL", "served", "Paid",
	"Sold", "Refundable", "Tills", "not", "the", "and", "of", "No", "Recent", "sales", "change", "Still", "due"}

// decimalAmount is an amount with a decimal part: "3,68 €", "12.50 soʻm".
var decimalAmount = regexp.MustCompile(`\d[.,]\d+[\s\x{a0}\x{202f}]*(soʻm|€|UZS)`)

// TestTillSpeaksTheStoresLanguage runs a cashier's sale and refund once
// per language: the store's language and currency set, every screen the
// cashier passes (log-in, sale, payment, receipt, refund) shows no
// catalog key (⟦key⟧) and, in Russian and Uzbek, none of the English
// screens' words; amounts are written as the Go side writes them (so'm
// without decimals); a typed amount with the other decimal mark and a
// server error come in the cashier's language.
func TestTillSpeaksTheStoresLanguage(t *testing.T) {
	path := chromiumOrSkip(t)
	br := newBrowser(t, path)
	for _, tc := range []struct {
		lang        i18n.Lang
		cur         string
		store, till string
		products    [2]string
		prices      [2]int64
		given       string // cash typed on the payment screen
		givenMinor  int64
		wrongMark   string // the amount with the other decimal mark, "" to skip
		wrongSays   string
		step        int64 // the store's cash rounding, 0: none
		rounding    int64 // what it makes of the cash due
	}{
		{i18n.English, "EUR", "Corner Shop", "Till 1", [2]string{"Milk 1L", "Bread"}, [2]int64{119, 249}, "10.00", 1000, "", "", 0, 0},
		{i18n.Russian, "EUR", "Магазин у дома", "Касса 1", [2]string{"Молоко 1 л", "Хлеб"}, [2]int64{119, 249}, "10,00", 1000, "10.00", "десятичный знак", 0, 0},
		{i18n.Uzbek, "UZS", "Mahalla doʻkoni", "Kassa 1", [2]string{"Sut 1 l", "Non"}, [2]int64{12000, 8512}, "50000", 50000, "", "", 100, -12},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			cur, err := i18n.LookupCurrency(tc.cur)
			if err != nil {
				t.Fatal(err)
			}
			a := localTill(t, tc.store, tc.till)
			ctx := t.Context()
			codes := [2]string{"4000000100010", "4000000100027"}
			for i, name := range tc.products {
				p := crdt.Product{SKU: fmt.Sprintf("10%d", i+1), Name: name, Barcodes: []string{codes[i]}, Price: ledger.Money(tc.prices[i]), Currency: tc.cur, TaxRate: 1200, Unit: ledger.Each}
				if err := a.Inventory().PutProduct(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			limit := strconv.FormatInt(int64(ledger.MaxPrice), 10) // the default refund limit is in cents
			for name, v := range map[string]string{ui.SettingRefundLimit: limit, ui.SettingScanGap: "300", ui.SettingCurrency: tc.cur, ui.SettingLanguage: string(tc.lang),
				ui.SettingCashRounding: strconv.FormatInt(tc.step, 10)} {
				if err := a.PutSetting(ctx, name, v); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.AddStaff(ctx, "2", "Dilnoza", ui.RoleCashier, "0000"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.Record(ctx, &ledger.ShiftOpen{Currency: tc.cur, Float: 100 * cur.Unit(), Staff: "2"}, "open"); err != nil {
				t.Fatal(err)
			}
			p := br.page(string(tc.lang))
			speaks := func(screen string) {
				t.Helper()
				until(t, p, screen+" in "+string(tc.lang), fmt.Sprintf(`document.documentElement.lang === %q`, tc.lang))
				body := js[string](t, p, `document.body.innerText`)
				if strings.Contains(body, "⟦") {
					t.Fatalf("%s shows a catalog key:\n%s", screen, body)
				}
				if tc.lang == i18n.English {
					return
				}
				words := strings.FieldsFunc(body, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
				for _, w := range words {
					for _, e := range englishWords {
						if w == e {
							t.Errorf("%s in %s shows the English word %q:\n%s", screen, tc.lang.Name(), w, body)
						}
					}
				}
			}
			money := func(m int64) string { return i18n.FormatMoney(tc.lang, cur, ledger.Money(m)) }

			do(t, p, "open the till", chromedp.Navigate(a.url), chromedp.WaitVisible("#login-staff"))
			speaks("the log-in screen")
			login(t, p, a.url, "2", "0000")
			speaks("the sale screen")

			// A code not in the catalog: the server's error, in the
			// cashier's language.
			wedge(t, p, "4000000999997")
			until(t, p, "unknown barcode", fmt.Sprintf(`document.querySelector('#sale-msg').textContent === I18N.t('till.error.unknown_barcode', {code: '4000000999997'}) && I18N.lang === %q`, tc.lang))
			wedge(t, p, codes[0])
			until(t, p, "first item", `document.querySelectorAll('#cart-lines tr').length === 1`)
			wedge(t, p, codes[1])
			until(t, p, "second item", `document.querySelectorAll('#cart-lines tr').length === 2`)
			total := tc.prices[0] + tc.prices[1]
			until(t, p, "the total as the Go side writes it", fmt.Sprintf(`document.querySelector('#t-total').textContent === %q`, money(total)))
			speaks("the sale with two items")
			br.shot(p, "language-"+string(tc.lang))

			do(t, p, "pay", chromedp.Click("#btn-pay"), chromedp.WaitVisible("#tender-amount"))
			if got := text(t, p, "#tender-due"); got != money(total) {
				t.Fatalf("due %q, want %q", got, money(total))
			}
			if tc.wrongMark != "" {
				setInput(t, p, "#tender-amount", tc.wrongMark)
				do(t, p, "cash with the other decimal mark", chromedp.Click("#pay-cash"))
				until(t, p, "the decimal mark refused", fmt.Sprintf(`document.querySelector('#tender-msg').textContent.includes(%q)`, tc.wrongSays))
			}
			// Cash rounding: its own line and the cash due after it, and
			// the amount offered is the rounded due.
			if tc.rounding != 0 {
				until(t, p, "the rounding lines", fmt.Sprintf(`!document.querySelector('#tender-rounding-row').hidden && document.querySelector('#tender-rounding').textContent === %q && document.querySelector('#tender-cash-due').textContent === %q && document.querySelector('#tender-amount').value === %q`,
					money(tc.rounding), money(total+tc.rounding), strconv.FormatInt(total+tc.rounding, 10)))
			} else if !js[bool](t, p, `document.querySelector('#tender-rounding-row').hidden`) {
				t.Fatal("a store without cash rounding shows a rounding line")
			}
			speaks("the payment screen")
			setInput(t, p, "#tender-amount", tc.given)
			do(t, p, "cash", chromedp.Click("#pay-cash"), chromedp.WaitVisible("#view-receipt"))
			change := text(t, p, "#receipt-change")
			if want := money(tc.givenMinor - total - tc.rounding); !strings.HasSuffix(change, want) {
				t.Fatalf("change %q, want it to end in %q", change, want)
			}
			if cur.Digits == 0 && decimalAmount.MatchString(text(t, p, "#receipt")) {
				t.Errorf("a currency without minor units shows an amount with decimals on the receipt screen: %s", text(t, p, "#receipt"))
			}
			if r := text(t, p, "#receipt"); tc.rounding != 0 && !strings.Contains(r, money(tc.rounding)) {
				t.Errorf("the receipt screen lacks the rounding %s:\n%s", money(tc.rounding), r)
			}
			speaks("the receipt screen")

			nav(t, p, "refund")
			wedge(t, p, ledger.ReceiptCode(1, 1))
			until(t, p, "the sale found", `document.querySelectorAll('#refund-sale input.pick').length === 2`)
			setInput(t, p, `#refund-sale input.pick[data-line="0"]`, "1")
			until(t, p, "refund preview", fmt.Sprintf(`document.querySelector('#refund-total').textContent === %q`, money(tc.prices[0])))
			do(t, p, "refund", chromedp.Click("#refund-btn"))
			until(t, p, "refund recorded", `document.querySelector('#refund-msg').className.includes('ok')`)
			speaks("the refund screen")

			if tc.lang != i18n.English {
				return
			}
			// The cashier picks her own language in the header: the
			// screen follows at once, and back to the store's.
			js[bool](t, p, `(() => { const s = document.querySelector('#lang-pick'); s.value = 'uz'; s.dispatchEvent(new Event('change')); return true })()`)
			until(t, p, "the cashier's own language", `document.documentElement.lang === 'uz' && document.querySelector('#nav button[data-view="sale"]').textContent === 'Sotuv'`)
			js[bool](t, p, `(() => { const s = document.querySelector('#lang-pick'); s.value = ''; s.dispatchEvent(new Event('change')); return true })()`)
			until(t, p, "the store's language again", `document.documentElement.lang === 'en' && document.querySelector('#nav button[data-view="sale"]').textContent === 'Sale'`)
		})
	}
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors:\n%s", strings.Join(errs, "\n"))
	}
}

// localTill is loneTill with the store's and the till's names in the
// store's language.
func localTill(t *testing.T, storeName, tillName string) *till {
	t.Helper()
	store, dirs := enrolledStore(t, storeName, tillName)
	return startTill(t, store, dirs[0])
}
