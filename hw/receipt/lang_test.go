package receipt

import (
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// somSale is a sale in so'm (no minor units): a weighed line, a line
// discount, a name with gʻ, 12% tax included, cash with change and a
// card.
func somSale(names [4]string) *ledger.Sale {
	s := &ledger.Sale{
		Currency: "UZS", TaxIncluded: true, Staff: "dilnoza",
		Lines: []ledger.Line{
			{SKU: "1001", Name: names[0], Qty: 2, UnitPrice: 4500, TaxRate: 1200},
			{SKU: "1002", Name: names[1], Qty: 1, UnitPrice: 12000, Discount: 1000, TaxRate: 1200},
			{SKU: "3001", Name: names[2], Qty: 1250, Unit: ledger.Kilogram, UnitPrice: 18500, TaxRate: 1200},
			{SKU: "2001", Name: names[3], Qty: 1, UnitPrice: 95000, TaxRate: 0},
		},
	}
	tot, err := s.Totals()
	if err != nil {
		panic(err)
	}
	s.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: 50000, Ref: "8600-12"}, {Kind: ledger.Cash, Amount: 150000}}
	s.Change = 200000 - tot.Total
	return s
}

func somReceipt(t *testing.T, l i18n.Lang, names [4]string) Receipt {
	t.Helper()
	till := ledgertest.NewTill(testStore, 7, 3)
	till.Seq, till.Prev = 1041, ledger.EventID{9}
	ev, err := till.Next(somSale(names), time.Date(2026, 3, 1, 13, 5, 0, 0, time.UTC).UnixMilli(), "k-1042")
	if err != nil {
		t.Fatal(err)
	}
	tashkent := time.FixedZone("UZT", 5*3600)
	r, err := FromSale(ev, Info{Store: "Baraka Market", Header: []string{"Toshkent, Amir Temur 15"}, Number: 3, Receipt: 41,
		Location: tashkent, Lang: l, CardLeft: nil})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func withPage(l Layout, c escpos.Charset) Layout {
	l.Printer.CodePage = escpos.EpsonCodePage(c)
	return l
}

// Golden receipts in Russian and Uzbek at 58 and 80 mm (English: TestGolden).
// Russian prints as text through CP866 or WPC1251, with no "?" and no
// image; Uzbek's lines with ʻ (soʻm, gʻ) print as raster images that read
// back as the words, the rest as text.
func TestGoldenLanguages(t *testing.T) {
	ru := somReceipt(t, i18n.Russian, [4]string{"Хлеб белый", "Молоко 3,2% 1 л", "Яблоки «Семеренко»", "Чайник"})
	uz := somReceipt(t, i18n.Uzbek, [4]string{"Non", "Sut 1 l", "Olma", "Sovgʻa qutisi"})
	for _, tc := range []struct {
		name string
		r    Receipt
		l    Layout
		want []string
	}{
		{"receipt_ru_58mm_cp866", ru, withPage(Layout58(), escpos.CP866), []string{"Кассир dilnoza", "Чек 3-41", "01.03.2026 18:05",
			"Хлеб белый", "2 x 4 500", "9 000 B", "Скидка", "1,250 кг x 18 500/кг", "ИТОГО", "138 125 сум", "Наличные", "150 000 сум",
			"Сдача", "61 875 сум", "Ставка", "Цены включают налог", "Яблоки «Семеренко»"}},
		{"receipt_ru_80mm_wpc1251", ru, withPage(Layout80(), escpos.WPC1251), []string{"Яблоки «Семеренко»", "ИТОГО", "138 125 сум"}},
		{"receipt_uz_58mm_cp866", uz, withPage(Layout58(), escpos.CP866), []string{"Kassir dilnoza", "Chek 3-41", "01.03.2026 18:05",
			"Non", "2 x 4 500", "Chegirma", "1,250 kg x 18 500/kg", "Sovgʻa qutisi", "JAMI", "138 125 soʻm", "Naqd", "150 000 soʻm",
			"Qaytim", "61 875 soʻm", "Narxlarga soliq kiritilgan"}},
		{"receipt_uz_80mm_cp437", uz, Layout80(), []string{"Sovgʻa qutisi", "JAMI", "138 125 soʻm"}},
	} {
		p, doc := render(t, tc.r, tc.l, false)
		golden(t, tc.name, hexDump(p.Bytes()))
		golden(t, tc.name+"_parsed", doc.String())
		text := doc.Text()
		for _, want := range tc.want {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", tc.name, want, text)
			}
		}
		if len(p.Unencodable) != 0 || strings.Contains(text, "?") {
			t.Errorf("%s: printed %q as '?':\n%s", tc.name, string(p.Unencodable), text)
		}
		var raster []string
		for _, l := range doc.Lines {
			if l.Image != nil {
				raster = append(raster, l.Text)
			}
			if utf8Len(l.Text)*l.Width > tc.l.Columns {
				t.Errorf("%s: line %q over %d columns", tc.name, l.Text, tc.l.Columns)
			}
		}
		switch tc.r.Lang {
		case "ru":
			// CP866 lacks « and »: that line alone is an image.
			if want := strings.Contains(tc.name, "cp866"); len(raster) != map[bool]int{true: 1, false: 0}[want] ||
				want && string(p.Rastered) != "«»" {
				t.Errorf("%s: Russian printed as images: %q (rastered %q)", tc.name, raster, string(p.Rastered))
			}
		case "uz":
			for _, l := range raster {
				if !strings.ContainsAny(l, "ʻʼ") {
					t.Errorf("%s: line %q printed as an image, though the code page has it all", tc.name, l)
				}
			}
			if len(raster) < 5 || string(p.Rastered) != "ʻ" {
				t.Errorf("%s: raster lines %q, rastered %q: want the lines with ʻ", tc.name, raster, string(p.Rastered))
			}
		}
	}
}

func utf8Len(s string) int { return len([]rune(s)) }

// The words of a Z report are the store's language.
func TestZReportLanguage(t *testing.T) {
	till := ledgertest.NewTill(testStore, 7, 3)
	s := ledger.NewState(testStore)
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).UnixMilli()
	var close *ledger.Event
	for i, b := range []ledger.Body{&ledger.ShiftOpen{Currency: "UZS", Float: 500000, Staff: "dilnoza"},
		&ledger.ShiftClose{Currency: "UZS", Staff: "dilnoza", Counted: []ledger.Denomination{{Value: 100000, Count: 5}}}} {
		ev, err := till.Next(b, at+int64(i)*3_600_000, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ev); err != nil {
			t.Fatal(err)
		}
		close = ev
	}
	shifts := s.Fold().Shifts(till.ID)
	for _, tc := range []struct {
		l    i18n.Lang
		want []string
	}{
		{i18n.Uzbek, []string{"Z HISOBOT 3-1", "Boshlangʻich naqd", "500 000 soʻm", "Pul qutisi", "toʻgʻri", "Kassa 3"}},
		{i18n.Russian, []string{"Z-ОТЧЁТ 3-1", "Размен", "500 000 сум", "сходится", "Касса 3"}},
	} {
		r, err := FromShiftClose(close, shifts[0], Info{Store: "Baraka", Number: 3, Receipt: 1, Lang: tc.l})
		if err != nil {
			t.Fatal(err)
		}
		_, doc := render(t, r, withPage(Layout58(), escpos.CP866), false)
		for _, want := range tc.want {
			if !strings.Contains(doc.Text(), want) {
				t.Errorf("%s Z report lacks %q:\n%s", tc.l, want, doc.Text())
			}
		}
	}
}

// BenchmarkRender renders the 58 mm receipt in English (all text through
// CP858) and in Uzbek (its lines with ʻ as images through CP866), and
// reports the bytes sent to the printer.
func BenchmarkRender(b *testing.B) {
	t := &testing.T{}
	for _, tc := range []struct {
		name string
		r    Receipt
		l    Layout
	}{
		{"en_cp858", testReceipt(b), withPage(Layout58(), escpos.CP858)},
		{"ru_cp866", somReceipt(t, i18n.Russian, [4]string{"Хлеб белый", "Молоко 3,2% 1 л", "Яблоки", "Чайник"}), withPage(Layout58(), escpos.CP866)},
		{"uz_cp866", somReceipt(t, i18n.Uzbek, [4]string{"Non", "Sut 1 l", "Olma", "Sovgʻa qutisi"}), withPage(Layout58(), escpos.CP866)},
	} {
		tc.l.Printer.QR = escpos.QRNative
		b.Run(tc.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				p, err := Render(tc.r, tc.l, false)
				if err != nil {
					b.Fatal(err)
				}
				n = len(p.Bytes())
			}
			b.ReportMetric(float64(n), "bytes/receipt")
		})
	}
}

// A receipt whose language is unknown (a queue file from elsewhere, a
// damaged one) prints in English rather than not at all.
func TestUnknownLanguagePrintsEnglish(t *testing.T) {
	r := testReceipt(t)
	r.Lang = "xx"
	_, doc := render(t, r, Layout80(), false)
	for _, want := range []string{"Cashier anna", "Receipt 3-41", "TOTAL", "Subtotal"} {
		if !strings.Contains(doc.Text(), want) {
			t.Errorf("no %q in\n%s", want, doc.Text())
		}
	}
}

// A so'm sale paid in cash, rounded to 100 so'm: the rounding and the
// amount due after it print between the total and the tenders, in the
// store's language (golden: receipt_uz_rounded_58mm).
func TestRoundingRow(t *testing.T) {
	s := somSale([4]string{"Non", "Sut 1 l", "Olma", "Sovgʻa qutisi"})
	tot, err := s.Totals()
	if err != nil {
		t.Fatal(err)
	}
	s.RoundStep, s.Rounding = 100, -25 // 138 125 due 138 100
	s.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: 150000}}
	s.Change = 150000 - (tot.Total + s.Rounding)
	till := ledgertest.NewTill(testStore, 7, 3)
	ev, err := till.Next(s, time.Date(2026, 3, 1, 13, 5, 0, 0, time.UTC).UnixMilli(), "k-r")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		l    i18n.Lang
		want []string
	}{
		{i18n.Uzbek, []string{"JAMI", "138 125 soʻm", "Yaxlitlash", "-25 soʻm", "Toʻlovga", "138 100 soʻm", "Naqd", "Qaytim", "11 900 soʻm"}},
		{i18n.Russian, []string{"ИТОГО", "Округление", "-25 сум", "К оплате", "138 100 сум", "Сдача", "11 900 сум"}},
		{i18n.English, []string{"TOTAL", "Rounding", "Due", "Change"}},
	} {
		r, err := FromSale(ev, Info{Store: "Baraka Market", Number: 3, Receipt: 42, Lang: tc.l, Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		if r.Rounding != -25 {
			t.Fatalf("receipt rounding %d, want -25", r.Rounding)
		}
		p, doc := render(t, r, withPage(Layout58(), escpos.CP866), false)
		if tc.l == i18n.Uzbek {
			golden(t, "receipt_uz_rounded_58mm", hexDump(p.Bytes()))
			golden(t, "receipt_uz_rounded_58mm_parsed", doc.String())
		}
		text := doc.Text()
		at := -1
		for _, want := range tc.want {
			i := strings.Index(text, want)
			if i < 0 {
				t.Errorf("%s: no %q in\n%s", tc.l, want, text)
				continue
			}
			if i < at {
				t.Errorf("%s: %q out of order (total, rounding, due, tenders, change):\n%s", tc.l, want, text)
			}
			at = i
		}
	}
	// Without a rounding no such row prints.
	_, doc := render(t, somReceipt(t, i18n.English, [4]string{"a", "b", "c", "d"}), Layout58(), false)
	if strings.Contains(doc.Text(), "Rounding") || strings.Contains(doc.Text(), "Due") {
		t.Errorf("a sale without rounding prints one:\n%s", doc.Text())
	}
}
