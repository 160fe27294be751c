package ui

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// Parking is implemented by tills that keep parked sales (node/parked.go):
// a cart put aside (the shopper fetches something) and resumed later at
// this or any other till of the store. The till that parked a sale owns
// it and keeps it on disk; it hands it out once (see docs/ARCHITECTURE.md
// "Parked sales").
type Parking interface {
	// Park stores a cart and gives it the till's next parked number.
	Park(ctx context.Context, p ParkedSale) (ParkedSale, error)
	// ParkedSales lists the sales parked at this till and at every peer
	// that answers; Unreachable names the tills that did not.
	ParkedSales(ctx context.Context) (ParkedList, error)
	// Resume takes the parked sale id ("<till>-<n>") from the till that
	// owns it, once: a second resume, at any till, wraps ErrConflict and
	// names where it went. The same key from the same till gets the
	// same sale again (a retry after a lost answer).
	Resume(ctx context.Context, id, key string) (ParkedSale, error)
}

// ParkedSale is a cart put aside: its lines as the cart held them (with
// discounts and price overrides), a name the cashier gave or none, and
// what the screen lists.
type ParkedSale struct {
	ID       string       `json:"id"` // "<till number>-<n>"
	Till     uint32       `json:"till"`
	Name     string       `json:"name,omitempty"`
	Staff    string       `json:"staff"`
	Parked   time.Time    `json:"parked"`
	Lines    []ParkedLine `json:"lines,omitempty"`
	Discount *Discount    `json:"discount,omitempty"`
	Total    ledger.Money `json:"total"`
	Units    int64        `json:"units"`
	Currency string       `json:"currency"`
}

// ParkedLine is a cart line as it is parked. (basket.Item embeds
// Product, whose UnmarshalJSON would swallow the other fields.)
type ParkedLine struct {
	Product  Product          `json:"product"`
	Qty      int64            `json:"qty"`
	Discount *Discount        `json:"discount,omitempty"`
	Override *basket.Override `json:"override,omitempty"`
}

func parkedLines(ls []cartLine) []ParkedLine {
	out := make([]ParkedLine, len(ls))
	for i, l := range ls {
		out[i] = ParkedLine{Product: l.Product, Qty: l.Qty, Discount: l.Discount, Override: l.Override}
	}
	return out
}

func (p ParkedSale) cartLines() []cartLine {
	out := make([]cartLine, len(p.Lines))
	for i, l := range p.Lines {
		out[i] = cartLine{Product: l.Product, Qty: l.Qty, Discount: l.Discount, Override: l.Override}
	}
	return out
}

// ParkedList is the store's parked sales as one till sees them.
type ParkedList struct {
	Sales       []ParkedSale `json:"sales"`
	Unreachable []uint32     `json:"unreachable,omitempty"`
}

func (a *API) parking() (Parking, error) {
	p, ok := a.till.(Parking)
	if !ok {
		return nil, fmt.Errorf("%w: this till keeps no parked sales", ErrUnavailable)
	}
	return p, nil
}

// summary drops the items for the list view.
func (p ParkedSale) summary() ParkedSale {
	p.Lines, p.Discount = nil, nil
	return p
}

func (a *API) getParked(w http.ResponseWriter, r *http.Request, _ *session) {
	pk, err := a.parking()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	l, err := pk.ParkedSales(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for i := range l.Sales {
		l.Sales[i] = l.Sales[i].summary()
	}
	if l.Sales == nil {
		l.Sales = []ParkedSale{}
	}
	writeJSON(w, http.StatusOK, l)
}

// postPark parks the till's cart: POST /api/parked {"name": ...}. The
// cart is empty afterwards.
func (a *API) postPark(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		Name string `json:"name,omitempty"`
	}
	if !decode(w, r, &req) {
		return
	}
	name := strings.TrimSpace(req.Name)
	if err := basket.ValidText("parked sale name", name, 64, false); err != nil {
		a.fail(w, r, badRequest("%v", err))
		return
	}
	pk, err := a.parking()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx := r.Context()
	lines, d, version := a.cart.snapshot()
	if len(lines) == 0 {
		a.fail(w, r, badRequest("the cart is empty: nothing to park"))
		return
	}
	set := a.settings(ctx)
	p, err := price(lines, d, version, -1, set.TaxIncluded)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ps, err := pk.Park(ctx, ParkedSale{Name: name, Staff: s.staff.ID, Parked: a.cfg.Now().UTC(), Lines: parkedLines(lines), Discount: d,
		Total: p.view.Total, Units: p.view.Items, Currency: p.view.Currency})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if _, ok := a.cart.replace(version, nil, nil); !ok {
		// The cart changed while it was parked: take the parked copy back
		// so the sale is in one place only.
		if _, err := pk.Resume(ctx, ps.ID, "unpark-"+ps.ID); err != nil {
			a.log.Error("parked sale left parked after a cart change", "id", ps.ID, "err", err)
		}
		a.fail(w, r, fmt.Errorf("%w: the cart changed on another screen while parking: park it again", ErrConflict))
		return
	}
	a.log.Info("sale parked", "id", ps.ID, "staff", s.staff.ID, "total", ps.Total.String())
	writeJSON(w, http.StatusCreated, ps.summary())
}

// postResume resumes a parked sale into this till's empty cart: POST
// /api/parked/{id}/resume {"idempotency_key": ...}.
func (a *API) postResume(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		IdempotencyKey string `json:"idempotency_key"`
	}
	if !decode(w, r, &req) {
		return
	}
	if !a.keyed(w, r, req.IdempotencyKey) {
		return
	}
	pk, err := a.parking()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if lines, _, _ := a.cart.snapshot(); len(lines) > 0 {
		a.fail(w, r, fmt.Errorf("%w: the cart is not empty: finish or park the current sale first", ErrConflict))
		return
	}
	ps, err := pk.Resume(r.Context(), r.PathValue("id"), req.IdempotencyKey)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Install it; a cart filled meanwhile keeps its lines and gets these
	// after them, so nothing taken is lost.
	for range 5 {
		lines, d, version := a.cart.snapshot()
		if len(lines) == 0 {
			lines, d = ps.cartLines(), ps.Discount
		} else {
			lines = append(lines, ps.cartLines()...)
		}
		if len(lines) > ledger.MaxLines {
			lines = lines[:ledger.MaxLines]
		}
		if _, ok := a.cart.replace(version, lines, d); ok {
			a.log.Info("parked sale resumed", "id", ps.ID, "staff", s.staff.ID)
			v, err := a.cartView(r.Context())
			if err != nil {
				a.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	a.log.Error("resumed parked sale not installed: the cart kept changing", "id", ps.ID, "lines", len(ps.Lines), "total", ps.Total.String())
	a.fail(w, r, fmt.Errorf("%w: the cart keeps changing on another screen: parked sale %s was taken but not installed", ErrConflict, ps.ID))
}
