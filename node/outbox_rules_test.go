package node_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ui"
)

// TestLowStockAlertOnce: a manager asks to hear of low stock; selling a
// product down to its reorder point sends one message naming it, and
// later checks (the till looks every 5 s) send no second one.
func TestLowStockAlertOnce(t *testing.T) {
	botURL, texts := telegramBot(t)
	s := newStore(t, 1)
	r := s.start(t, s.tills[0])
	seed(t, r, 3)
	p, err := r.Inventory().Product(t.Context(), "10002")
	if err != nil {
		t.Fatal(err)
	}
	p.Reorder = 95
	if err := r.Inventory().PutProduct(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	err = r.PutOutboxSettings(t.Context(), ui.OutboxSettings{
		Telegram: ui.TelegramSettings{API: botURL, Chat: "-100123", Token: testBotToken},
		Rules:    ui.NotifyRules{LowStock: true}})
	if err != nil {
		t.Fatal(err)
	}
	sell(t, r, "s1", "10002", 4) // 96 left: above the reorder point
	sell(t, r, "s2", "10001", 1)
	sell(t, r, "s3", "10002", 1) // 95: at it
	waitFor(t, "the low stock alert", func() bool { return len(texts()) > 0 })
	first := texts()[0]
	if !strings.Contains(first, "Low stock: ") || !strings.Contains(first, "(10002) is at 95, reorder point 95") {
		t.Fatalf("alert %q", first)
	}
	// Once recorded, more rounds of the rules send nothing again.
	waitFor(t, "the alert recorded", func() bool {
		m, err := r.Inventory().OutboxList(t.Context(), "telegram", "alert")
		return err == nil && len(m) == 1
	})
	r.CheckAlerts(t.Context())
	r.CheckAlerts(t.Context())
	if got := texts(); len(got) != 1 {
		t.Fatalf("%d messages, want 1: %q", len(got), got)
	}
}

// TestOutboxSettingsKeepSecretAndSince: for each destination, a write
// that leaves the secret empty keeps the stored one, Since stays where
// the first write set it, a bad value changes nothing, and an empty
// address turns the destination off.
func TestOutboxSettingsKeepSecretAndSince(t *testing.T) {
	s := newStore(t, 1)
	r := s.start(t, s.tills[0])
	type stored struct {
		Token, Secret string
		Since         int64
	}
	read := func(name string) (stored, bool) {
		b, err := r.Inventory().Setting(t.Context(), name)
		if err != nil {
			return stored{}, false
		}
		var v stored
		json.Unmarshal(b, &v)
		return v, true
	}
	full := ui.OutboxSettings{
		Fiscal:   ui.FiscalSettings{URL: "http://127.0.0.1:1/fiscal", TIN: "201234567", Token: "fiscal-token"},
		Telegram: ui.TelegramSettings{Chat: "-100123", Token: testBotToken},
		Webhook:  ui.WebhookSettings{URL: "http://127.0.0.1:1/hook", AllowInternal: true, Secret: "0123456789abcdef-secret"},
	}
	if err := r.PutOutboxSettings(t.Context(), full); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"outbox.fiscal": "fiscal-token", "outbox.telegram": testBotToken, "outbox.webhook": "0123456789abcdef-secret"}
	first := map[string]stored{}
	for name, secret := range names {
		v, ok := read(name)
		if !ok || v.Since == 0 || (v.Token != secret && v.Secret != secret) {
			t.Fatalf("%s after the first write: %+v", name, v)
		}
		first[name] = v
	}
	noSecrets := full
	noSecrets.Fiscal.Token, noSecrets.Telegram.Token, noSecrets.Webhook.Secret = "", "", ""
	noSecrets.Fiscal.TIN = "309876543"
	if err := r.PutOutboxSettings(t.Context(), noSecrets); err != nil {
		t.Fatal(err)
	}
	for name := range names {
		if v, _ := read(name); v != first[name] {
			t.Fatalf("%s after a write without secrets: %+v, want %+v", name, v, first[name])
		}
	}
	bad := noSecrets
	bad.Webhook.URL = "ftp://nope"
	bad.Fiscal.TIN = "111111111" // checked first, then refused with the rest
	if err := r.PutOutboxSettings(t.Context(), bad); !errors.Is(err, ui.ErrBadRequest) {
		t.Fatalf("bad webhook URL: %v", err)
	}
	if b, _ := r.Inventory().Setting(t.Context(), "outbox.fiscal"); !strings.Contains(string(b), "309876543") {
		t.Fatalf("fiscal setting %s", b)
	}
	off := noSecrets
	off.Telegram.Chat = ""
	if err := r.PutOutboxSettings(t.Context(), off); err != nil {
		t.Fatal(err)
	}
	if _, ok := read("outbox.telegram"); ok {
		t.Fatal("telegram still configured after an empty chat")
	}
}
