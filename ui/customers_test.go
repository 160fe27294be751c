package ui_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// customerTill is the fake till with customers kept in a map.
type customerTill struct {
	*fakeTill
	cmu sync.Mutex
	cs  map[string]ui.Customer
}

func (c *customerTill) FindCustomers(_ context.Context, q string, _ int) ([]ui.Customer, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	var out []ui.Customer
	for _, cu := range c.cs {
		if cu.Card == q || strings.Contains(cu.Name, q) {
			out = append(out, cu)
		}
	}
	return out, nil
}

func (c *customerTill) Customer(_ context.Context, n string) (ui.Customer, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	cu, ok := c.cs[n]
	if !ok {
		return ui.Customer{}, fmt.Errorf("%w: no customer %q", ui.ErrNotFound, n)
	}
	return cu, nil
}

func (c *customerTill) CreateCustomer(_ context.Context, cu ui.Customer) (ui.Customer, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	cu.Number = fmt.Sprintf("1000%08d", len(c.cs)+1)
	c.cs[cu.Number] = cu
	return cu, nil
}

func (c *customerTill) EditCustomer(_ context.Context, cu ui.Customer) (ui.Customer, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if _, ok := c.cs[cu.Number]; !ok {
		return ui.Customer{}, fmt.Errorf("%w: no customer %q", ui.ErrNotFound, cu.Number)
	}
	c.cs[cu.Number] = cu
	return cu, nil
}

func (c *customerTill) EraseCustomer(_ context.Context, n string) error {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	c.cs[n] = ui.Customer{Number: n, Erased: true}
	return nil
}

func (c *customerTill) CustomerSales(context.Context, string, int) ([]*ledger.Event, error) {
	return nil, nil
}

func (c *customerTill) CustomerRequired(context.Context) ([]string, error)  { return []string{}, nil }
func (c *customerTill) SetCustomerRequired(context.Context, []string) error { return nil }

func serveCustomers(t *testing.T, f ui.Till) *env {
	t.Helper()
	cfg := ui.DefaultConfig()
	cfg.Till, cfg.Logger = f, slog.New(slog.DiscardHandler)
	cfg.Now = func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }
	a, err := ui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{srv: srv, api: a}
}

// TestCustomerAPI: the attached customer goes into the sale and leaves
// with it; bad requests name what is wrong and change nothing.
func TestCustomerAPI(t *testing.T) {
	ft := &customerTill{fakeTill: newFakeTill(), cs: map[string]ui.Customer{}}
	e := serveCustomers(t, ft)
	c := e.login(t, "2", "0000")

	cu := c.must(201, "POST", "/api/customers", `{"name":"Anna","card":"LOY-1"}`)
	number := cu["number"].(string)
	c.fails(400, "leave number", "POST", "/api/customers", `{"number":"1","name":"X"}`)
	c.fails(400, "body names customer", "PUT", "/api/customers/"+number, `{"number":"2","name":"X"}`)
	c.fails(400, "DELETE", "PUT", "/api/customers/"+number, `{"erased":true}`)
	if out := c.fails(400, "at most 200", "GET", "/api/customers?q="+strings.Repeat("a", 201), ""); out["code"] != "till.error.customer_search_long" {
		t.Fatalf("long search: code %v", out["code"])
	}
	c.fails(400, "limit", "GET", "/api/customers?q=a&limit=0", "")
	c.fails(404, "no customer", "PUT", "/api/cart/customer", `{"number":"999"}`)
	c.fails(403, "", "DELETE", "/api/customers/"+number, "") // a cashier may not erase
	if got := len(ft.cs); got != 1 {
		t.Fatalf("bad requests stored customers: %d", got)
	}

	c.must(200, "PUT", "/api/cart/customer", fmt.Sprintf(`{"number":%q}`, number))
	c.must(200, "POST", "/api/cart/lines", `{"barcode":"4000000100010"}`)
	res := c.must(201, "POST", "/api/cart/checkout", `{"idempotency_key":"c1","tenders":[{"kind":"cash","amount":119}]}`)
	if s := res["sale"].(map[string]any); s["customer"] != number {
		t.Fatalf("sale %v does not name %s", s, number)
	}
	if out := c.must(200, "GET", "/api/cart/customer", ""); out["customer"] != nil {
		t.Fatalf("still attached after the sale: %v", out)
	}
	// Clearing the sale detaches the customer too.
	c.must(200, "PUT", "/api/cart/customer", fmt.Sprintf(`{"number":%q}`, number))
	c.must(200, "DELETE", "/api/cart", "")
	if out := c.must(200, "GET", "/api/cart/customer", ""); out["customer"] != nil {
		t.Fatalf("still attached after clearing the sale: %v", out)
	}
	// An erased customer cannot be attached.
	m := e.login(t, "1", "1234")
	m.must(200, "DELETE", "/api/customers/"+number, "")
	if out := c.fails(400, "erased", "PUT", "/api/cart/customer", fmt.Sprintf(`{"number":%q}`, number)); out["code"] != "till.error.customer_erased_attach" {
		t.Fatalf("erased customer attached: code %v", out["code"])
	}

	// A till that keeps no customers answers 404, saying so.
	plain := serveCustomers(t, newFakeTill()).login(t, "2", "0000")
	if out := plain.fails(404, "keeps no customers", "GET", "/api/customers?q=a", ""); out["code"] != "till.error.no_customers" {
		t.Fatalf("no customers: code %v", out["code"])
	}
}
