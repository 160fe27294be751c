package ui

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Customer is a customer record as the till API shows it. An erased
// customer has only Number and Erased.
type Customer struct {
	Number    string `json:"number"`
	Name      string `json:"name,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Email     string `json:"email,omitempty"`
	Card      string `json:"card,omitempty"` // loyalty card barcode
	Consent   bool   `json:"consent,omitempty"`
	Notes     string `json:"notes,omitempty"`
	HomeStore string `json:"home_store,omitempty"`
	Erased    bool   `json:"erased,omitempty"`
	// Unavailable: the till holds the customer's fields sealed but not
	// yet the key that opens them; only Number is set.
	Unavailable bool `json:"unavailable,omitempty"`
}

// CustomerSale is one sale of a customer's purchase history.
type CustomerSale struct {
	Receipt string       `json:"receipt"`
	Ref     string       `json:"ref"` // the sale's event ID, for GET /api/sales/{ref}
	Time    int64        `json:"time"`
	Total   ledger.Money `json:"total"`
	Lines   int          `json:"lines"`
	Items   []string     `json:"items"`
}

// Customers is implemented by tills that keep customers. The API checks
// for it with a type assertion, so a Till without it still works (its
// customer routes answer 404).
type Customers interface {
	// FindCustomers finds by phone, name, email or an exact card
	// barcode or number (a scanned card is the whole answer).
	FindCustomers(ctx context.Context, q string, limit int) ([]Customer, error)
	// Customer returns one customer, or ErrNotFound.
	Customer(ctx context.Context, number string) (Customer, error)
	// CreateCustomer gives c a new number and stores it; ErrBadRequest
	// names a malformed or missing required field.
	CreateCustomer(ctx context.Context, c Customer) (Customer, error)
	// EditCustomer stores the fields of c that differ from the stored
	// record; ErrNotFound for an unknown number, ErrConflict for an
	// erased customer.
	EditCustomer(ctx context.Context, c Customer) (Customer, error)
	// EraseCustomer erases a customer's personal data everywhere; the
	// ledger keeps the number.
	EraseCustomer(ctx context.Context, number string) error
	// CustomerSales is the customer's purchase history from this till's
	// ledger (every till's sales it holds), newest last.
	CustomerSales(ctx context.Context, number string, limit int) ([]*ledger.Event, error)
	// CustomerRequired lists the fields a new or edited customer must
	// have (the store's setting); SetCustomerRequired sets them.
	CustomerRequired(ctx context.Context) ([]string, error)
	SetCustomerRequired(ctx context.Context, fields []string) error
}

// cartCustomer is the customer attached to the current sale, if any. It
// goes into the signed sale at checkout and is cleared with the cart.
type cartCustomer struct {
	mu     sync.Mutex
	number string
}

func (c *cartCustomer) get() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.number
}

func (c *cartCustomer) set(n string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.number = n
}

// clearIf detaches n, unless another customer was attached meanwhile.
func (c *cartCustomer) clearIf(n string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.number == n {
		c.number = ""
	}
}

// customerRoutes adds the customer screen's API. Erasure and the
// required-fields setting need the settings permission (a manager's by
// default).
func (a *API) customerRoutes(h func(string, access, handlerFunc), p func(string, Permission, handlerFunc)) {
	h("GET /api/customers", staff, a.getCustomers)
	h("POST /api/customers", staff, a.postCustomer)
	h("GET /api/customers/{number}", staff, a.getCustomer)
	h("PUT /api/customers/{number}", staff, a.putCustomer)
	p("DELETE /api/customers/{number}", PermSettings, a.deleteCustomer)
	h("GET /api/customers/{number}/sales", staff, a.getCustomerSales)
	h("GET /api/customer-fields", staff, a.getCustomerRequired)
	p("PUT /api/customer-fields", PermSettings, a.putCustomerRequired)
	h("GET /api/cart/customer", staff, a.getCartCustomer)
	h("PUT /api/cart/customer", staff, a.putCartCustomer)
	h("DELETE /api/cart/customer", staff, a.deleteCartCustomer)
}

func (a *API) customers() (Customers, error) {
	if c, ok := a.till.(Customers); ok {
		return c, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrNotFound, i18n.Errorf("till.error.no_customers"))
}

// maxCustomerQuery bounds a search string: a scanned card or a phone
// number is far shorter.
const maxCustomerQuery = 200

func (a *API) getCustomers(w http.ResponseWriter, r *http.Request, _ *session) {
	cs, err := a.customers()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query().Get("q")
	if len(q) > maxCustomerQuery {
		a.fail(w, r, badRequestErr(i18n.Errorf("till.error.customer_search_long", "bytes", len(q), "max", maxCustomerQuery)))
		return
	}
	limit := 20
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			a.fail(w, r, badRequest("limit %q: want 1..200", s))
			return
		}
		limit = n
	}
	found, err := cs.FindCustomers(r.Context(), q, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if found == nil {
		found = []Customer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"customers": found})
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request, _ *session) {
	cs, err := a.customers()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := cs.Customer(r.Context(), r.PathValue("number"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *API) postCustomer(w http.ResponseWriter, r *http.Request, s *session) {
	cs, err := a.customers()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var c Customer
	if !decode(w, r, &c) {
		return
	}
	if c.Number != "" || c.Erased {
		a.fail(w, r, badRequest("a new customer gets its number from the till: leave number and erased out"))
		return
	}
	c, err = cs.CreateCustomer(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("customer created", "customer", c.Number, "staff", s.staff.ID)
	writeJSON(w, http.StatusCreated, c)
}

func (a *API) putCustomer(w http.ResponseWriter, r *http.Request, s *session) {
	cs, err := a.customers()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var c Customer
	if !decode(w, r, &c) {
		return
	}
	number := r.PathValue("number")
	if c.Number != "" && c.Number != number {
		a.fail(w, r, badRequest("body names customer %q, the path %q", c.Number, number))
		return
	}
	if c.Erased {
		a.fail(w, r, badRequest("erase a customer with DELETE /api/customers/%s", number))
		return
	}
	c.Number = number
	c, err = cs.EditCustomer(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("customer edited", "customer", c.Number, "staff", s.staff.ID)
	writeJSON(w, http.StatusOK, c)
}

func (a *API) deleteCustomer(w http.ResponseWriter, r *http.Request, s *session) {
	cs, err := a.customers()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	number := r.PathValue("number")
	if err := cs.EraseCustomer(r.Context(), number); err != nil {
		a.fail(w, r, err)
		return
	}
	a.attached.clearIf(number)
	a.log.Info("customer erased", "customer", number, "staff", s.staff.ID)
	writeJSON(w, http.StatusOK, map[string]any{"number": number, "erased": true})
}

func (a *API) getCustomerSales(w http.ResponseWriter, r *http.Request, _ *session) {
	cs, err := a.customers()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	number := r.PathValue("number")
	if _, err := cs.Customer(r.Context(), number); err != nil {
		a.fail(w, r, err)
		return
	}
	evs, err := cs.CustomerSales(r.Context(), number, 100)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]CustomerSale, 0, len(evs))
	for i := len(evs) - 1; i >= 0; i-- { // newest first
		ev := evs[i]
		s, ok := ev.Body.(*ledger.Sale)
		if !ok {
			continue
		}
		t, err := s.Totals()
		if err != nil {
			continue
		}
		cs := CustomerSale{Receipt: a.receiptNo(ev.Till, ev.Seq),
			Ref: ev.ID().String(), Time: ev.Time.Wall, Total: t.Total, Lines: len(s.Lines)}
		for _, l := range s.Lines {
			cs.Items = append(cs.Items, l.Name)
		}
		out = append(out, cs)
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": number, "sales": out})
}

func (a *API) getCustomerRequired(w http.ResponseWriter, r *http.Request, _ *session) {
	cs, err := a.customers()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fields, err := cs.CustomerRequired(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"required": fields})
}

func (a *API) putCustomerRequired(w http.ResponseWriter, r *http.Request, s *session) {
	cs, err := a.customers()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req struct {
		Required []string `json:"required"`
	}
	if !decode(w, r, &req) {
		return
	}
	if err := cs.SetCustomerRequired(r.Context(), req.Required); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("customer required fields set", "fields", strings.Join(req.Required, ","), "staff", s.staff.ID)
	writeJSON(w, http.StatusOK, map[string]any{"required": req.Required})
}

func (a *API) getCartCustomer(w http.ResponseWriter, r *http.Request, _ *session) {
	n := a.attached.get()
	if n == "" {
		writeJSON(w, http.StatusOK, map[string]any{"customer": nil})
		return
	}
	c := Customer{Number: n}
	if cs, err := a.customers(); err == nil {
		if got, err := cs.Customer(r.Context(), n); err == nil {
			c = got
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer": c})
}

func (a *API) putCartCustomer(w http.ResponseWriter, r *http.Request, s *session) {
	cs, err := a.customers()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req struct {
		Number string `json:"number"`
	}
	if !decode(w, r, &req) {
		return
	}
	c, err := cs.Customer(r.Context(), req.Number)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if c.Erased {
		a.fail(w, r, badRequestErr(i18n.Errorf("till.error.customer_erased_attach", "number", c.Number)))
		return
	}
	a.attached.set(c.Number)
	a.log.Info("customer attached to the sale", "customer", c.Number, "staff", s.staff.ID)
	writeJSON(w, http.StatusOK, map[string]any{"customer": c})
}

func (a *API) deleteCartCustomer(w http.ResponseWriter, r *http.Request, _ *session) {
	a.attached.set("")
	writeJSON(w, http.StatusOK, map[string]any{"customer": nil})
}
