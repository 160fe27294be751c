package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/notify"
	"github.com/tillmesh/tillmesh/node/outbox/outboxtest"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

const token = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abc-123"

// bot is the subset of the Telegram Bot API tillmesh uses: sendMessage.
type bot struct {
	mu    sync.Mutex
	texts []string
	down  atomic.Bool
}

func (b *bot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.down.Load() {
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/bot"+token+"/sendMessage" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
		return
	}
	var m struct {
		Chat string `json:"chat_id"`
		Text string `json:"text"`
	}
	if json.NewDecoder(r.Body).Decode(&m) != nil || m.Chat == "" || m.Text == "" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}`)
		return
	}
	b.mu.Lock()
	b.texts = append(b.texts, m.Text)
	n := len(b.texts)
	b.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": map[string]any{"message_id": 100 + n}})
}

func (b *bot) got() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.texts...)
}

type settings map[string]string

func (s settings) read(_ context.Context, name string) ([]byte, bool, error) {
	v, ok := s[name]
	return []byte(v), ok, nil
}

func i64(v int64) *int64 { return &v }

// store makes a ledger with a sale, a large refund, a small refund, a
// void and a shift close at till 1.
func store() (*outboxtest.MemLedger, []*ledger.Event) {
	l := outboxtest.NewMemLedger(1)
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC).UnixMilli()
	sale := l.Append(0, ledgertest.Sale3(), now)
	big := l.Append(0, &ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "2", Reason: "broken",
		Lines:   []ledger.RefundLine{{Line: 1, SKU: "2001", Qty: 1, Amount: 599, Rate: 2000}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 599}}}, now+1000)
	l.Append(0, &ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "2",
		Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 119, Rate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 119}}}, now+2000)
	z := l.Append(0, &ledger.ShiftClose{Currency: "EUR", Staff: "1", Counted: []ledger.Denomination{{Value: 1000, Count: 3}}}, now+3000)
	return l, []*ledger.Event{big, z}
}

func run(t *testing.T, l *outboxtest.MemLedger, c outbox.Connector) *outbox.Outbox {
	cfg := outbox.DefaultConfig()
	cfg.Connectors = []outbox.Connector{c}
	cfg.Ledger, cfg.Store, cfg.Number = l, outboxtest.NewMemStore(), l.Number
	cfg.Leader = func() bool { return true }
	cfg.MinBackoff, cfg.MaxBackoff, cfg.Poll = 5*time.Millisecond, 20*time.Millisecond, 10*time.Millisecond
	cfg.Logger = testkit.Quiet()
	o, err := outbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); o.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return o
}

func TestTelegramRulesOnceInOrder(t *testing.T) {
	b := &bot{}
	b.down.Store(true) // the internet is down at first
	srv := httptest.NewServer(b)
	defer srv.Close()
	l, want := store()
	tg, _ := json.Marshal(notify.TelegramSettings{API: srv.URL, Token: token, Chat: "-1001234"})
	rules, _ := json.Marshal(notify.Rules{ShiftClosed: true, RefundOver: i64(500)})
	s := settings{notify.TelegramSetting: string(tg), notify.RulesSetting: string(rules)}
	o := run(t, l, notify.NewTelegram(s.read, nil, nil))
	testkit.WaitFor(t, "backlog of two", 5*time.Second, func() bool { return o.Status()[0].Pending == 2 })
	if len(b.got()) != 0 {
		t.Fatal("sent while down")
	}
	b.down.Store(false)
	testkit.WaitFor(t, "sent", 5*time.Second, func() bool { return o.Status()[0].Pending == 0 && len(b.got()) == 2 })
	got := b.got()
	if !strings.Contains(got[0], "Refund of 5.99 EUR at till 1, receipt 1-2") || !strings.Contains(got[0], "broken") ||
		!strings.Contains(got[1], "Till 1 closed its shift") || !strings.Contains(got[1], "30.00 EUR") {
		t.Fatalf("messages %q", got)
	}
	for _, ev := range want {
		rec, _ := o.Record(t.Context(), "telegram", ev.ID())
		if rec == nil || rec.State != outbox.Sent || !strings.HasPrefix(rec.Ref, "-1001234/") {
			t.Fatalf("record %+v", rec)
		}
	}
	if st := o.Status()[0]; st.Line != "telegram: all sent" || st.Sent != 2 {
		t.Fatalf("status %+v", st)
	}
}

func TestTelegramWrongToken(t *testing.T) {
	b := &bot{}
	srv := httptest.NewServer(b)
	defer srv.Close()
	l, _ := store()
	tg, _ := json.Marshal(notify.TelegramSettings{API: srv.URL, Token: "99:" + strings.Repeat("x", 30), Chat: "-1001234"})
	rules, _ := json.Marshal(notify.Rules{ShiftClosed: true})
	s := settings{notify.TelegramSetting: string(tg), notify.RulesSetting: string(rules)}
	o := run(t, l, notify.NewTelegram(s.read, nil, nil))
	testkit.WaitFor(t, "dead letter", 5*time.Second, func() bool { return o.Status()[0].Dead == 1 })
	dl, _ := o.DeadLetters(t.Context())
	if len(dl) != 1 || dl[0].Code != "telegram_401" || !strings.Contains(dl[0].Reason, "bot token") || strings.Contains(dl[0].Reason, "xxxx") {
		t.Fatalf("dead letters %+v", dl)
	}
}

func TestTelegramSettingsChecked(t *testing.T) {
	for _, s := range []notify.TelegramSettings{
		{Token: "nope", Chat: "-1"},
		{Token: token, Chat: "chat with spaces"},
		{Token: token, Chat: "-1", API: "ftp://x"},
	} {
		if err := s.Check(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

func TestWebhookSignedOnce(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	var mu sync.Mutex
	var ids []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig := r.Header.Get(notify.SignatureHeader)
		ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
		unix, _ := strconv.ParseInt(ts, 10, 64)
		if want := notify.Sign(secret, time.Unix(unix, 0), body); sig != want {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p notify.Payload
		if json.Unmarshal(body, &p) != nil || p.ID != r.Header.Get(notify.EventHeader) {
			http.Error(w, "bad body", 400)
			return
		}
		mu.Lock()
		ids = append(ids, p.ID)
		mu.Unlock()
	}))
	defer srv.Close()
	l, want := store()
	wh, _ := json.Marshal(notify.WebhookSettings{URL: srv.URL, Secret: secret, AllowInternal: true})
	rules, _ := json.Marshal(notify.Rules{ShiftClosed: true, RefundOver: i64(500)})
	s := settings{notify.WebhookSetting: string(wh), notify.RulesSetting: string(rules)}
	o := run(t, l, notify.NewWebhook(s.read, nil, time.Now))
	testkit.WaitFor(t, "sent", 5*time.Second, func() bool { return o.Status()[0].Sent == 2 })
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 2 || ids[0] != want[0].ID().String() || ids[1] != want[1].ID().String() {
		t.Fatalf("webhook got %v", ids)
	}
	if st := o.Status()[0]; st.Dead != 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestWebhookRefusals(t *testing.T) {
	redirect := httptest.NewServer(http.RedirectHandler("https://elsewhere.example/hook", http.StatusFound))
	defer redirect.Close()
	cases := []struct {
		name  string
		s     notify.WebhookSettings
		code  string
		words string
	}{
		{"redirect", notify.WebhookSettings{URL: redirect.URL, AllowInternal: true}, "redirect", "redirects are not followed"},
		// The URL names a public-looking host that resolves to loopback:
		// refused on the address dialed.
		{"loopback not allowed", notify.WebhookSettings{URL: "https://localhost:1/hook"}, "internal_address", "internal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.s.Secret = "0123456789abcdef-secret"
			l, _ := store()
			wh, _ := json.Marshal(c.s)
			rules, _ := json.Marshal(notify.Rules{ShiftClosed: true})
			s := settings{notify.WebhookSetting: string(wh), notify.RulesSetting: string(rules)}
			o := run(t, l, notify.NewWebhook(s.read, nil, time.Now))
			testkit.WaitFor(t, "dead letter", 5*time.Second, func() bool { return o.Status()[0].Dead == 1 })
			dl, _ := o.DeadLetters(t.Context())
			if dl[0].Code != c.code || !strings.Contains(dl[0].Reason, c.words) {
				t.Fatalf("dead letter %+v", dl[0])
			}
		})
	}
	for _, s := range []notify.WebhookSettings{
		{URL: "http://hooks.example/x", Secret: "0123456789abcdef"}, // plain http outside
		{URL: "http://127.0.0.1:9/x", Secret: "0123456789abcdef"},   // internal, not allowed
		{URL: "https://hooks.example/x", Secret: "short"},           // weak secret
		{URL: "https://user:pw@hooks.example/x", Secret: "0123456789abcdef"},
	} {
		if err := s.Check(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}
