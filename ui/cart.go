package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// cartLine is a product in the cart, priced when it was scanned and
// repriced at checkout.
type cartLine = basket.Item

// Discount is a line or cart discount as the cashier gave it.
type Discount = basket.Discount

// cartState is the till's one open cart, shared by every screen of the
// till (a customer display shows the same cart). It lives in memory.
type cartState struct {
	mu       sync.Mutex
	lines    []cartLine
	discount *Discount
	version  uint64
	subs     map[chan struct{}]struct{}
}

func newCartState() *cartState { return &cartState{subs: map[chan struct{}]struct{}{}} }

// snapshot copies the cart for pricing outside the lock.
func (c *cartState) snapshot() ([]cartLine, *Discount, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneLines(c.lines), cloneDiscount(c.discount), c.version
}

func cloneLines(ls []cartLine) []cartLine {
	out := make([]cartLine, len(ls))
	for i, l := range ls {
		out[i] = l
		out[i].Barcodes = append([]string(nil), l.Barcodes...)
		out[i].Discount = cloneDiscount(l.Discount)
		if l.Override != nil {
			o := *l.Override
			out[i].Override = &o
		}
	}
	return out
}

func cloneDiscount(d *Discount) *Discount {
	if d == nil {
		return nil
	}
	c := *d
	return &c
}

// replace installs a new cart if the cart is still at version; it
// reports whether it did.
func (c *cartState) replace(version uint64, lines []cartLine, d *Discount) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		return c.version, false
	}
	c.lines, c.discount = lines, d
	c.version++
	c.notify()
	return c.version, true
}

func (c *cartState) notify() {
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (c *cartState) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}
}

// CartView is the priced cart.
type CartView struct {
	Version   uint64         `json:"version"`
	Currency  string         `json:"currency"`
	Lines     []CartLineView `json:"lines"`
	Discount  *Discount      `json:"discount,omitempty"`
	Items     int64          `json:"items"`
	Gross     ledger.Money   `json:"gross"`
	Discounts ledger.Money   `json:"discounts"`
	Net       ledger.Money   `json:"net"`
	Tax       ledger.Money   `json:"tax"`
	Total     ledger.Money   `json:"total"`
	Bands     []Band         `json:"bands"`
	Approver  string         `json:"approver,omitempty"`
	// TaxIncluded: prices include tax; otherwise Tax is added to Net.
	TaxIncluded bool `json:"tax_included"`
}

// CartLineView is one priced line. Index is 0-based.
type CartLineView struct {
	Index        int            `json:"index"`
	SKU          string         `json:"sku"`
	Name         string         `json:"name"`
	Unit         ledger.Unit    `json:"unit"`
	Qty          int64          `json:"qty"` // units, or grams for kg
	UnitPrice    ledger.Money   `json:"unit_price"`
	TaxRate      ledger.TaxRate `json:"tax_rate"`
	Discount     *Discount      `json:"discount,omitempty"`
	Gross        ledger.Money   `json:"gross"`
	LineDiscount ledger.Money   `json:"line_discount"`
	CartDiscount ledger.Money   `json:"cart_discount"`
	Tax          ledger.Money   `json:"tax"`
	Amount       ledger.Money   `json:"amount"`
	// A price override: the catalog's price, the reason, who gave it.
	ListPrice      ledger.Money `json:"list_price,omitempty"`
	OverrideReason string       `json:"override_reason,omitempty"`
	OverrideBy     string       `json:"override_by,omitempty"`
}

// Band is the net and tax at one rate.
type Band struct {
	Rate ledger.TaxRate `json:"rate"`
	Net  ledger.Money   `json:"net"`
	Tax  ledger.Money   `json:"tax"`
}

func bandsOf(bs []ledger.TaxBand) []Band {
	out := make([]Band, 0, len(bs))
	for _, b := range bs {
		out = append(out, Band{Rate: b.Rate, Net: b.Net, Tax: b.Tax})
	}
	return out
}

// priced is a cart priced by the selling rules, as node.Sell will price
// it (prices include tax unless the store adds it at the total).
type priced struct {
	basket.Priced
	view CartView
}

// price computes the cart's amounts. Discounts above limitBP (basis
// points of what they apply to; negative: no limit) without an approver
// are listed in Over.
func price(lines []cartLine, d *Discount, version uint64, limitBP int64, taxIncluded bool) (priced, error) {
	bp, err := basket.Price(basket.Basket{Items: lines, Discount: d, TaxIncluded: taxIncluded, LimitBP: limitBP})
	if err != nil {
		return priced{}, badRequest("%v", err)
	}
	t := bp.Totals
	v := CartView{Version: version, Currency: bp.Sale.Currency, Lines: make([]CartLineView, len(lines)), Discount: d,
		Items: bp.Units, Gross: t.Gross, Discounts: t.Discounts, Net: t.Net, Tax: t.Tax, Total: t.Total,
		Bands: bandsOf(t.Bands), Approver: bp.Approver, TaxIncluded: taxIncluded}
	for i, l := range lines {
		lt := t.Lines[i]
		sl := bp.Sale.Lines[i]
		v.Lines[i] = CartLineView{Index: i, SKU: l.SKU, Name: l.Name, Unit: l.Unit, Qty: l.Qty, UnitPrice: sl.UnitPrice,
			TaxRate: l.TaxRate, Discount: l.Discount, Gross: lt.Gross, LineDiscount: lt.Discount,
			CartDiscount: lt.CartDiscount, Tax: lt.Tax, Amount: lt.Amount,
			ListPrice: sl.ListPrice, OverrideReason: sl.OverrideReason, OverrideBy: sl.OverrideBy}
	}
	return priced{Priced: bp, view: v}, nil
}

// approval is a manager's PIN sent along with a request that needs it.
type approval struct {
	Approver    string `json:"approver,omitempty"`
	ApproverPIN string `json:"approver_pin,omitempty"`
}

// approveOver makes sure every discount above the limit has a manager's
// approval: the session's own when a manager is logged in, otherwise the
// PIN in the request. It marks them approved.
func (a *API) approveOver(ctx context.Context, r *http.Request, s *session, ap approval, lines []cartLine, d *Discount, limitBP int64) error {
	p, err := price(lines, d, 0, limitBP, a.settings(ctx).TaxIncluded)
	if err != nil {
		return err
	}
	if len(p.Over) == 0 {
		return nil
	}
	who, err := a.authorize(ctx, r, s, ap, fmt.Sprintf("%s above the %s%% limit", strings.Join(p.Over, ", "), basket.BP(limitBP)), PermDiscount)
	if err != nil {
		return err
	}
	for i := range lines {
		if l := lines[i].Discount; l != nil && l.ApprovedBy == "" {
			l.ApprovedBy, l.ApprovedFor = who, p.LineFP[i]
		}
	}
	if d != nil && d.ApprovedBy == "" {
		d.ApprovedBy, d.ApprovedFor = who, p.CartFP
	}
	a.log.Info("discount approved", "by", who, "staff", s.staff.ID, "what", strings.Join(p.Over, ", "))
	return nil
}

// cartChange applies edit to a copy of the cart, checks the result
// prices, gets approval for discounts above the limit, and installs it if
// nobody changed the cart meanwhile. An edit that cannot carry a
// manager's PIN (ap nil: a scan, a removed line) goes through, and a
// discount approval it voids waits for the checkout to be given again.
func (a *API) cartChange(w http.ResponseWriter, r *http.Request, s *session, ap *approval, edit func(lines []cartLine, d *Discount) ([]cartLine, *Discount, error)) {
	ctx := r.Context()
	limit := a.settings(ctx).DiscountLimitBP
	for range 5 {
		lines, d, version := a.cart.snapshot()
		lines, d, err := edit(lines, d)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if ap != nil || a.settings(ctx).Permissions.Allows(s.staff.Role, PermDiscount) {
			if ap == nil {
				ap = &approval{}
			}
			if err := a.approveOver(ctx, r, s, *ap, lines, d, limit); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		p, err := price(lines, d, version+1, limit, a.settings(ctx).TaxIncluded)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if _, ok := a.cart.replace(version, lines, d); ok {
			writeJSON(w, http.StatusOK, p.view)
			return
		}
	}
	a.fail(w, r, fmt.Errorf("%w: the cart keeps changing on another screen", ErrConflict))
}

func (a *API) cartView(ctx context.Context) (CartView, error) {
	lines, d, version := a.cart.snapshot()
	set := a.settings(ctx)
	p, err := price(lines, d, version, set.DiscountLimitBP, set.TaxIncluded)
	return p.view, err
}

func (a *API) getCart(w http.ResponseWriter, r *http.Request, _ *session) {
	v, err := a.cartView(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// AddLine is the body of POST /api/cart/lines: a barcode or a SKU, and a
// quantity (units, or grams for goods sold by weight; default 1 unit).
type AddLine struct {
	Barcode string `json:"barcode,omitempty"`
	SKU     string `json:"sku,omitempty"`
	Qty     *int64 `json:"qty,omitempty"`
}

func checkQty(q int64, p Product) error {
	if err := p.CheckQty(q); err != nil {
		return badRequest("%v", err)
	}
	return nil
}

// lookup finds a product by barcode or SKU for the cart and for sales.
func (a *API) lookup(ctx context.Context, barcode, sku string) (Product, error) {
	switch {
	case barcode != "" && sku != "":
		return Product{}, badRequest("give a barcode or a sku, not both")
	case barcode != "":
		if err := CheckBarcode(barcode); err != nil {
			return Product{}, err
		}
		p, err := a.till.ProductByBarcode(ctx, barcode)
		if errors.Is(err, ErrNotFound) {
			return Product{}, fmt.Errorf("%w: %w", ErrNotFound, i18n.Errorf("till.error.unknown_barcode", "code", barcode))
		}
		return p, err
	case sku != "":
		p, err := a.till.Product(ctx, sku)
		if errors.Is(err, ErrNotFound) {
			return Product{}, fmt.Errorf("%w: unknown sku %q", ErrNotFound, sku)
		}
		return p, err
	}
	return Product{}, badRequest("a line needs a barcode or a sku")
}

func (a *API) postCartLine(w http.ResponseWriter, r *http.Request, s *session) {
	var req AddLine
	if !decode(w, r, &req) {
		return
	}
	it, err := a.resolveLine(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.cartChange(w, r, s, nil, addEdit(it))
}

// resolveLine makes the cart line a request adds: a variable-measure
// label by the store's layouts (scan.go), else the product by barcode or
// SKU with the quantity given (a weight for goods sold by weight).
func (a *API) resolveLine(ctx context.Context, req AddLine) (cartLine, error) {
	barcode := strings.TrimSpace(req.Barcode)
	if it, ok, err := a.labelLine(ctx, barcode); ok {
		return it, err
	}
	p, err := a.lookup(ctx, barcode, strings.TrimSpace(req.SKU))
	if err != nil {
		return cartLine{}, a.variableHint(barcode, err)
	}
	var qty int64 = 1
	switch {
	case req.Qty != nil:
		qty = *req.Qty
	case p.Unit == ledger.Kilogram:
		return cartLine{}, &needError{status: http.StatusBadRequest, need: "weight", product: &p,
			reason: fmt.Sprintf("%s is sold by weight: enter the weight in kg", p.Name)}
	}
	if err := checkQty(qty, p); err != nil {
		return cartLine{}, err
	}
	return cartLine{Product: p, Qty: qty}, nil
}

// addEdit adds it to the cart: onto the last line when that is the same
// product at the same price by the piece, else as a new line.
func addEdit(it cartLine) func(lines []cartLine, d *Discount) ([]cartLine, *Discount, error) {
	return func(lines []cartLine, d *Discount) ([]cartLine, *Discount, error) {
		p := it.Product
		if n := len(lines); n > 0 && p.Unit != ledger.Kilogram && it.Override == nil {
			if last := &lines[n-1]; last.SKU == p.SKU && last.Discount == nil && last.Override == nil && last.Price == p.Price {
				if err := checkQty(last.Qty+it.Qty, p); err != nil {
					return nil, nil, err
				}
				last.Qty += it.Qty
				return lines, d, nil
			}
		}
		if len(lines) >= ledger.MaxLines {
			return nil, nil, badRequest("the cart is full (%d lines)", ledger.MaxLines)
		}
		return append(lines, it), d, nil
	}
}

// EditLine is the body of PUT /api/cart/lines/{n}: a new quantity and/or
// a discount (a discount of value 0 removes it), with a manager's PIN
// when the discount is above the limit.
type EditLine struct {
	Qty      *int64    `json:"qty,omitempty"`
	Discount *Discount `json:"discount,omitempty"`
	// Override gives the line another price with a reason (override.go);
	// RemoveOverride goes back to the catalog's price. Neither goes with
	// qty or discount in one request.
	Override       *basket.Override `json:"override,omitempty"`
	RemoveOverride bool             `json:"remove_override,omitempty"`
	approval
}

func lineIndex(r *http.Request, n int) (int, error) {
	i, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || i < 0 || i >= n {
		return 0, fmt.Errorf("%w: no cart line %q (the cart has %d)", ErrNotFound, r.PathValue("n"), n)
	}
	return i, nil
}

func (a *API) putCartLine(w http.ResponseWriter, r *http.Request, s *session) {
	var req EditLine
	if !decode(w, r, &req) {
		return
	}
	if req.Override != nil || req.RemoveOverride {
		if req.Qty != nil || req.Discount != nil || (req.Override != nil && req.RemoveOverride) {
			a.fail(w, r, badRequest("a price override goes alone: not with qty, discount or remove_override"))
			return
		}
		a.overrideLine(w, r, s, req)
		return
	}
	if req.Qty == nil && req.Discount == nil {
		a.fail(w, r, badRequest("nothing to change: give qty, discount or override"))
		return
	}
	if err := req.Discount.Validate(); err != nil {
		a.fail(w, r, badRequest("%v", err))
		return
	}
	a.cartChange(w, r, s, &req.approval, func(lines []cartLine, d *Discount) ([]cartLine, *Discount, error) {
		i, err := lineIndex(r, len(lines))
		if err != nil {
			return nil, nil, err
		}
		if req.Qty != nil {
			if err := checkQty(*req.Qty, lines[i].Product); err != nil {
				return nil, nil, err
			}
			lines[i].Qty = *req.Qty
		}
		if req.Discount != nil {
			if req.Discount.Value == 0 {
				lines[i].Discount = nil
			} else {
				lines[i].Discount = &Discount{Kind: req.Discount.Kind, Value: req.Discount.Value}
			}
		}
		return lines, d, nil
	})
}

func (a *API) deleteCartLine(w http.ResponseWriter, r *http.Request, s *session) {
	a.cartChange(w, r, s, nil, func(lines []cartLine, d *Discount) ([]cartLine, *Discount, error) {
		i, err := lineIndex(r, len(lines))
		if err != nil {
			return nil, nil, err
		}
		lines = append(lines[:i], lines[i+1:]...)
		if len(lines) == 0 {
			d = nil
		}
		return lines, d, nil
	})
}

// CartDiscount is the body of PUT /api/cart/discount.
type CartDiscount struct {
	Kind  string `json:"kind"`
	Value int64  `json:"value"`
	approval
}

func (a *API) putCartDiscount(w http.ResponseWriter, r *http.Request, s *session) {
	var req CartDiscount
	if !decode(w, r, &req) {
		return
	}
	nd := &Discount{Kind: req.Kind, Value: req.Value}
	if err := nd.Validate(); err != nil {
		a.fail(w, r, badRequest("%v", err))
		return
	}
	a.cartChange(w, r, s, &req.approval, func(lines []cartLine, d *Discount) ([]cartLine, *Discount, error) {
		if len(lines) == 0 {
			return nil, nil, badRequest("the cart is empty")
		}
		if nd.Value == 0 {
			return lines, nil, nil
		}
		return lines, nd, nil
	})
}

// Checkout is the body of POST /api/cart/checkout. The page makes the
// idempotency key before it first sends the request and reuses it on a
// retry. Version, when set, must be the cart's version the cashier saw.
type Checkout struct {
	IdempotencyKey string          `json:"idempotency_key"`
	Tenders        []ledger.Tender `json:"tenders"`
	Version        uint64          `json:"version,omitempty"`
	approval
}

// CheckoutResult is a recorded sale with what the screen needs next.
type CheckoutResult struct {
	Sale     SaleDetail `json:"sale"`
	Drawer   bool       `json:"drawer"` // cash was taken: open the drawer
	Replayed bool       `json:"replayed,omitempty"`
}

func (a *API) postCheckout(w http.ResponseWriter, r *http.Request, s *session) {
	var req Checkout
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	if ev, ok := a.replayOf(w, r, req.IdempotencyKey); !ok {
		return
	} else if ev != nil {
		// The cart is gone with the sale: the tenders and the cashier
		// tell a retry from another request.
		if sale, isSale := ev.Body.(*ledger.Sale); !isSale || sale.Staff != s.staff.ID || !sameTenders(sale.Tenders, req.Tenders) {
			a.fail(w, r, a.reused(ev))
			return
		}
		a.saleDone(w, r, ev, true)
		return
	}
	lines, d, version := a.cart.snapshot()
	if req.Version != 0 && req.Version != version {
		a.fail(w, r, fmt.Errorf("%w: the cart changed on another screen: check the total and pay again", ErrConflict))
		return
	}
	if len(lines) == 0 {
		a.fail(w, r, badRequest("the cart is empty"))
		return
	}
	// Reprice from the catalog: a price may have changed since the scan.
	changed := false
	for i := range lines {
		p, err := a.till.Product(ctx, lines[i].SKU)
		if err != nil {
			a.fail(w, r, fmt.Errorf("line %d: %w", i+1, err))
			return
		}
		if p.Price != lines[i].Price || p.TaxRate != lines[i].TaxRate || p.Unit != lines[i].Unit || p.Currency != lines[i].Currency {
			lines[i].Product, changed = p, true
		}
	}
	if changed {
		a.cart.replace(version, lines, d)
		a.fail(w, r, fmt.Errorf("%w: a price changed in the catalog since the scan: check the new total", ErrConflict))
		return
	}
	limit := a.settings(ctx).DiscountLimitBP
	if err := a.approveOver(ctx, r, s, req.approval, lines, d, limit); err != nil {
		a.fail(w, r, err)
		return
	}
	taxIncluded := a.settings(ctx).TaxIncluded
	p, err := price(lines, d, version, limit, taxIncluded)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := checkTenders(req.Tenders, p.view.Total, a.settings(ctx).CashRounding); err != nil {
		a.fail(w, r, err)
		return
	}
	sr := SaleRequest{IdempotencyKey: req.IdempotencyKey, Tenders: req.Tenders, CartDiscount: p.Sale.CartDiscount,
		Staff: s.staff.ID, Approver: p.view.Approver, Customer: a.attached.get(), TaxAdded: !taxIncluded}
	for i, l := range p.Sale.Lines {
		sr.Lines = append(sr.Lines, SaleLine{SKU: l.SKU, Qty: l.Qty, Discount: l.Discount, Override: lines[i].Override})
	}
	ev, _, err := a.till.Sell(ctx, sr)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.cart.replace(version, nil, nil)
	a.attached.clearIf(sr.Customer)
	a.log.Info("sale", "receipt", a.receiptNo(ev.Till, ev.Seq), "staff", s.staff.ID, "total", p.view.Total.String())
	a.saleDone(w, r, ev, false)
}

// checkTenders checks the tenders for a sale of total with cash rounded
// to step (basket.CashChange).
func checkTenders(ts []ledger.Tender, total, step ledger.Money) error {
	if _, _, err := basket.CashChange(ts, total, step); err != nil {
		return badRequest("%v", err)
	}
	return nil
}

func (a *API) saleDone(w http.ResponseWriter, r *http.Request, ev *ledger.Event, replayed bool) {
	sale, ok := ev.Body.(*ledger.Sale)
	if !ok {
		a.fail(w, r, a.reused(ev))
		return
	}
	drawer := false
	for _, t := range sale.Tenders {
		drawer = drawer || t.Kind == ledger.Cash
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, CheckoutResult{Sale: a.detail(ev), Drawer: drawer, Replayed: replayed})
}
