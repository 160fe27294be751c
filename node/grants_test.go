package node_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/ui"
)

// connectedStore starts n fully connected tills with the catalog, a
// manager (1), a cashier (2) and a supervisor (3) on every till, and
// serves each till's UI.
func connectedStore(t *testing.T, n int) ([]*runningTill, []string) {
	t.Helper()
	s := newStore(t, n)
	var rs []*runningTill
	var addrs []string
	for i := range n {
		r := s.start(t, s.tills[i], addrs...)
		rs = append(rs, r)
		addrs = append(addrs, r.addr())
	}
	seed(t, rs[0], 10)
	seedStaff(t, rs[0])
	if err := rs[0].AddStaff(t.Context(), "3", "Sue", ui.RoleSupervisor, "3333"); err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, r := range rs {
		waitFor(t, "staff, catalog and peers everywhere", func() bool {
			_, err1 := r.Authenticate(t.Context(), "3", "3333")
			_, err2 := r.Product(t.Context(), "10003")
			return err1 == nil && err2 == nil && len(r.Host().Certificates()) == n-1
		})
		urls = append(urls, serveUI(t, r))
		// Refunds need an open shift at the till (issue 16).
		if _, _, err := r.Record(t.Context(), &ledger.ShiftOpen{Currency: "EUR", Staff: "1"}, "shift"); err != nil {
			t.Fatal(err)
		}
	}
	return rs, urls
}

// saleOn sells qty of sku at r and waits until every till holds it.
func saleOn(t *testing.T, r *runningTill, key, sku string, qty int64, all []*runningTill) (*ledger.Event, string) {
	t.Helper()
	ev := sell(t, r, key, sku, qty)
	waitFor(t, "the sale on every till", func() bool {
		for _, o := range all {
			if o.DB().Vector()[r.ID()] < ev.Seq {
				return false
			}
		}
		return true
	})
	return ev, receiptNo(r, ev)
}

// raceRefunds sends one refund request per client, released together,
// and returns the status codes.
func raceRefunds(t *testing.T, clients []*web, body func(i int) string) []int {
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make([]int, len(clients))
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i], _ = c.doNoFatal("POST", "/api/refunds", body(i))
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

func refundedQty(r *runningTill, sale ledger.EventID, line int) (qty int64, over []ledger.Overspend) {
	r.DB().View(func(s *ledger.State) {
		rem, _ := s.Fold().Refundable(sale)
		var sold int64
		if sl, _, _, ok := s.Fold().Sale(sale); ok {
			sold = sl.Lines[line].Qty
		}
		if len(rem) > line {
			qty = sold - rem[line].Qty
		}
		over, _ = s.Fold().Overspends()
	})
	return qty, over
}

// TestRefundsSpentOnceAcrossTills: connected tills never over-refund,
// whatever the concurrency. Issue 13: two tills refunded sale 1-14 at
// the same moment and both answered 201.
func TestRefundsSpentOnceAcrossTills(t *testing.T) {
	const tills, perTill = 3, 3
	rs, urls := connectedStore(t, tills)
	var clients []*web
	for range perTill {
		for _, u := range urls {
			clients = append(clients, login(t, u, "1", "1234"))
		}
	}
	for round, qty := range []int64{2, 1, 3} {
		// Round 0: everyone refunds the whole line of 2: one may.
		// Round 1: a line of 5, everyone refunds 1: five may.
		// Round 2: a line of 7, everyone refunds 3: two may.
		sold := map[int]int64{0: 2, 1: 5, 2: 7}[round]
		saleEv, receipt := saleOn(t, rs[round%tills], fmt.Sprintf("race-sale-%d", round), "10003", sold, rs)
		codes := raceRefunds(t, clients, func(i int) string {
			return fmt.Sprintf(`{"idempotency_key":"race-%d-%d","sale":%q,"lines":[{"line":0,"qty":%d}],"tender":"cash"}`, round, i, receipt, qty)
		})
		ok, refused := 0, 0
		for _, c := range codes {
			switch c {
			case http.StatusCreated:
				ok++
			case http.StatusBadRequest:
				refused++
			}
		}
		if want := int(sold / qty); ok != want || ok+refused != len(codes) {
			t.Fatalf("round %d: %d refunds of %d recorded, %d refused (codes %v); want %d recorded, the rest refused", round, ok, qty, refused, codes, want)
		}
		waitFor(t, "every till sees the refunds", func() bool {
			for _, r := range rs {
				if q, _ := refundedQty(r, saleEv.ID(), 0); q != int64(ok)*qty {
					return false
				}
			}
			return true
		})
		for i, r := range rs {
			if _, over := refundedQty(r, saleEv.ID(), 0); len(over) != 0 {
				t.Fatalf("round %d: till %d reports over-spends with the owner reachable: %+v", round, i+1, over)
			}
		}
	}
	want := int64(100 - 2 - 5 - 7 + 2 + 5 + 6)
	waitFor(t, fmt.Sprintf("stock of 10003 at %d on every till", want), func() bool {
		for _, r := range rs {
			if st, _ := r.Stock(t.Context(), "10003"); st.Total != want {
				return false
			}
		}
		return true
	})
}

// TestOfflineRefundPolicy: with the sale's till cut off, a refund is
// refused unless the store allows offline refunds; then a supervisor
// approves it, up to the offline limit, and the over-spend it causes
// is reported on every till with tills, events and amounts.
func TestOfflineRefundPolicy(t *testing.T) {
	rs, urls := connectedStore(t, 2)
	a, b := rs[0], rs[1]
	price := int64(node.DemoCatalog(10)[2].Price)
	// The manager hears of over-spends and anomalies on Telegram.
	botURL, messages := telegramBot(t)
	if err := a.PutOutboxSettings(t.Context(), ui.OutboxSettings{Telegram: ui.TelegramSettings{API: botURL, Chat: "-100123", Token: testBotToken},
		Rules: ui.NotifyRules{Overspend: true, Anomaly: true}}); err != nil {
		t.Fatal(err)
	}
	saleEv, receipt := saleOn(t, a, "off-sale", "10003", 2, rs)
	other, receipt2 := saleOn(t, a, "off-sale-2", "10003", 1, rs)
	a.Host().Block(b.Host().ID())
	b.Host().Block(a.Host().ID())
	waitFor(t, "the tills apart", func() bool { return len(b.Host().Certificates()) == 0 })

	cb := login(t, urls[1], "2", "0000")
	refund := func(key, rcpt string, qty int64, extra string) string {
		return fmt.Sprintf(`{"idempotency_key":%q,"sale":%q,"lines":[{"line":0,"qty":%d}],"tender":"cash"%s}`, key, rcpt, qty, extra)
	}
	if code, out := cb.do("POST", "/api/refunds", refund("o1", receipt, 2, "")); code != 503 || out["need"] != "offline" ||
		!strings.Contains(out["error"].(string), "cannot be reached") {
		t.Fatalf("refund with the owner away: %d %v", code, out)
	}
	if code, out := cb.do("POST", "/api/refunds", refund("o1", receipt, 2, `,"offline":true,"approver":"3","approver_pin":"3333"`)); code != 409 ||
		!strings.Contains(out["error"].(string), "policy refuses") {
		t.Fatalf("offline refund, store refuses them: %d %v", code, out)
	}
	for k, v := range map[string]string{node.SettingOfflineRefunds: "allow", node.SettingOfflineLimit: fmt.Sprint(2 * price)} {
		if err := b.PutSetting(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := cb.do("POST", "/api/refunds", refund("o1", receipt, 2, `,"offline":true`)); code != 403 || out["need"] != "approval" {
		t.Fatalf("offline refund without a supervisor: %d %v", code, out)
	}
	res := cb.must(201, "POST", "/api/refunds", refund("o1", receipt, 2, `,"offline":true,"approver":"3","approver_pin":"3333"`))
	if n(res["total"]) != 2*price {
		t.Fatalf("offline refund: %v", res)
	}
	// The limit is 2 x price per till in 24 hours: one more unit is refused.
	if code, out := cb.do("POST", "/api/refunds", refund("o2", receipt2, 1, `,"offline":true,"approver":"3","approver_pin":"3333"`)); code != 409 ||
		!strings.Contains(out["error"].(string), "limit") {
		t.Fatalf("offline refund above the limit: %d %v", code, out)
	}
	_ = other
	// Meanwhile the owner refunds the same line: it does not know of B's.
	ca := login(t, urls[0], "1", "1234")
	ca.must(201, "POST", "/api/refunds", refund("own", receipt, 2, ""))

	a.Host().Unblock(b.Host().ID())
	b.Host().Unblock(a.Host().ID())
	for i, r := range rs {
		waitFor(t, fmt.Sprintf("the over-spend on till %d", i+1), func() bool {
			_, over := refundedQty(r, saleEv.ID(), 0)
			return len(over) == 1 && len(over[0].Spends) == 2
		})
		_, over := refundedQty(r, saleEv.ID(), 0)
		o := over[0]
		if o.Owner != a.ID() || o.Over != ledger.Money(2*price) || o.Spent != ledger.Money(4*price) {
			t.Fatalf("till %d: over-spend %+v", i+1, o)
		}
		var offline, granted int
		for _, s := range o.Spends {
			switch {
			case s.Offline && s.Till == b.ID():
				offline++
			case s.Grant != nil && s.Till == a.ID():
				granted++
			}
		}
		if offline != 1 || granted != 1 {
			t.Fatalf("till %d: spends %+v", i+1, o.Spends)
		}
	}
	// The manager's report names it.
	rep := login(t, urls[0], "1", "1234").must(200, "GET", "/api/reports", "")
	if an := fmt.Sprint(rep["anomalies"]); !strings.Contains(an, "refunded 4 of 2") {
		t.Fatalf("report anomalies: %v", an)
	}
	ovs, _ := rep["overspends"].([]any)
	if len(ovs) != 1 {
		t.Fatalf("report over-spends: %v", rep["overspends"])
	}
	ov := ovs[0].(map[string]any)
	spends := fmt.Sprint(ov["spends"])
	if ov["sale"] != receipt || n(ov["over"]) != 2*price || !strings.Contains(spends, "offline:true") || !strings.Contains(spends, "till:2") {
		t.Fatalf("report over-spend: %v", ov)
	}
	// Telegram took one message for each, from the sending till, and a
	// further round of the rules sends neither again.
	waitFor(t, "the over-spend and anomaly alerts recorded", func() bool {
		m, err := a.Inventory().OutboxList(t.Context(), "telegram", "alert")
		return err == nil && len(m) == 2
	})
	a.CheckAlerts(t.Context())
	msgs := messages()
	if len(msgs) != 2 || !strings.Contains(strings.Join(msgs, "\n"), "Over-spend: sale "+receipt) ||
		!strings.Contains(strings.Join(msgs, "\n"), "Anomaly in the ledger: sale "+receipt+": line 0 refunded 4 of 2") {
		t.Fatalf("messages %q", msgs)
	}
}

// doNoFatal is do for goroutines other than the test's: a transport
// error comes back as status 0.
func (w *web) doNoFatal(method, path, body string) (int, error) {
	req, _ := http.NewRequest(method, w.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", w.csrf)
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
