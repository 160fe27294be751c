package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// This file implements the rest of ui.Till (Sell, Stock, AllStock and
// Status are in sell.go; staff in staff.go).

var _ ui.Till = (*Till)(nil)

// Self names this till.
func (t *Till) Self() ui.TillInfo {
	return ui.TillInfo{ID: t.id, Number: t.cert.Number, Name: t.cert.Name, Store: t.cfg.Store.Name}
}

// TillNumber returns a till's number, 0 if its certificate is unknown.
func (t *Till) TillNumber(id ledger.TillID) uint32 { return t.number(id) }

// TillByNumber finds a till of the store by its number.
func (t *Till) TillByNumber(n uint32) (ledger.TillID, bool) {
	t.mu.Lock()
	for id, num := range t.numbers {
		if num == n {
			t.mu.Unlock()
			return id, true
		}
	}
	t.mu.Unlock()
	// A till whose certificate only the CRDT has published so far.
	certs, err := t.inv.Certificates(context.Background())
	if err != nil {
		return ledger.TillID{}, false
	}
	for hexID := range certs {
		if id, err := ledger.ParseTillID(hexID); err == nil && t.enrolled(id) && t.number(id) == n {
			return id, true
		}
	}
	return ledger.TillID{}, false
}

// Replay returns the event this till made with an idempotency key, or nil.
func (t *Till) Replay(idem string) (*ledger.Event, error) {
	return t.db.ByIdempotencyKey(t.id, idem)
}

// Event returns a till's event by seq.
func (t *Till) Event(till ledger.TillID, seq uint64) (*ledger.Event, error) {
	ev, err := t.db.Get(till, seq)
	if err != nil {
		return nil, fmt.Errorf("%w: event %s/%d: %v", ui.ErrNotFound, till.Short(), seq, err)
	}
	if ev == nil {
		return nil, fmt.Errorf("%w: event %s/%d", ui.ErrNotFound, till.Short(), seq)
	}
	return ev, nil
}

// View runs f with the merged ledger state under the ledger's lock.
func (t *Till) View(f func(*ledger.State)) { t.db.View(f) }

// productView is a catalog product as the UI shows it: barcodes never
// null, and without the CRDT's edit time and reorder point, which the
// till API has never carried.
func productView(p crdt.Product) ui.Product {
	p.Barcodes = append([]string{}, p.Barcodes...)
	p.Updated, p.Reorder = 0, 0
	return p
}

func inventoryErr(err error, what string) error {
	switch {
	case errors.Is(err, crdt.ErrNotFound):
		return fmt.Errorf("%w: %s", ui.ErrNotFound, what)
	case errors.Is(err, crdt.ErrInvalid):
		return fmt.Errorf("%w: %s: %v", ui.ErrBadRequest, what, err)
	}
	return err
}

// Product returns the product with a SKU.
func (t *Till) Product(ctx context.Context, sku string) (ui.Product, error) {
	p, err := t.inv.Product(ctx, sku)
	if err != nil {
		return ui.Product{}, inventoryErr(err, fmt.Sprintf("unknown sku %q", sku))
	}
	return productView(p), nil
}

// ProductByBarcode finds the product a code names, by ledger/basket's
// rule (productByCode): the cart, the catalog screen and POST
// /api/sales find products the same way.
func (t *Till) ProductByBarcode(ctx context.Context, code string) (ui.Product, error) {
	p, err := t.productByCode(ctx, code)
	if err != nil {
		return ui.Product{}, err
	}
	return productView(p), nil
}

// SearchProducts finds products by SKU, name or barcode.
func (t *Till) SearchProducts(ctx context.Context, q string, limit int) ([]ui.Product, error) {
	ps, err := t.inv.SearchProducts(ctx, q, limit)
	if err != nil {
		return nil, err
	}
	out := make([]ui.Product, 0, len(ps))
	for _, p := range ps {
		out = append(out, productView(p))
	}
	return out, nil
}

// PutProduct adds or replaces a product in the catalog after checking
// it by ledger/basket's rules (basket.Product.Check: barcodes of 8, 12,
// 13 or 14 digits must have a right check digit).
//
// The till API carries no reorder point (a catalog import sets it): an
// edit keeps the stored one rather than writing zero over it. Likewise
// an edit without a cost price (0) keeps the stored cost; a new or
// changed cost is written only once every till of the store knows
// ledger.FeatureCostPrice (an older till would erase it on its next
// edit), else ui.ErrConflict names the tills to upgrade.
func (t *Till) PutProduct(ctx context.Context, p ui.Product) error {
	p.Updated = t.cfg.Now().UnixMilli()
	if err := p.Check(); err != nil {
		return fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	old, err := t.inv.Product(ctx, p.SKU)
	switch {
	case err == nil:
		if p.Reorder == 0 {
			p.Reorder = old.Reorder
		}
		if p.Cost == 0 {
			p.Cost = old.Cost // an edit that does not give a cost keeps it
		}
	case !errors.Is(err, crdt.ErrNotFound):
		return err
	}
	if p.Cost != 0 && p.Cost != old.Cost {
		if err := t.kindAllowed(ctx, ledger.FeatureCostPrice); err != nil {
			return fmt.Errorf("set the cost price of %s: %w", p.SKU, err)
		}
	}
	return t.inv.PutProduct(ctx, p)
}

// Setting returns a store-wide setting.
func (t *Till) Setting(ctx context.Context, name string) (string, bool, error) {
	v, err := t.inv.Setting(ctx, name)
	if errors.Is(err, crdt.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, inventoryErr(err, "setting "+name)
	}
	return string(v), true, nil
}

// PutSetting stores a store-wide setting.
func (t *Till) PutSetting(ctx context.Context, name, value string) error {
	return inventoryErr(t.inv.PutSetting(ctx, name, []byte(value)), "setting "+name)
}

// Watch reports inventory changes, local or merged from peers, until ctx
// ends or the till closes.
func (t *Till) Watch(ctx context.Context) <-chan ui.Change {
	in, cancel := t.inv.Subscribe(256)
	out := make(chan ui.Change, 64)
	go func() {
		defer close(out)
		defer cancel()
		lost := false
		for {
			select {
			case <-ctx.Done():
				return
			case c, ok := <-in:
				if !ok {
					return
				}
				var uc ui.Change
				switch c.Kind {
				case crdt.ChangeStock:
					uc = ui.Change{Kind: ui.ChangeStock, ID: c.ID}
				case crdt.ChangeProduct:
					uc = ui.Change{Kind: ui.ChangeProduct, ID: c.ID}
				case crdt.ChangeSetting:
					uc = ui.Change{Kind: ui.ChangeSetting, ID: c.ID}
				case crdt.ChangeStaff:
					uc = ui.Change{Kind: ui.ChangeStaff, ID: c.ID}
				case crdt.ChangeOverflow:
					uc = ui.Change{Kind: ui.ChangeReload}
				default:
					continue
				}
				if lost {
					select {
					case out <- ui.Change{Kind: ui.ChangeReload}:
						lost = false
					default:
						continue
					}
				}
				select {
				case out <- uc:
				default:
					lost = true // the reader is slow: it reloads later
				}
			}
		}
	}()
	return out
}
