package browsertest_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/ui"
)

// TestOfflineRefundInTheBrowser: till 2 refunds till 1's sale while
// till 1 cannot be reached; the store allows offline refunds, so the
// refund screen asks for a supervisor's approval and records the refund
// as an offline spend approved by the supervisor.
func TestOfflineRefundInTheBrowser(t *testing.T) {
	path := chromiumOrSkip(t)
	store, dirs := enrolledStore(t, "Corner Shop", "Till 1", "Till 2")
	a := startTill(t, store, dirs[0])
	b := startTill(t, store, dirs[1], a.Host().Addrs()[0].String())
	ctx := t.Context()
	cat := node.DemoCatalog(2)
	for _, p := range cat {
		if err := a.Inventory().PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct {
		id, name, pin string
		role          ui.Role
	}{{"2", "Carl Cashier", "0000", ui.RoleCashier}, {"3", "Sue Supervisor", "3333", ui.RoleSupervisor}} {
		if err := a.AddStaff(ctx, s.id, s.name, s.role, s.pin); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{node.SettingOfflineRefunds: "allow", node.SettingOfflineLimit: "10000"} {
		if err := b.PutSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	sale, _, err := a.Record(ctx, &ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "2",
		Lines:   []ledger.Line{{SKU: cat[0].SKU, Qty: 2, UnitPrice: 350, TaxRate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 700}}}, "sale")
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	a.View(func(s *ledger.State) { n, _ = s.ReceiptNumber(a.ID(), sale.Seq) })
	receipt := ledger.ReceiptNo(1, n)
	waitFor(t, "the sale and staff on till 2", func() bool {
		found := false
		b.View(func(s *ledger.State) { _, _, _, found = s.Fold().Sale(sale.ID()) })
		_, err := b.Authenticate(ctx, "3", "3333")
		return found && err == nil
	})
	if _, _, err := b.Record(ctx, &ledger.ShiftOpen{Currency: "EUR", Float: 5000, Staff: "2"}, "open-b"); err != nil {
		t.Fatal(err)
	}
	a.Host().Block(b.Host().ID())
	b.Host().Block(a.Host().ID())
	waitFor(t, "the tills apart", func() bool { return len(b.Host().Certificates()) == 0 })

	br := newBrowser(t, path)
	p := br.page("till2")
	login(t, p, b.url, "2", "0000")
	nav(t, p, "refund")
	setInput(t, p, "#refund-ref", receipt)
	do(t, p, "find the sale", chromedp.Click("#refund-find button"))
	until(t, p, "the sale", `!document.querySelector('#refund-form').hidden && document.querySelector('#refund-sale input.pick') !== null`)
	setInput(t, p, "#refund-sale input.pick", "1")
	do(t, p, "refund", chromedp.Click("#refund-btn"))
	dialog(t, p, "Refund offline?")
	setInput(t, p, `#dlg input[name=m]`, "3")
	setInput(t, p, `#dlg input[name=p]`, "3333")
	br.shot(p, "offline-refund")
	do(t, p, "approve", chromedp.Click("#dlg-ok"))
	dialogClosed(t, p)
	until(t, p, "the refund recorded", `document.querySelector('#refund-msg').textContent.includes('recorded')`)

	var rf *ledger.Refund
	var head uint64
	b.View(func(s *ledger.State) { head, _, _ = s.Head(b.ID()) })
	for seq := head; seq > 0 && rf == nil; seq-- {
		if ev, err := b.Event(b.ID(), seq); err == nil {
			rf, _ = ev.Body.(*ledger.Refund)
		}
	}
	if rf == nil || rf.Offline == nil || rf.Offline.Approver != "3" || rf.Sale != sale.ID() {
		t.Fatalf("till 2's refund %+v: want an offline spend of sale %s approved by 3", rf, receipt)
	}
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %s", strings.Join(errs, "; "))
	}
}
