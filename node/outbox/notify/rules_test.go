package notify_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/outbox/notify"
)

// TestRefundOrVoidOverAnAmount: the rule sends a refund, a return
// without a receipt or a void whose amount (tax included) reaches the
// manager's threshold, and nothing below it or with the rule off.
func TestRefundOrVoidOverAnAmount(t *testing.T) {
	refund := func(amounts ...int64) *ledger.Event {
		b := &ledger.Refund{Currency: "EUR", Staff: "1"}
		for i, a := range amounts {
			b.Lines = append(b.Lines, ledger.RefundLine{Line: i, SKU: "1", Qty: 1, Amount: ledger.Money(a)})
		}
		return &ledger.Event{Body: b}
	}
	void := func(total int64) *ledger.Event {
		return &ledger.Event{Body: &ledger.Void{Currency: "EUR", Total: ledger.Money(total), Manager: "3"}}
	}
	ret := func(price int64) *ledger.Event {
		return &ledger.Event{Body: &ledger.Return{Currency: "EUR", TaxIncluded: true, Reason: "no receipt", Staff: "1",
			Lines:   []ledger.Line{{SKU: "1", Name: "Bread", Qty: 2, UnitPrice: ledger.Money(price), TaxRate: 700}},
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: ledger.Money(2 * price)}}}}
	}
	cases := []struct {
		name  string
		rules notify.Rules
		ev    *ledger.Event
		want  bool
	}{
		{"refund below", notify.Rules{RefundOver: i64(5000)}, refund(2000, 2999), false},
		{"refund at", notify.Rules{RefundOver: i64(5000)}, refund(2000, 3000), true},
		{"refund above", notify.Rules{RefundOver: i64(5000)}, refund(9000), true},
		{"refund, rule off", notify.Rules{VoidOver: i64(0)}, refund(9000), false},
		{"void below", notify.Rules{VoidOver: i64(10000)}, void(9999), false},
		{"void at", notify.Rules{VoidOver: i64(10000)}, void(10000), true},
		{"void, refund rule only", notify.Rules{RefundOver: i64(0)}, void(10000), false},
		{"return below", notify.Rules{RefundOver: i64(1000)}, ret(499), false},
		{"return at", notify.Rules{RefundOver: i64(1000)}, ret(500), true},
		{"sale", notify.Rules{RefundOver: i64(0), VoidOver: i64(0)}, &ledger.Event{Body: &ledger.Sale{}}, false},
	}
	tg, _ := json.Marshal(notify.TelegramSettings{Token: token, Chat: "-1001234"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules, _ := json.Marshal(c.rules)
			s := settings{notify.TelegramSetting: string(tg), notify.RulesSetting: string(rules)}
			conn := notify.NewTelegram(s.read, nil, nil)
			if ok, err := conn.Prepare(context.Background()); !ok || err != nil {
				t.Fatalf("prepare: %v %v", ok, err)
			}
			if got := conn.Wants(c.ev); got != c.want {
				t.Fatalf("Wants = %v, want %v", got, c.want)
			}
		})
	}
	if err := (notify.Rules{RefundOver: i64(-1)}).Check(); err == nil {
		t.Fatal("a negative threshold accepted")
	}
}
