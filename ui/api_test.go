package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

type fakeTill struct {
	sales map[string]ui.Sale
	calls int
}

func (f *fakeTill) Sell(_ context.Context, r ui.SaleRequest) (ui.Sale, bool, error) {
	f.calls++
	if s, ok := f.sales[r.IdempotencyKey]; ok {
		return s, true, nil
	}
	for _, l := range r.Lines {
		if l.SKU == "nope" {
			return ui.Sale{}, false, fmt.Errorf("%w: unknown sku %q", ui.ErrBadRequest, l.SKU)
		}
	}
	if len(r.Tenders) == 0 || r.Tenders[0].Amount < 100 {
		return ui.Sale{}, false, fmt.Errorf("%w: tendered 0.50, total 1.00", ledger.ErrTendersShort)
	}
	s := ui.Sale{EventID: "e1", Receipt: fmt.Sprintf("1-%d", len(f.sales)+1), Total: 100}
	f.sales[r.IdempotencyKey] = s
	return s, false, nil
}
func (f *fakeTill) Stock(_ context.Context, sku string) (ui.StockLevel, error) {
	if sku != "1001" {
		return ui.StockLevel{}, fmt.Errorf("%w: sku %q", ui.ErrNotFound, sku)
	}
	return ui.StockLevel{SKU: sku, Total: 17, Slots: map[string]int64{"1": 20, "2": -3}}, nil
}
func (f *fakeTill) AllStock(ctx context.Context) ([]ui.StockLevel, error) {
	s, _ := f.Stock(ctx, "1001")
	return []ui.StockLevel{s}, nil
}
func (f *fakeTill) Status(context.Context) ui.Status { return ui.Status{Till: "peer", Number: 1} }

func serve(t *testing.T) (*httptest.Server, *fakeTill) {
	f := &fakeTill{sales: map[string]ui.Sale{}}
	mux := http.NewServeMux()
	ui.NewAPI(f, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, f
}

func do(t *testing.T, srv *httptest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: response is not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, out
}

func TestPostSale(t *testing.T) {
	srv, f := serve(t)
	body := `{"idempotency_key":"k1","lines":[{"sku":"1001","qty":2}],"tenders":[{"kind":"cash","amount":1000}]}`
	code, out := do(t, srv, "POST", "/api/sales", body)
	if code != http.StatusCreated || out["receipt"] != "1-1" || out["event_id"] != "e1" || out["total"] != 100.0 {
		t.Fatalf("first POST: %d %v", code, out)
	}
	code, out = do(t, srv, "POST", "/api/sales", body)
	if code != http.StatusOK || out["receipt"] != "1-1" || out["replayed"] != true {
		t.Fatalf("retried POST: %d %v, want the same sale", code, out)
	}
	if len(f.sales) != 1 {
		t.Fatalf("%d sales recorded, want 1", len(f.sales))
	}
}

func TestAPIErrors(t *testing.T) {
	srv, f := serve(t)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		reason                   string
	}{
		{"malformed json", "POST", "/api/sales", `{"lines": [`, 400, "malformed request"},
		{"unknown field", "POST", "/api/sales", `{"idempotency_key":"k","linez":[]}`, 400, "unknown field"},
		{"trailing data", "POST", "/api/sales", `{"idempotency_key":"k"} {}`, 400, "after the JSON"},
		{"no key", "POST", "/api/sales", `{"lines":[{"sku":"1001","qty":1}]}`, 400, "idempotency_key"},
		{"unknown sku", "POST", "/api/sales", `{"idempotency_key":"k2","lines":[{"sku":"nope","qty":1}],"tenders":[{"kind":"cash","amount":1000}]}`, 400, "unknown sku"},
		{"tenders short", "POST", "/api/sales", `{"idempotency_key":"k3","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":50}]}`, 400, "tenders short"},
		{"unknown stock", "GET", "/api/stock/zzz", "", 404, "sku"},
		{"wrong method", "GET", "/api/sales", "", 405, ""},
		{"no route", "GET", "/api/nothing", "", 404, "no API route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := do(t, srv, tc.method, tc.path, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d (%v)", code, tc.code, out)
			}
			if tc.reason != "" && !strings.Contains(fmt.Sprint(out["error"]), tc.reason) {
				t.Fatalf("error %q does not say %q", out["error"], tc.reason)
			}
		})
	}
	if len(f.sales) != 0 {
		t.Fatalf("bad requests recorded %d sales", len(f.sales))
	}
}

func TestStockAndStatus(t *testing.T) {
	srv, _ := serve(t)
	code, out := do(t, srv, "GET", "/api/stock/1001", "")
	if code != 200 || out["total"] != 17.0 || out["slots"].(map[string]any)["2"] != -3.0 {
		t.Fatalf("stock: %d %v", code, out)
	}
	code, out = do(t, srv, "GET", "/api/status", "")
	if code != 200 || out["till"] != "peer" || out["number"] != 1.0 {
		t.Fatalf("status: %d %v", code, out)
	}
}
