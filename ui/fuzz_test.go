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

// FuzzRequests sends arbitrary bodies to the routes that read JSON from
// the page: whatever arrives, the answer is a JSON error or success, never
// a 5xx or a panic.
func FuzzRequests(f *testing.F) {
	for _, s := range []string{
		`{"sku":"1001"}`, `{"barcode":"4000000100010","qty":2}`, `{"qty":-1}`, `{"discount":{"kind":"percent","value":99999}}`,
		`{"kind":"amount","value":100}`, `{"idempotency_key":"k","tenders":[{"kind":"cash","amount":1}]}`,
		`{"idempotency_key":"k","sale":"1-1","lines":[{"line":0,"qty":1}]}`, `{"staff":"1","pin":"1234"}`, `[`, `null`, ``,
	} {
		for r := range 8 {
			f.Add(uint8(r), s)
		}
	}
	routes := []struct{ method, path string }{
		{"POST", "/api/cart/lines"}, {"PUT", "/api/cart/lines/0"}, {"PUT", "/api/cart/discount"}, {"POST", "/api/cart/checkout"},
		{"POST", "/api/sales"}, {"POST", "/api/refunds"}, {"POST", "/api/shift/close"}, {"POST", "/api/stock/count"},
		{"POST", "/api/cash"}, {"POST", "/api/nosale"}, {"POST", "/api/voids"}, {"PUT", "/api/settings"}, {"PUT", "/api/staff/5"},
		{"POST", "/api/reprint"}, {"POST", "/api/setup"},
	}
	fk := &fakeSetup{fakeTill: newFakeTill(), code: "ABCD-EFGH-JKMN"}
	cfg := ui.DefaultConfig()
	cfg.Till, cfg.Logger = fk, slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := ui.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	h := a.Handler()
	login := httptest.NewRecorder()
	lr := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"staff":"1","pin":"1234"}`))
	lr.Host = "127.0.0.1"
	h.ServeHTTP(login, lr)
	var cookie *http.Cookie
	for _, c := range login.Result().Cookies() {
		if strings.HasPrefix(c.Name, "tillmesh_session") {
			cookie = c
		}
	}
	if cookie == nil {
		f.Fatal("login set no session cookie")
	}
	csrf := login.Body.String()
	csrf = csrf[strings.Index(csrf, `"csrf_token":"`)+14:]
	csrf = csrf[:strings.Index(csrf, `"`)]
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
		req.Host = "127.0.0.1"
		req.AddCookie(cookie)
		req.Header.Set("X-CSRF-Token", csrf)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, w.Code, w.Body)
		}
		if w.Code == http.StatusOK && rt.path == "/api/cart/checkout" {
			t.Fatalf("checkout succeeded on fuzz input %q", body)
		}
	})
}
