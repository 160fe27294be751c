package ui_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// clock is a settable clock for back-off tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	srv   *httptest.Server
	till  *fakeTill
	clock *clock
	logs  *logBuffer
	api   *ui.API
}

// logBuffer keeps what the API logs, for tests that check levels.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func serve(t *testing.T) *env {
	t.Helper()
	return serveFake(t, newFakeTill())
}

func serveFake(t *testing.T, f *fakeTill) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	cfg := ui.DefaultConfig()
	logs := &logBuffer{}
	cfg.Till, cfg.Logger, cfg.Now = f, slog.New(slog.NewTextHandler(logs, nil)), c.now
	cfg.StatusInterval = 50 * time.Millisecond
	a, err := ui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)

	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{srv: srv, till: f, clock: c, logs: logs, api: a}
}

// client is a browser-like API client: a cookie jar and the CSRF token.
type client struct {
	t    *testing.T
	srv  *httptest.Server
	http *http.Client
	csrf string
	hdr  map[string]string
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, srv: e.srv, http: &http.Client{Jar: jar}, hdr: map[string]string{}}
}

// login logs in and keeps the CSRF token; it fails the test if refused.
func (e *env) login(t *testing.T, staff, pin string) *client {
	t.Helper()
	c := e.client(t)
	code, out := c.do("POST", "/api/login", fmt.Sprintf(`{"staff":%q,"pin":%q}`, staff, pin))
	if code != http.StatusOK {
		t.Fatalf("login %s: %d %v", staff, code, out)
	}
	c.csrf = out["csrf_token"].(string)
	return c
}

func (c *client) raw(method, path, body string) (*http.Response, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for k, v := range c.hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (c *client) do(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	resp, b := c.raw(method, path, body)
	var out map[string]any
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &out); err != nil {
			c.t.Fatalf("%s %s: response is not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, out
}

// must does a request that must answer want.
func (c *client) must(want int, method, path, body string) map[string]any {
	c.t.Helper()
	code, out := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s %s: status %d, want %d: %v", method, path, body, code, want, out)
	}
	return out
}

// fails checks a request answers status with a reason containing reason.
func (c *client) fails(code int, reason, method, path, body string) map[string]any {
	c.t.Helper()
	got, out := c.do(method, path, body)
	if got != code {
		c.t.Fatalf("%s %s %s: status %d, want %d: %v", method, path, body, got, code, out)
	}
	if !strings.Contains(fmt.Sprint(out["error"]), reason) {
		c.t.Fatalf("%s %s: error %q does not say %q", method, path, out["error"], reason)
	}
	return out
}

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

func TestPostSaleNeedsLoginAndRecordsSessionStaff(t *testing.T) {
	e := serve(t)
	body := `{"idempotency_key":"k1","lines":[{"sku":"1001","qty":2}],"tenders":[{"kind":"cash","amount":1000}]}`
	e.client(t).fails(http.StatusUnauthorized, "not logged in", "POST", "/api/sales", body)

	c := e.login(t, "2", "0000")
	out := c.must(http.StatusCreated, "POST", "/api/sales", body)
	if out["receipt"] != "1-1" || num(out["total"]) != 238 || num(out["change"]) != 762 {
		t.Fatalf("first POST: %v", out)
	}
	out = c.must(http.StatusOK, "POST", "/api/sales", body)
	if out["receipt"] != "1-1" || out["replayed"] != true {
		t.Fatalf("retried POST: %v, want the same sale", out)
	}
	if e.till.sales() != 1 {
		t.Fatalf("%d sales recorded, want 1", e.till.sales())
	}
	var staff string
	e.till.View(func(s *ledger.State) {
		id, _ := s.ID(e.till.self.ID, 1)
		sale, _, _, _ := s.Fold().Sale(id)
		staff = sale.Staff
	})
	if staff != "2" {
		t.Fatalf("sale staff %q, want the session's 2", staff)
	}
	// A client cannot name another staff member.
	c.fails(http.StatusBadRequest, "unknown field", "POST", "/api/sales",
		`{"idempotency_key":"k9","staff":"1","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":1000}]}`)
}

func TestAPIErrors(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	e.till.addPeerSale(&ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "9",
		Lines: []ledger.Line{{SKU: "1001", Qty: 1, UnitPrice: 119, TaxRate: 700}}, Tenders: []ledger.Tender{{Kind: ledger.Card, Amount: 119}}})
	c.must(http.StatusCreated, "POST", "/api/shift/open", `{"idempotency_key":"o1","float":1000}`)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		reason                   string
	}{
		{"malformed json", "POST", "/api/sales", `{"lines": [`, 400, "malformed request"},
		{"unknown field", "POST", "/api/sales", `{"idempotency_key":"k","linez":[]}`, 400, "unknown field"},
		{"trailing data", "POST", "/api/sales", `{"idempotency_key":"k"} {}`, 400, "after the JSON"},
		{"wrong content type", "POST", "/api/cart/lines", ``, 400, "malformed"},
		{"no key", "POST", "/api/sales", `{"lines":[{"sku":"1001","qty":1}]}`, 400, "idempotency_key"},
		{"no lines", "POST", "/api/sales", `{"idempotency_key":"k0","tenders":[{"kind":"cash","amount":100}]}`, 400, "at least one line"},
		{"unknown sku", "POST", "/api/sales", `{"idempotency_key":"k2","lines":[{"sku":"nope","qty":1}],"tenders":[{"kind":"cash","amount":1000}]}`, 404, "unknown sku"},
		{"qty zero", "POST", "/api/sales", `{"idempotency_key":"k4","lines":[{"sku":"1001","qty":0}],"tenders":[{"kind":"cash","amount":1000}]}`, 400, "quantity 0"},
		{"qty negative", "POST", "/api/sales", `{"idempotency_key":"k5","lines":[{"sku":"1001","qty":-2}],"tenders":[{"kind":"cash","amount":1000}]}`, 400, "quantity -2"},
		{"tenders short", "POST", "/api/sales", `{"idempotency_key":"k3","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":50}]}`, 400, "tenders short"},
		{"no tender", "POST", "/api/sales", `{"idempotency_key":"k6","lines":[{"sku":"1001","qty":1}],"tenders":[]}`, 400, "no tender"},
		{"bad tender kind", "POST", "/api/sales", `{"idempotency_key":"k7","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"iou","amount":500}]}`, 400, "unknown kind"},
		{"wrong check digit", "POST", "/api/sales", `{"idempotency_key":"k8","lines":[{"barcode":"4000000100011","qty":1}],"tenders":[{"kind":"cash","amount":500}]}`, 400, "check digit"},
		{"unknown barcode", "POST", "/api/cart/lines", `{"barcode":"4006381333931"}`, 404, "unknown barcode"},
		{"cart bad check digit", "POST", "/api/cart/lines", `{"barcode":"4006381333932"}`, 400, "wrong check digit 2 (want 1)"},
		{"cart qty zero", "POST", "/api/cart/lines", `{"sku":"1001","qty":0}`, 400, "quantity 0"},
		{"cart qty negative", "POST", "/api/cart/lines", `{"sku":"1001","qty":-1}`, 400, "must be positive"},
		{"cart both", "POST", "/api/cart/lines", `{"sku":"1001","barcode":"4000000100010"}`, 400, "not both"},
		{"cart weight needed", "POST", "/api/cart/lines", `{"sku":"3001"}`, 400, "sold by weight"},
		{"cart line missing", "PUT", "/api/cart/lines/7", `{"qty":2}`, 404, "no cart line"},
		{"cart nothing to change", "PUT", "/api/cart/lines/0", `{}`, 400, "nothing to change"},
		{"cart discount kind", "PUT", "/api/cart/discount", `{"kind":"half","value":5}`, 400, "discount kind"},
		{"cart discount empty cart", "PUT", "/api/cart/discount", `{"kind":"percent","value":500}`, 400, "empty"},
		{"checkout empty", "POST", "/api/cart/checkout", `{"idempotency_key":"c1","tenders":[{"kind":"cash","amount":100}]}`, 400, "empty"},
		{"checkout no key", "POST", "/api/cart/checkout", `{"tenders":[]}`, 400, "idempotency_key"},
		{"unknown stock", "GET", "/api/stock/zzz", "", 404, "sku"},
		{"sale bad receipt", "GET", "/api/sales/abc", "", 400, "receipt number like 2-17"},
		{"sale unknown till", "GET", "/api/sales/9-1", "", 404, "no till 9"},
		{"sale not yet here", "GET", "/api/sales/2-5", "", 404, "not here (yet)"},
		{"sale not a sale", "GET", "/api/sales/RCT1-1", "", 400, "shift open, not a sale"},
		{"refund no key", "POST", "/api/refunds", `{"sale":"2-1","lines":[{"line":0,"qty":1}]}`, 400, "idempotency_key"},
		{"refund above remaining", "POST", "/api/refunds", `{"idempotency_key":"r1","sale":"2-1","lines":[{"line":0,"qty":2}]}`, 400, "2 asked, 1 remain"},
		{"refund qty zero", "POST", "/api/refunds", `{"idempotency_key":"r2","sale":"2-1","lines":[{"line":0,"qty":0}]}`, 400, "must be positive"},
		{"refund no line", "POST", "/api/refunds", `{"idempotency_key":"r3","sale":"2-1","lines":[{"line":4,"qty":1}]}`, 400, "no line 4"},
		{"refund no lines", "POST", "/api/refunds", `{"idempotency_key":"r4","sale":"2-1","lines":[]}`, 400, "at least one line"},
		{"refund bad tender", "POST", "/api/refunds", `{"idempotency_key":"r5","sale":"2-1","lines":[{"line":0,"qty":1}],"tender":"gold"}`, 400, "tender"},
		{"void needs reason", "POST", "/api/voids", `{"idempotency_key":"v1","sale":"2-1"}`, 400, "reason"},
		{"shift open twice", "POST", "/api/shift/open", `{"idempotency_key":"o2","float":0}`, 400, "already open"},
		{"shift negative float", "POST", "/api/shift/open", `{"idempotency_key":"o3","float":-1}`, 400, "negative"},
		{"shift count negative", "POST", "/api/shift/close", `{"idempotency_key":"z1","counted":[{"value":100,"count":-1}]}`, 400, "negative"},
		{"shift count twice", "POST", "/api/shift/close", `{"idempotency_key":"z2","counted":[{"value":100,"count":1},{"value":100,"count":2}]}`, 400, "twice"},
		{"cash no reason", "POST", "/api/cash", `{"idempotency_key":"m1","direction":"in","amount":500}`, 400, "reason"},
		{"cash bad direction", "POST", "/api/cash", `{"idempotency_key":"m2","direction":"up","amount":500,"reason":"x"}`, 400, "direction"},
		{"cash zero", "POST", "/api/cash", `{"idempotency_key":"m3","direction":"out","amount":0,"reason":"x"}`, 400, "positive"},
		{"cash no key", "POST", "/api/cash", `{"direction":"out","amount":10,"reason":"x"}`, 400, "idempotency_key"},
		{"key reused for another kind", "POST", "/api/nosale", `{"idempotency_key":"o1"}`, 409, "different request (shift open"},
		{"sales limit", "GET", "/api/sales?limit=0", "", 400, "limit"},
		{"wrong method", "DELETE", "/api/sales", "", 405, "allowed GET, POST"},
		{"no route", "GET", "/api/nothing", "", 404, "no API route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.till.eventCount()
			if tc.name == "wrong content type" {
				resp, b := c.rawCT("POST", tc.path, "text/plain", "hello")
				if resp.StatusCode != 400 || !strings.Contains(string(b), "want application/json") {
					t.Fatalf("%d %s", resp.StatusCode, b)
				}
				return
			}
			c.fails(tc.code, tc.reason, tc.method, tc.path, tc.body)
			if after := e.till.eventCount(); after != before {
				t.Fatalf("a bad request recorded %d events", after-before)
			}
		})
	}
	if e.till.sales() != 0 {
		t.Fatalf("bad requests recorded %d sales", e.till.sales())
	}
}

func (c *client) rawCT(method, path, ct, body string) (*http.Response, []byte) {
	req, _ := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestStockAndStatusArePublic(t *testing.T) {
	e := serve(t)
	c := e.client(t)
	code, out := c.do("GET", "/api/stock/1001", "")
	if code != 200 || out["sku"] != "1001" || out["unit"] != "ea" {
		t.Fatalf("stock: %d %v", code, out)
	}
	code, out = c.do("GET", "/api/status", "")
	if code != 200 || out["till"] != "peer" || out["number"] != 1.0 {
		t.Fatalf("status: %d %v", code, out)
	}
}

// The reports page's drawer figure for a till is the one its X and Z show
// (it read the till's cash since its first event, which disagreed with the
// Z as soon as a till had sold before its shift).
func TestReportsDrawerMatchesShift(t *testing.T) {
	e := serve(t)
	c := e.login(t, "1", "1234")
	// A sale before any shift, then a shift with a float and a cash sale.
	c.must(http.StatusCreated, "POST", "/api/sales", `{"idempotency_key":"s0","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":1000}]}`)
	c.must(http.StatusCreated, "POST", "/api/shift/open", `{"idempotency_key":"o1","float":1000}`)
	c.must(http.StatusCreated, "POST", "/api/sales", `{"idempotency_key":"s1","lines":[{"sku":"1001","qty":2}],"tenders":[{"kind":"cash","amount":1000}]}`)
	shift := c.must(http.StatusOK, "GET", "/api/shift", "")
	x := shift["open"].(map[string]any)["report"].(map[string]any)["cash_expected"].(float64)
	rep := c.must(http.StatusOK, "GET", "/api/reports", "")
	tills := rep["tills"].([]any)
	if len(tills) != 1 {
		t.Fatalf("tills: %v", tills)
	}
	tr := tills[0].(map[string]any)
	if got := tr["shift_cash_expected"].(float64); got != x || got != 1000+238 {
		t.Errorf("reports page drawer %v, the X report says %v (want 1238)", got, x)
	}
}

func TestNames(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000") // a cashier reads names too
	out := c.must(http.StatusOK, "GET", "/api/names", "")
	staff := out["staff"].(map[string]any)
	if staff["1"] != "Maria" || staff["2"] != "Carl" {
		t.Errorf("staff names: %v", staff)
	}
	if tills := out["tills"].(map[string]any); len(tills) == 0 {
		t.Errorf("till names: %v", tills)
	}
	for _, v := range staff {
		if strings.Contains(fmt.Sprint(v), "$argon2") {
			t.Fatal("names leak a PIN hash")
		}
	}
}
