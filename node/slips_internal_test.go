package node

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/glyph"
	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

var updateSlips = flag.Bool("update-slips", false, "rewrite node/testdata/slips")

// Every slip at 58 and 80 mm, against golden files (go test ./node -run
// TestSlipGolden -update-slips rewrites them).
func TestSlipGolden(t *testing.T) {
	for _, l := range i18n.Langs {
		t.Run(string(l), func(t *testing.T) { slipGoldens(t, l) })
	}
}

// slipGoldens renders every slip in language l: English goldens are
// <slip>_<mm>mm, others <slip>_<lang>_<mm>mm, printed through CP866.
func slipGoldens(t *testing.T, lang i18n.Lang) {
	suffix := ""
	if lang != i18n.English {
		suffix = "_" + string(lang)
	}
	till := ledgertest.NewTill(ledger.StoreID{9}, 4, 2)
	at := time.Date(2026, 3, 2, 14, 2, 0, 0, time.UTC).UnixMilli()
	sale := ledger.EventID{7}
	info := slipInfo{Store: "Corner Shop", Till: receipt.T(lang, "receipt.till", "n", 2), Number: 2, Currency: "EUR", Location: time.UTC, Lang: lang,
		SaleNumber: func(id ledger.EventID) string {
			if id == sale {
				return "1-17"
			}
			return "?"
		},
		EventNumber: func(ev *ledger.Event) string {
			if ledger.IsReceiptKind(ev.Kind()) {
				return fmt.Sprintf("2-%d", ev.Seq) // the test's chain has no sale before these
			}
			return ledger.EventNo(2, ev.Seq)
		}}
	for _, tc := range []struct {
		name string
		body ledger.Body
	}{
		{"refund", &ledger.Refund{Sale: sale, Currency: "EUR", Staff: "2", Reason: "sour",
			Lines:   []ledger.RefundLine{{Line: 0, SKU: "10001", Qty: 2, Amount: 238, Tax: 16, Rate: 700}},
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 238}}}},
		{"return", &ledger.Return{Currency: "EUR", TaxIncluded: true, Reason: "no receipt", Staff: "2", Approver: "3",
			Lines: []ledger.Line{{SKU: "10002", Name: "Bread", Qty: 1, UnitPrice: 200, TaxRate: 700, ListPrice: 249,
				OverrideReason: "price then", OverrideBy: "3"}},
			Tenders: []ledger.Tender{{Kind: ledger.Card, Amount: 200}}}},
		{"void", &ledger.Void{Sale: sale, Currency: "EUR", Total: 498, Cash: 498, Manager: "1", Reason: "wrong item", Staff: "2",
			Lines: []ledger.StockLine{{SKU: "10002", Qty: 2}}}},
		{"cash_in", &ledger.CashIn{Currency: "EUR", Amount: 5000, Reason: "change from the bank", Staff: "2"}},
		{"cash_out", &ledger.CashOut{Currency: "EUR", Amount: 20000, Reason: "safe drop", Staff: "2"}},
		{"no_sale", &ledger.NoSale{Reason: "change for a customer", Staff: "2"}},
	} {
		ev, err := till.Next(tc.body, at, tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r, ok, err := slipReceipt(ev, info)
		if err != nil || !ok {
			t.Fatalf("%s: slip %v %v", tc.name, ok, err)
		}
		renderGolden(t, tc.name+suffix, r)
	}
	// A sale prints its receipt, not a slip.
	ev, _ := till.Next(ledgertest.Sale3(), at, "sale")
	if _, ok, _ := slipReceipt(ev, info); ok {
		t.Fatal("a sale made a slip")
	}
	// An exchange prints one receipt: the goods back, the new goods and
	// the difference, paid (up) or given back as store credit (down).
	bread := ledger.Line{SKU: "10002", Name: "Bread", Qty: 1, UnitPrice: 249, TaxRate: 700}
	batteries := ledger.Line{SKU: "20001", Name: "Batteries", Qty: 1, UnitPrice: 599, TaxRate: 1900}
	credit := func(m ledger.Money) ledger.Tender {
		return ledger.Tender{Kind: ledger.Other, Amount: m, Ref: ledger.ExchangeRef}
	}
	for _, tc := range []struct {
		name      string
		back, new ledger.Line
		retT      []ledger.Tender
		saleT     []ledger.Tender
		change    ledger.Money
	}{
		{"exchange_up", bread, batteries, []ledger.Tender{credit(249)},
			[]ledger.Tender{credit(249), {Kind: ledger.Cash, Amount: 500}}, 150},
		{"exchange_down", batteries, bread, []ledger.Tender{credit(249), {Kind: ledger.StoreCreditTender, Amount: 350, Ref: "SC-502"}},
			[]ledger.Tender{credit(249)}, 0},
	} {
		ret, err := till.Next(&ledger.Return{Currency: "EUR", TaxIncluded: true, Reason: "wrong item", Staff: "2", Approver: "3",
			Lines: []ledger.Line{tc.back}, Tenders: tc.retT}, at, tc.name+"/return")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		sale, err := till.Next(&ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "2",
			Lines: []ledger.Line{tc.new}, Tenders: tc.saleT, Change: tc.change}, at, tc.name+"/sale")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r, err := exchangeReceipt(ret, sale, info)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		renderGolden(t, tc.name+suffix, r)
		if _, err := exchangeReceipt(sale, ret, info); err == nil {
			t.Fatalf("%s: an exchange receipt of a sale and a return, swapped", tc.name)
		}
	}
}

// renderGolden renders r at 58 and 80 mm and compares the printed text
// with testdata/slips/<name>_<mm>mm.golden.
func renderGolden(t *testing.T, name string, r receipt.Receipt) {
	t.Helper()
	f, err := glyph.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		mm     string
		layout receipt.Layout
	}{{"58", receipt.Layout58()}, {"80", receipt.Layout80()}} {
		if r.Lang != "" && r.Lang != "en" {
			l.layout.Printer.CodePage = escpos.EpsonCodePage(escpos.CP866)
		}
		p, err := receipt.Render(r, l.layout, false)
		if err != nil {
			t.Fatalf("%s %s mm: %v", name, l.mm, err)
		}
		doc, err := escpos.Parse(p.Bytes(), l.layout.Printer.CodePage)
		if err != nil {
			t.Fatalf("%s %s mm: the printout does not parse: %v", name, l.mm, err)
		}
		if len(p.Unencodable) != 0 {
			t.Errorf("%s %s mm: printed %q as '?'", name, l.mm, string(p.Unencodable))
		}
		slipGolden(t, name+"_"+l.mm+"mm", f.Transcribe(doc).Text()) // raster lines read back
	}
}

func slipGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "slips", name+".golden")
	if *updateSlips {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./node -run TestSlipGolden -update-slips to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// A refund and a void in so'm rounded to 100 print the rounding and what
// goes back after it between the lines and the tenders (goldens
// refund_rounded_uz, void_rounded_uz); X reports print the shift's
// rounding when it has any.
func TestSlipRounding(t *testing.T) {
	till := ledgertest.NewTill(ledger.StoreID{9}, 4, 2)
	at := time.Date(2026, 3, 2, 14, 2, 0, 0, time.UTC).UnixMilli()
	sale := ledger.EventID{7}
	info := slipInfo{Store: "Baraka", Till: "Kassa 2", Number: 2, Currency: "UZS", Location: time.UTC, Lang: i18n.Uzbek,
		SaleNumber:  func(ledger.EventID) string { return "1-17" },
		EventNumber: func(ev *ledger.Event) string { return fmt.Sprintf("2-%d", ev.Seq) }}
	type row struct {
		label string
		money ledger.Money
	}
	for _, tc := range []struct {
		name string
		body ledger.Body
		want []row
	}{
		{"refund_rounded_uz", &ledger.Refund{Sale: sale, Currency: "UZS", Staff: "2", RoundStep: 100, Rounding: -45,
			Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 12345, Rate: 1200}},
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 12300}}},
			[]row{{"1001 x 1", -12345}, {"Yaxlitlash", 45}, {"Qaytariladi", -12300}, {"Qaytarilgan: Naqd", -12300}}},
		{"void_rounded_uz", &ledger.Void{Sale: sale, Currency: "UZS", Total: 12350, Cash: 12400, Rounding: 50, Manager: "1", Staff: "2",
			Lines: []ledger.StockLine{{SKU: "1001", Qty: 1}}},
			[]row{{"Jami bekor qilindi", -12350}, {"Yaxlitlash", -50}, {"Qaytariladi", -12400}, {"Qaytarilgan naqd", -12400}}},
	} {
		ev, err := till.Next(tc.body, at, tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r, ok, err := slipReceipt(ev, info)
		if err != nil || !ok {
			t.Fatalf("%s: slip %v %v", tc.name, ok, err)
		}
		var got []row
		for _, s := range r.Summary {
			if s.Money != nil {
				got = append(got, row{s.Label, *s.Money})
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s rows\n got %v\nwant %v", tc.name, got, tc.want)
		}
		renderGolden(t, tc.name, r)
	}
	// An exchange whose difference is paid in cash, rounded to 100 so'm.
	ret, err := till.Next(&ledger.Return{Currency: "UZS", TaxIncluded: true, Reason: "size", Staff: "2", Approver: "3",
		Lines:   []ledger.Line{{SKU: "1001", Name: "Non", Qty: 1, UnitPrice: 5000, TaxRate: 1200}},
		Tenders: []ledger.Tender{{Kind: ledger.Other, Amount: 5000, Ref: ledger.ExchangeRef}}}, at, "x/return")
	if err != nil {
		t.Fatal(err)
	}
	sl, err := till.Next(&ledger.Sale{Currency: "UZS", TaxIncluded: true, Staff: "2", RoundStep: 100, Rounding: -45,
		Lines:   []ledger.Line{{SKU: "1002", Name: "Sut", Qty: 1, UnitPrice: 17345, TaxRate: 1200}},
		Tenders: []ledger.Tender{{Kind: ledger.Other, Amount: 5000, Ref: ledger.ExchangeRef}, {Kind: ledger.Cash, Amount: 20000}},
		Change:  7700}, at, "x/sale")
	if err != nil {
		t.Fatal(err)
	}
	x, err := exchangeReceipt(ret, sl, info)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, s := range x.Summary {
		if s.Money != nil {
			labels = append(labels, fmt.Sprintf("%s %d", strings.TrimSpace(s.Label), *s.Money))
		}
	}
	if got := strings.Join(labels, "|"); !strings.Contains(got, "Yaxlitlash -45|") {
		t.Errorf("exchange rows lack the rounding: %s", got)
	}
	rows := func(rep ledger.Report) string {
		var s []string
		for _, r := range xRows(info, rep) {
			s = append(s, fmt.Sprintf("%s %d", r.Label, *r.Money))
		}
		return fmt.Sprint(s)
	}
	if got := rows(ledger.Report{Rounding: -25, CashExpected: 638100}); !strings.Contains(got, "Yaxlitlash -25") ||
		!strings.Contains(got, "Kutilgan naqd 638100") {
		t.Errorf("X rows with a rounding: %s", got)
	}
	if got := rows(ledger.Report{}); strings.Contains(got, "Yaxlitlash") {
		t.Errorf("X rows without a rounding: %s", got)
	}
}

// The customer display shows the total in the store's language and
// money, the rounded amount when cash was rounded.
func TestDisplayTotal(t *testing.T) {
	for _, tc := range []struct {
		lang      i18n.Lang
		cur       string
		total, r  ledger.Money
		top, bott string
	}{
		{i18n.English, "EUR", 1234, 0, "Total", "€12.34"},
		{i18n.Uzbek, "UZS", 20512, -12, "Jami", "20\u00a0500\u00a0soʻm"},
		{i18n.Russian, "UZS", 20550, 50, "Итого", "20\u00a0600\u00a0сум"},
	} {
		top, bottom := displayTotal(tc.lang, tc.cur, tc.total, tc.r)
		if top != tc.top || bottom != tc.bott {
			t.Errorf("%s %s %d%+d: display %q / %q, want %q / %q", tc.lang, tc.cur, tc.total, tc.r, top, bottom, tc.top, tc.bott)
		}
	}
}
