package node_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Every drawer event prints its slip; the X report prints on demand; a
// slip can be reprinted.
func TestSlipsPrintForEveryDrawerEvent(t *testing.T) {
	s := newStore(t, 1)
	set := sim.NewSet()
	a := s.startWith(t, s.tills[0], set)
	seed(t, a, 3)
	ctx := t.Context()
	if err := a.PrintX(ctx); err == nil || !strings.Contains(err.Error(), "no shift is open") {
		t.Fatalf("X report without a shift: %v", err)
	}
	rec := func(b ledger.Body, key string) *ledger.Event {
		t.Helper()
		ev, _, err := a.Record(ctx, b, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return ev
	}
	rec(&ledger.ShiftOpen{Currency: "EUR", Float: 5000, Staff: "1"}, "open")
	sale := sell(t, a, "s1", "10001", 2)
	var lines []ledger.RefundLine
	var err error
	a.View(func(st *ledger.State) {
		lines, err = st.Fold().RefundLines(sale.ID(), []ledger.Pick{{Line: 0, Qty: 1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	rec(&ledger.Refund{Sale: sale.ID(), Currency: "EUR", Lines: lines, Staff: "1", Reason: "sour",
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}, "r1")
	rec(&ledger.CashIn{Currency: "EUR", Amount: 1000, Reason: "float top-up", Staff: "1"}, "ci")
	out := rec(&ledger.CashOut{Currency: "EUR", Amount: 700, Reason: "safe drop", Staff: "1"}, "co")
	rec(&ledger.NoSale{Reason: "change for a customer", Staff: "1"}, "ns")
	rec(&ledger.Return{Currency: "EUR", TaxIncluded: true, Reason: "no receipt", Staff: "1", Approver: "3",
		Lines:   []ledger.Line{{SKU: "10002", Name: "Bread", Qty: 1, UnitPrice: 249, TaxRate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 249}}}, "ret")
	if err := a.PrintX(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"REFUND", "CASH IN", "CASH OUT", "NO SALE", "RETURN, NO RECEIPT", "X REPORT"}
	printed := func() string {
		var all []string
		for _, r := range set.Printer.Receipts() {
			all = append(all, r.Text())
		}
		return strings.Join(all, "\n====\n")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("printed:\n%s\nstatus %+v", printed(), a.Hardware().Status())
		}
	})
	waitFor(t, "every slip printed", func() bool {
		p := printed()
		for _, w := range want {
			if !strings.Contains(p, w) {
				return false
			}
		}
		return true
	})
	p := printed()
	for _, w := range []string{"safe drop", "sour", "float top-up", "change for a customer", "Cash expected"} {
		if !strings.Contains(p, w) {
			t.Errorf("printed slips lack %q:\n%s", w, p)
		}
	}
	n := len(set.Printer.Receipts())
	if err := a.Reprint(ctx, out.ID()); err != nil {
		t.Fatalf("reprint the cash-out slip: %v", err)
	}
	waitFor(t, "the reprinted slip", func() bool { return len(set.Printer.Receipts()) == n+1 })
	if last := set.Printer.Receipts()[n].Text(); !strings.Contains(last, "CASH OUT") || !strings.Contains(strings.ToUpper(last), "COPY") {
		t.Fatalf("reprint:\n%s", last)
	}
}

// An exchange prints one document: the goods back, the new goods and the
// difference (its return prints no slip of its own); a replay prints
// nothing more.
func TestExchangePrintsOneReceipt(t *testing.T) {
	s := newStore(t, 1)
	set := sim.NewSet()
	a := s.startWith(t, s.tills[0], set)
	seed(t, a, 3)
	seedStaff(t, a)
	if _, _, err := a.Record(t.Context(), &ledger.ShiftOpen{Currency: "EUR", Staff: "1"}, "shift"); err != nil {
		t.Fatal(err)
	}
	m := login(t, serveUI(t, a), "1", "1234")
	m.must(200, "POST", "/api/cart/lines", `{"sku":"10001"}`)
	req := `{"idempotency_key":"x1","lines":[{"sku":"10003","qty":1}],"reason":"wrong size","tender":"store_credit","ref":"SC-9"}`
	out := m.must(201, "POST", "/api/exchanges", req)
	waitFor(t, "the exchange receipt", func() bool { return len(set.Printer.Receipts()) > 0 })
	m.must(200, "POST", "/api/exchanges", req)
	// A plain sale after it: printed after the exchange's one document.
	sell(t, a, "after", "10002", 1)
	waitFor(t, "the next sale's receipt", func() bool { return len(set.Printer.Receipts()) >= 2 })
	rs := set.Printer.Receipts()
	if len(rs) != 2 {
		t.Fatalf("%d documents printed for an exchange and a sale, want 2", len(rs))
	}
	p := rs[0].Text()
	for _, w := range []string{"EXCHANGE", "Goods back", "New goods", "Difference given back", "Store credit SC-9", "wrong size"} {
		if !strings.Contains(p, w) {
			t.Errorf("the exchange receipt lacks %q:\n%s", w, p)
		}
	}
	if strings.Contains(p, "RETURN, NO RECEIPT") || n(out["difference"]) >= 0 {
		t.Fatalf("exchange %v printed:\n%s", out, p)
	}
}

// The store's language, currency and time zone settings (issue 20) make
// the receipts and slips: an Uzbek sale receipt and cash-in slip, their
// time in Tashkent; an unknown language prints in English and the till
// keeps selling.
func TestPrintoutsInStoreLanguage(t *testing.T) {
	s := newStore(t, 1)
	set := sim.NewSet()
	a := s.startWith(t, s.tills[0], set)
	seed(t, a, 3)
	ctx := t.Context()
	for k, v := range map[string]string{"language": "uz", "time_zone": "Asia/Tashkent"} {
		if err := a.PutSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := a.Record(ctx, &ledger.ShiftOpen{Currency: "EUR", Float: 5000, Staff: "1"}, "open"); err != nil {
		t.Fatal(err)
	}
	ev := sell(t, a, "s1", "10001", 2)
	if _, _, err := a.Record(ctx, &ledger.CashIn{Currency: "EUR", Amount: 1000, Reason: "mayda pul", Staff: "1"}, "ci"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the receipt and the slip printed", func() bool { return len(set.Printer.Receipts()) == 2 })
	eur, err := i18n.LookupCurrency("EUR")
	if err != nil {
		t.Fatal(err)
	}
	tashkent, err := time.LoadLocation("Asia/Tashkent")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	at := time.UnixMilli(ev.Time.Wall).In(tashkent).Format("02.01.2006 15:04")
	sale, slip := set.Printer.Receipts()[0].Text(), set.Printer.Receipts()[1].Text()
	for _, want := range []string{"Kassir api", "Chek ", at, "Oraliq jami", "JAMI", "Naqd", "Qaytim", "Narxlarga soliq kiritilgan"} {
		if !strings.Contains(sale, want) {
			t.Errorf("the sale receipt lacks %q:\n%s", want, sale)
		}
	}
	for _, want := range []string{"KASSAGA KIRIM", "Qutiga", strings.ReplaceAll(i18n.FormatMoney(i18n.Uzbek, eur, 1000), "\u00a0", " "), "Sabab", "mayda pul"} {
		if !strings.Contains(slip, want) {
			t.Errorf("the cash-in slip lacks %q:\n%s", want, slip)
		}
	}
	for _, english := range []string{"Cashier", "TOTAL", "Change", "Reason", "CASH IN"} {
		if strings.Contains(sale+slip, english) {
			t.Errorf("an Uzbek printout says %q:\n%s\n%s", english, sale, slip)
		}
	}
	if err := a.PutSetting(ctx, "language", "xx"); err != nil {
		t.Fatal(err)
	}
	sell(t, a, "s2", "10001", 1)
	waitFor(t, "the next receipt printed", func() bool { return len(set.Printer.Receipts()) == 3 })
	if txt := set.Printer.Receipts()[2].Text(); !strings.Contains(txt, "TOTAL") || !strings.Contains(txt, "Cashier api") {
		t.Errorf("a store with an unknown language does not print in English:\n%s", txt)
	}
}
