package ui_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ui"
)

// setupTill is a fake till whose store has no manager yet.
func setupTill() *fakeSetup {
	f := newFakeTill()
	delete(f.staff, "1")
	return &fakeSetup{fakeTill: f, code: "ABCD-EFGH-JKMN"}
}

func TestFirstRunSetup(t *testing.T) {
	f := setupTill()
	cfg := ui.DefaultConfig()
	cfg.Till, cfg.Logger = f, slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := ui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	e := &env{srv: srv, till: f.fakeTill}
	c := e.browser(t)

	if out := c.must(200, "GET", "/api/setup", ""); out["open"] != true {
		t.Fatalf("set-up on a store without a manager: %v", out)
	}
	resp, body := c.raw("GET", "/setup", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "set-up code") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("set-up page: %d %.80s", resp.StatusCode, body)
	}
	// Bad input changes nothing.
	for _, tc := range []struct {
		body   string
		code   int
		reason string
	}{
		{`{"code":"WRONG-CODE-0000","staff":"1","name":"Maria","pin":"1234"}`, 403, "wrong set-up code"},
		{`{"code":"","staff":"1","name":"Maria","pin":"1234"}`, 400, "set-up code"},
		{`{"code":"ABCD-EFGH-JKMN","staff":"","name":"Maria","pin":"1234"}`, 400, "staff number"},
		{`{"code":"ABCD-EFGH-JKMN","staff":"1","name":"Maria","pin":"1234","role":"cashier"}`, 400, "unknown field"},
	} {
		c.fails(tc.code, tc.reason, "POST", "/api/setup", tc.body)
	}
	if open, _ := f.SetupOpen(t.Context()); !open || f.code == "" {
		t.Fatal("refused set-up requests changed something")
	}
	c.must(201, "POST", "/api/setup", `{"code":"ABCD-EFGH-JKMN","staff":"1","name":"Maria","pin":"1234"}`)
	e.login(t, "1", "1234")
	// The code is used, the page gone.
	c.fails(http.StatusGone, "set-up is done", "POST", "/api/setup", `{"code":"ABCD-EFGH-JKMN","staff":"9","name":"Eve","pin":"1234"}`)
	if resp, _ := c.raw("GET", "/setup", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("set-up page after the first manager: %d", resp.StatusCode)
	}
	if out := c.must(200, "GET", "/api/setup", ""); out["open"] != false {
		t.Fatalf("set-up still open: %v", out)
	}
	if _, ok := f.staff["9"]; ok {
		t.Fatal("a reused code created a member")
	}
}

func TestSetupOnlyOnLoopbackAndBacksOff(t *testing.T) {
	f := setupTill()
	cfg := ui.DefaultConfig()
	cfg.Till, cfg.Logger = f, slog.New(slog.NewTextHandler(io.Discard, nil))
	a, _ := ui.New(cfg)
	h := a.Handler()
	for _, path := range []string{"/setup", "/api/setup"} {
		method := "GET"
		body := ""
		if path == "/api/setup" {
			method, body = "POST", `{"code":"ABCD-EFGH-JKMN","staff":"1","name":"Maria","pin":"1234"}`
		}
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.RemoteAddr, req.Host = "192.0.2.7:40000", "192.0.2.1:8080"
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusForbidden {
			t.Fatalf("%s %s from the LAN: %d, want 403 or 404", method, path, rec.Code)
		}
	}
	if open, _ := f.SetupOpen(t.Context()); !open {
		t.Fatal("a LAN request created the manager")
	}
	// Guessing the code from the till itself backs off after 5 tries.
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := (&env{srv: srv, till: f.fakeTill}).browser(t)
	codes := map[int]int{}
	for range 8 {
		code, _ := c.do("POST", "/api/setup", `{"code":"AAAA-AAAA-AAAA","staff":"1","name":"Maria","pin":"1234"}`)
		codes[code]++
	}
	if codes[http.StatusForbidden] != 5 || codes[http.StatusTooManyRequests] != 3 {
		t.Fatalf("8 wrong codes: %v, want 5 x 403 then 429", codes)
	}
}
