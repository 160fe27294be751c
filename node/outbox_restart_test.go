package node_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// refund sells one item at r and refunds it: with the rule "refund over
// 0" each refund is one Telegram message.
func refund(t *testing.T, r *runningTill, key string) *ledger.Event {
	t.Helper()
	return refundOf(t, r, key, "10001")
}

// refundOf sells one of sku at r and refunds it.
func refundOf(t *testing.T, r *runningTill, key, sku string) *ledger.Event {
	t.Helper()
	sale := sell(t, r, key, sku, 1)
	var lines []ledger.RefundLine
	var err error
	r.View(func(st *ledger.State) {
		lines, err = st.Fold().RefundLines(sale.ID(), []ledger.Pick{{Line: 0, Qty: 1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	ev, _, err := r.Record(t.Context(), &ledger.Refund{Sale: sale.ID(), Currency: "EUR", Lines: lines, Staff: "1", Reason: key,
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}, "refund-"+key)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// recorded waits until r's inventory holds the outbox results of evs.
func recorded(t *testing.T, r *runningTill, connector string, evs ...*ledger.Event) {
	t.Helper()
	waitFor(t, "outbox records replicated", func() bool {
		for _, ev := range evs {
			if _, err := r.Inventory().OutboxGet(t.Context(), connector, "item", ev.ID().String()); err != nil {
				return false
			}
		}
		return true
	})
}

// TestRestartWithoutHQSendsNothingTwice: a store without HQ. Till 1 (the
// lowest) sends the Telegram messages; it stops, till 2 takes over and
// sends the next ones; till 1 restarts with an inventory that has not
// heard of them. It meets till 2 and takes till 2's outbox state before
// it sends again: no message goes out twice (Telegram has no
// idempotency key), and what it records later is sent once.
func TestRestartWithoutHQSendsNothingTwice(t *testing.T) {
	url, texts := telegramBot(t)
	s := newStore(t, 2)
	t1 := s.start(t, s.tills[0])
	t2 := s.start(t, s.tills[1], t1.addr())
	seed(t, t1, 3)
	zero := int64(0)
	if err := t1.PutOutboxSettings(t.Context(), ui.OutboxSettings{
		Telegram: ui.TelegramSettings{API: url, Chat: "-100123", Token: testBotToken},
		Rules:    ui.NotifyRules{RefundOver: &zero}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the settings at till 2", func() bool {
		st, err := t2.OutboxSettings(t.Context())
		return err == nil && st.Telegram.Chat != ""
	})
	for _, r := range []*runningTill{t1, t2} {
		if _, _, err := r.Record(t.Context(), &ledger.ShiftOpen{Currency: "EUR", Float: 5000, Staff: "1"}, fmt.Sprintf("open-%p", r)); err != nil {
			t.Fatal(err)
		}
	}
	a1, a2 := refund(t, t1, "a1"), refund(t, t1, "a2")
	waitFor(t, "two messages", func() bool { return len(texts()) == 2 })
	// Till 2 has till 1's records before till 1 stops (a till that
	// stops before its records reach anyone leaves them to be sent
	// again: the failover bound in docs/ARCHITECTURE.md).
	recorded(t, t2, "telegram", a1, a2)
	t1.stop()

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("till 2: %+v", t2.Status(t.Context()).Outbox)
			t.Logf("messages %q", texts())
			for _, p := range t2.Host().Peers() {
				t.Logf("till 2 peer %d connected %v admitted %v problem %q addrs %d", p.Number, p.Connected, p.Admitted, p.Problem, len(p.Addrs))
			}
		}
	})
	refund(t, t2, "b1")
	refund(t, t2, "b2")
	refund(t, t2, "b3")
	waitFor(t, "till 2 sends the next three", func() bool { return len(texts()) == 5 })

	t1 = s.start(t, s.tills[0], t2.addr())
	refund(t, t1, "a3")
	waitFor(t, "the message of the refund after the restart", func() bool { return len(texts()) >= 6 })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("till 1: %+v", t1.Status(t.Context()).Outbox)
			t.Logf("messages: %q", texts())
		}
	})
	waitFor(t, "all sent at till 1", func() bool {
		for _, o := range t1.Status(t.Context()).Outbox {
			if o.Connector == "telegram" {
				return o.Sending && o.Line == "telegram: all sent"
			}
		}
		return false
	})
	got := texts()
	sorted := append([]string(nil), got...)
	sort.Strings(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			t.Fatalf("sent twice: %q (all: %q)", sorted[i], got)
		}
	}
	if len(got) != 6 {
		t.Fatalf("%d messages, want 6: %q", len(got), got)
	}
}

// TestRefundOverAnAmountAtTheTill: with "refund over 1.00 EUR" a refund
// of 0.49 EUR sends nothing and one of 20.68 EUR sends one message.
func TestRefundOverAnAmountAtTheTill(t *testing.T) {
	url, texts := telegramBot(t)
	s := newStore(t, 1)
	r := s.start(t, s.tills[0])
	seed(t, r, 3)
	limit := int64(100)
	if err := r.PutOutboxSettings(t.Context(), ui.OutboxSettings{
		Telegram: ui.TelegramSettings{API: url, Chat: "-100123", Token: testBotToken},
		Rules:    ui.NotifyRules{RefundOver: &limit}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Record(t.Context(), &ledger.ShiftOpen{Currency: "EUR", Float: 5000, Staff: "1"}, "open"); err != nil {
		t.Fatal(err)
	}
	small := refundOf(t, r, "small", "10001")
	big := refundOf(t, r, "big", "10002")
	recorded(t, r, "telegram", big)
	got := texts()
	if len(got) != 1 || !strings.Contains(got[0], ": big.") {
		t.Fatalf("messages %q, want the big refund only", got)
	}
	if _, err := r.Inventory().OutboxGet(t.Context(), "telegram", "item", small.ID().String()); err == nil {
		t.Fatal("the small refund has an outbox record")
	}
}
