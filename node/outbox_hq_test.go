package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
	"github.com/tillmesh/tillmesh/ui"
)

// TestOutboxDeadLetterRetriedAtHQ: the fiscal service refuses a receipt;
// the store's relay reports the dead letter to HQ, HQ's staff press
// retry once the service is fixed, and the relay sends it again: it is
// registered once.
func TestOutboxDeadLetterRetriedAtHQ(t *testing.T) {
	sim := fiscalsim.NewSim()
	fs := httptest.NewServer(sim.Handler())
	defer fs.Close()
	sim.SetBase(fs.URL)
	sim.Set(fiscalsim.Faults{RejectPercent: 100, RejectCode: "tin_mismatch"})

	s := newStore(t, 1)
	st, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hc := hq.DefaultConfig()
	hc.Storage, hc.Logger, hc.AdminPassword = st, quiet(), "outbox-test-pw"
	h, err := hq.New(t.Context(), hc)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.RegisterStore(t.Context(), s.store.ID, s.store.Name, s.store.CA); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h.Handler())
	defer hs.Close()

	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger, cfg.HQ = s.tills[0], s.store, quiet(), hs.URL
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, false
	till, err := node.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningTill{Till: till, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- till.Run(ctx) }()
	t.Cleanup(r.stop)
	seed(t, r, 3)
	if err := r.PutOutboxSettings(t.Context(), ui.OutboxSettings{Fiscal: ui.FiscalSettings{URL: fs.URL, TIN: "201234567"}}); err != nil {
		t.Fatal(err)
	}
	sale := sell(t, r, "k1", "10001", 1)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(hs.URL+"/hq/api/login", "application/json", strings.NewReader(`{"user":"admin","password":"outbox-test-pw"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", resp, err)
	}
	var me struct{ CSRF string }
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	get := func() string {
		resp, err := c.Get(hs.URL + "/hq/api/outbox")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	waitFor(t, "the dead letter at HQ", func() bool {
		return strings.Contains(get(), `"event_id":"`+sale.ID().String()+`"`) && strings.Contains(get(), "tin_mismatch")
	})
	if !strings.Contains(get(), "1 in the dead-letter list") {
		t.Fatalf("HQ's outbox: %s", get())
	}

	retry := func(body string) int {
		req, _ := http.NewRequest("POST", hs.URL+"/hq/api/stores/"+s.store.ID.String()+"/outbox/retry", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", me.CSRF)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := retry(`{"connector":"fiscal","event_id":"` + strings.Repeat("0", 64) + `"}`); code != http.StatusNotFound {
		t.Fatalf("retry of an unknown dead letter: %d", code)
	}
	sim.Set(fiscalsim.Faults{})
	if code := retry(`{"connector":"fiscal","event_id":"` + sale.ID().String() + `"}`); code != http.StatusAccepted {
		t.Fatalf("retry: %d", code)
	}
	waitFor(t, "registered after the retry", func() bool { return sim.Stats().Registered == 1 })
	waitFor(t, "recorded as sent", func() bool {
		rec, err := r.FiscalRecord(t.Context(), sale.ID().String())
		return err == nil && rec.State == "sent" && rec.Number != ""
	})
	waitFor(t, "HQ sees the dead letter gone", func() bool { return strings.Contains(get(), `"line":"fiscal: all sent"`) })
	if strings.Contains(get(), sale.ID().String()) {
		t.Fatalf("HQ still lists the dead letter: %s", get())
	}
}

// TestFiscalMovesToHQEndToEnd: a real till and HQ. The fiscal service is
// away while the store sells; HQ's staff move fiscal registration to HQ.
// The relay stands down and hands over (its status says so), HQ
// registers the backlog from the ledger the relay uploaded once the
// service is back, and the sales after it. Then registration moves back
// and the till registers what it sells next. Every receipt is
// registered once, and the till sends nothing while HQ holds it.
func TestFiscalMovesToHQEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("several relay reports (every 5 s)")
	}
	sim := fiscalsim.NewSim()
	fs := httptest.NewServer(sim.Handler())
	defer fs.Close()
	sim.SetBase(fs.URL)
	sim.Set(fiscalsim.Faults{Down: true})

	s := newStore(t, 1)
	st, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hc := hq.DefaultConfig()
	hc.Storage, hc.Logger = st, quiet()
	h, err := hq.New(t.Context(), hc)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.RegisterStore(t.Context(), s.store.ID, s.store.Name, s.store.CA); err != nil {
		t.Fatal(err)
	}
	hctx, hstop := context.WithCancel(t.Context())
	hdone := make(chan struct{})
	go func() { defer close(hdone); h.RunOutbox(hctx) }()
	defer func() { hstop(); <-hdone }()
	hs := httptest.NewServer(h.Handler())
	defer hs.Close()

	r := s.startWithHQ(t, s.tills[0], hs.URL)
	seed(t, r, 3)
	if err := r.PutOutboxSettings(t.Context(), ui.OutboxSettings{Fiscal: ui.FiscalSettings{URL: fs.URL, TIN: "201234567"}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	sellN := func(k int) {
		for range k {
			n++
			sell(t, r, fmt.Sprintf("mv%d", n), "10001", 1)
		}
	}
	sellN(10)
	if err := h.SetOutboxPlacement(t.Context(), s.store.ID, "fiscal", "hq", "admin"); err != nil {
		t.Fatal(err)
	}
	fiscalLine := func() string {
		for _, o := range r.Status(t.Context()).Outbox {
			if o.Connector == "fiscal" {
				return o.Line
			}
		}
		return ""
	}
	waitFor(t, "the till hands fiscal registration to HQ", func() bool {
		at, _ := h.OutboxPlacements(t.Context(), s.store.ID)
		return at["fiscal"] == "hq" && fiscalLine() == "fiscal: sent by HQ"
	})
	sellN(5)
	sim.Set(fiscalsim.Faults{})
	waitFor(t, "HQ registers the 15 receipts", func() bool { return sim.Stats().Registered == 15 })

	if err := h.SetOutboxPlacement(t.Context(), s.store.ID, "fiscal", "store", "admin"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the till takes it back", func() bool {
		at, _ := h.OutboxPlacements(t.Context(), s.store.ID)
		return at["fiscal"] == "store" && strings.HasPrefix(fiscalLine(), "fiscal: all sent")
	})
	sellN(5)
	waitFor(t, "the till registers again", func() bool { return sim.Stats().Registered == 20 })
	waitFor(t, "recorded at the till", func() bool { return fiscalLine() == "fiscal: all sent" })
	if got := sim.Stats(); got.Duplicates != 0 || got.Registered != 20 {
		t.Fatalf("simulator %+v: want 20 receipts registered once each", got)
	}
}
