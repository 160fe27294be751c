package ui

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tillmesh/tillmesh/ledger/basket"
)

// TaxIncludedSetting reads the tax_included setting: anything but
// "false" keeps the default, prices that include tax.
func TaxIncludedSetting(v string) bool { return strings.TrimSpace(v) != "false" }

// approveOverride checks a price override of a product listed at list
// and the permission it needs: price_override within the store's
// override limit, price_override_large for a deeper cut or a raise, the
// session's own or an approver's PIN. It returns the override to store,
// with ApprovedBy set (whatever the client sent there).
func (a *API) approveOverride(ctx context.Context, r *http.Request, s *session, ap approval, p Product, o basket.Override) (*basket.Override, error) {
	o.ApprovedBy = ""
	o.Reason = strings.TrimSpace(o.Reason)
	if err := o.Check(p.Price); err != nil {
		return nil, badRequest("%s: %v", p.Name, err)
	}
	if err := a.checkSmallest(ctx, p.Name+": price override", o.Price); err != nil { // money.go
		return nil, err
	}
	perms := []Permission{PermPriceOverride}
	if o.Large(p.Price, a.settings(ctx).OverrideLimitBP) {
		perms = append(perms, PermPriceOverrideLarge)
	}
	who, err := a.authorize(ctx, r, s, ap, fmt.Sprintf("a price of %v for %s (list price %v)", o.Price, p.Name, p.Price), perms...)
	if err != nil {
		return nil, err
	}
	o.ApprovedBy = who
	a.log.Info("price override", "sku", p.SKU, "list", p.Price.String(), "price", o.Price.String(), "reason", o.Reason, "by", who, "staff", s.staff.ID)
	return &o, nil
}

// overrideLine sets or removes (o nil) line i's price override, once the
// override is allowed. It is the price part of PUT /api/cart/lines/{n}.
func (a *API) overrideLine(w http.ResponseWriter, r *http.Request, s *session, req EditLine) {
	lines, _, _ := a.cart.snapshot()
	i, err := lineIndex(r, len(lines))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	want := lines[i]
	var o *basket.Override
	if req.Override != nil {
		if o, err = a.approveOverride(r.Context(), r, s, req.approval, want.Product, *req.Override); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	a.cartChange(w, r, s, nil, func(lines []cartLine, d *Discount) ([]cartLine, *Discount, error) {
		if i >= len(lines) || lines[i].SKU != want.SKU || lines[i].Price != want.Price {
			return nil, nil, fmt.Errorf("%w: line %d changed on another screen: give the price again", ErrConflict, i+1)
		}
		lines[i].Override = o
		return lines, d, nil
	})
}

// approveSaleOverrides approves the price overrides of a sale given as
// lines (POST /api/sales) in place.
func (a *API) approveSaleOverrides(ctx context.Context, r *http.Request, s *session, ap approval, req SaleRequest, products []Product) error {
	for i, l := range req.Lines {
		if l.Override == nil {
			continue
		}
		o, err := a.approveOverride(ctx, r, s, ap, products[i], *l.Override)
		if err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		req.Lines[i].Override = o
	}
	return nil
}
