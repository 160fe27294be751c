package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
	"github.com/tillmesh/tillmesh/ui"
)

// TestOutboxFiscalAcrossTillsAndFailover configures fiscal registration
// on one till's manager screen, sells at two tills (no HQ: the lowest
// numbered till sends), and kills the sending till while it drains a
// backlog left by a fiscal outage: the other till carries on from the
// testBotToken is the bot token telegramBot answers to.
const testBotToken = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abc-123"

// telegramBot is a local Telegram Bot API (sendMessage): its URL and the
// messages it took, in order.
func telegramBot(t *testing.T) (string, func() []string) {
	var mu sync.Mutex
	var texts []string
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Text string `json:"text"`
		}
		if r.URL.Path != "/bot"+testBotToken+"/sendMessage" || json.NewDecoder(r.Body).Decode(&m) != nil {
			http.Error(w, `{"ok":false,"description":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		texts = append(texts, m.Text)
		n := len(texts)
		mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d}}`, n)
	}))
	t.Cleanup(bot.Close)
	return bot.URL, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), texts...) }
}

// replicated state, and every receipt is registered exactly once.
func TestOutboxFiscalAcrossTillsAndFailover(t *testing.T) {
	sim := fiscalsim.NewSim()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	sim.SetBase(srv.URL)
	sim.Set(fiscalsim.Faults{Token: "sekrit-token"})

	s := newStore(t, 2)
	t1 := s.start(t, s.tills[0])
	t2 := s.start(t, s.tills[1], t1.addr())
	seed(t, t1, 5)
	seedStaff(t, t1)
	u2 := serveUI(t, t2)
	waitFor(t, "staff at till 2", func() bool { list, _ := t2.StaffList(t.Context()); return len(list) == 2 })
	m := login(t, u2, "1", "1234")

	// Bad settings are refused and change nothing.
	for _, body := range []string{
		`{"fiscal":{"url":"http://fiscal.example","tin":"123"}}`,
		`{"fiscal":{"url":"` + srv.URL + `","tin":""}}`,
		`{"telegram":{"chat":"-100","token":"not-a-token"}}`,
		`{"webhook":{"url":"https://x.example/h","secret":"short"}}`,
		`{"rules":{"refund_over":-5}}`,
		`{"fiscal":{"url":"` + srv.URL + `","tin":"123"},"nonsense":1}`,
	} {
		m.must(400, "PUT", "/api/outbox/settings", body)
	}
	if got := m.must(200, "GET", "/api/outbox/settings", ""); got["fiscal"].(map[string]any)["url"] != "" {
		t.Fatalf("a refused write changed the settings: %v", got)
	}
	cashier := login(t, u2, "2", "0000")
	cashier.must(403, "PUT", "/api/outbox/settings", `{"fiscal":{"url":"`+srv.URL+`","tin":"123"}}`)

	got := m.must(200, "PUT", "/api/outbox/settings", `{"fiscal":{"url":"`+srv.URL+`","tin":"201234567","token":"sekrit-token"},"rules":{"shift_closed":true}}`)
	f := got["fiscal"].(map[string]any)
	if f["token_set"] != true || f["token"] != nil || strings.Contains(fmt.Sprint(got), "sekrit") {
		t.Fatalf("settings read back: %v", got)
	}
	// The token is kept when a later write leaves it empty.
	m.must(200, "PUT", "/api/outbox/settings", `{"fiscal":{"url":"`+srv.URL+`","tin":"201234567"},"rules":{"shift_closed":true}}`)

	var sales []*ledger.Event
	for i := range 3 {
		sales = append(sales, sell(t, t1, fmt.Sprintf("a%d", i), "10001", 1), sell(t, t2, fmt.Sprintf("b%d", i), "10002", 1))
	}
	waitFor(t, "six receipts registered", func() bool { return sim.Stats().Registered == 6 })
	waitFor(t, "records at till 2", func() bool {
		out := m.must(200, "GET", "/api/outbox/fiscal/"+sales[0].ID().String(), "")
		return out["state"] == "sent"
	})
	out := m.must(200, "GET", "/api/outbox/fiscal/"+sales[0].ID().String(), "")
	reg, _ := sim.Get(sales[0].ID().String())
	if out["fiscal_number"] != reg.Number || !strings.Contains(out["url"].(string), "/check?n="+reg.Number) {
		t.Fatalf("fiscal record %v, simulator %+v", out, reg)
	}
	m.must(400, "GET", "/api/outbox/fiscal/nothex", "")
	waitFor(t, "status line", func() bool {
		return strings.Contains(fmt.Sprint(t2.Status(t.Context()).Outbox), "fiscal: all sent")
	})

	// The fiscal service goes away; both tills keep selling.
	sim.Set(fiscalsim.Faults{Token: "sekrit-token", Down: true})
	var idle []time.Duration
	for i := range 20 {
		sales = append(sales, sell(t, t1, fmt.Sprintf("c%d", i), "10001", 1))
		start := time.Now()
		sales = append(sales, sell(t, t2, fmt.Sprintf("d%d", i), "10002", 1))
		idle = append(idle, time.Since(start))
	}
	waitFor(t, "backlog of 40 at till 2", func() bool {
		for _, o := range t2.Status(t.Context()).Outbox {
			if o.Connector == "fiscal" && o.Pending == 40 && strings.HasPrefix(o.Line, "fiscal: 40 receipts pending, oldest ") {
				return true
			}
		}
		return false
	})
	// It comes back slowly; the sending till (1) dies mid-drain.
	sim.Set(fiscalsim.Faults{Token: "sekrit-token", Delay: fiscalsim.Duration(100 * time.Millisecond)})
	waitFor(t, "drain under way", func() bool { return sim.Stats().Registered >= 10 })
	t1.stop()
	// Till 2 sells while it drains: selling never waits for the outbox
	// (the figures are logged, not asserted: see BENCHMARKS.md).
	var draining []time.Duration
	for i := range 20 {
		start := time.Now()
		sales = append(sales, sell(t, t2, fmt.Sprintf("e%d", i), "10002", 1))
		draining = append(draining, time.Since(start))
	}
	t.Logf("sale latency at till 2: median %v, max %v while the service was down; median %v, max %v while draining",
		median(idle), slices.Max(idle), median(draining), slices.Max(draining))
	waitFor(t, "till 2 drained the rest", func() bool { return sim.Stats().Registered == len(sales) })
	waitFor(t, "every record at till 2", func() bool {
		for _, ev := range sales {
			rec, err := t2.FiscalRecord(t.Context(), ev.ID().String())
			if err != nil || rec.State != "sent" {
				return false
			}
		}
		return true
	})
	numbers := map[string]bool{}
	for _, ev := range sales {
		rec, _ := t2.FiscalRecord(t.Context(), ev.ID().String())
		reg, _ := sim.Get(ev.ID().String())
		if rec.Number != reg.Number || numbers[rec.Number] {
			t.Fatalf("receipt %s: recorded %q, simulator %q", ev.ID(), rec.Number, reg.Number)
		}
		numbers[rec.Number] = true
	}
	st := sim.Stats()
	t.Logf("simulator: %+v", st)
	if st.Duplicates > 16+64 {
		t.Fatalf("%d repeated requests after the failover", st.Duplicates)
	}
}

func median(d []time.Duration) time.Duration {
	c := slices.Clone(d)
	slices.Sort(c)
	return c[len(c)/2]
}

// TestShiftCloseSendsZToTelegram: a manager asks for closed shifts on
// Telegram; closing a shift sends its Z summary once.
func TestShiftCloseSendsZToTelegram(t *testing.T) {
	botURL, texts := telegramBot(t)
	s := newStore(t, 1)
	r := s.start(t, s.tills[0])
	seed(t, r, 3)
	err := r.PutOutboxSettings(t.Context(), ui.OutboxSettings{
		Telegram: ui.TelegramSettings{API: botURL, Chat: "-100123", Token: testBotToken},
		Rules:    ui.NotifyRules{ShiftClosed: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Record(t.Context(), &ledger.ShiftOpen{Currency: "EUR", Float: 10000, Staff: "1"}, "open"); err != nil {
		t.Fatal(err)
	}
	sell(t, r, "s1", "10001", 2)
	if _, _, err := r.Record(t.Context(), &ledger.ShiftClose{Currency: "EUR", Staff: "1",
		Counted: []ledger.Denomination{{Value: 10000, Count: 1}}}, "close"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Z summary on Telegram", func() bool { return len(texts()) == 1 })
	if got := texts(); !strings.Contains(got[0], "Till 1 closed its shift (staff 1), Z report: 1 sales") || !strings.Contains(got[0], "over/short") {
		t.Fatalf("message %q", got[0])
	}
}

// TestAlertsForFiscalBacklogAndSilentTill: with the fiscal service away
// and a till gone, the clock moves two hours on: the manager hears once
// of each, per rule.
func TestAlertsForFiscalBacklogAndSilentTill(t *testing.T) {
	botURL, texts := telegramBot(t)
	sim := fiscalsim.NewSim()
	fs := httptest.NewServer(sim.Handler())
	defer fs.Close()
	sim.Set(fiscalsim.Faults{Down: true})

	s := newStore(t, 2)
	var skew atomic.Int64
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = s.tills[0], s.store, quiet()
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, false
	cfg.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	till, err := node.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t1 := &runningTill{Till: till, cancel: cancel, done: make(chan error, 1)}
	go func() { t1.done <- till.Run(ctx) }()
	t.Cleanup(t1.stop)
	t2 := s.start(t, s.tills[1], t1.addr())
	waitFor(t, "till 2 connected", func() bool {
		for _, p := range t1.Host().Peers() {
			if p.Number == 2 && p.Connected {
				return true
			}
		}
		return false
	})
	seed(t, t1, 3)
	hours, minutes := int64(1), int64(30)
	err = t1.PutOutboxSettings(t.Context(), ui.OutboxSettings{
		Fiscal:   ui.FiscalSettings{URL: fs.URL, TIN: "201234567"},
		Telegram: ui.TelegramSettings{API: botURL, Chat: "-100123", Token: testBotToken},
		Rules:    ui.NotifyRules{FiscalBacklogHours: &hours, TillOfflineMinutes: &minutes}})
	if err != nil {
		t.Fatal(err)
	}
	sell(t, t1, "k1", "10001", 1)
	t2.stop()
	skew.Store(int64(2 * time.Hour))
	waitFor(t, "two alerts", func() bool { return len(texts()) >= 2 })
	got := strings.Join(texts(), "\n")
	n := len(texts())
	if n != 2 || !strings.Contains(got, "Fiscal registration is behind") || !strings.Contains(got, "1 receipts pending") ||
		!strings.Contains(got, "Till 2 (Till 2) has not been heard from since") {
		t.Fatalf("alerts:\n%s", got)
	}
}
