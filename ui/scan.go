package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger/basket"
)

// Variable-measure labels, serial scanners and the scale (issue 16).

// SettingVariableLayouts is the store's variable-measure layouts, a JSON
// list of basket.Layout; unset means basket.DefaultLayouts.
const SettingVariableLayouts = "variable_layouts"

// parseLayouts reads the variable_layouts setting; ok is false when it
// is malformed or a layout is invalid.
func parseLayouts(v string) ([]basket.Layout, bool) {
	var ls []basket.Layout
	if err := json.Unmarshal([]byte(v), &ls); err != nil {
		return nil, false
	}
	for _, l := range ls {
		if l.Validate() != nil {
			return nil, false
		}
	}
	return ls, true
}

// labelLine makes the cart line of a variable-measure label: ok is false
// when code is not one by the store's layouts (then it is looked up as
// any other code). A wrong check digit, a product missing from the
// catalog or a label that cannot price its product are errors.
func (a *API) labelLine(ctx context.Context, code string) (cartLine, bool, error) {
	c, err := basket.Parse(code)
	if err != nil {
		return cartLine{}, false, nil
	}
	v, err := basket.DecodeVariable(c, a.settings(ctx).VariableLayouts)
	switch {
	case errors.Is(err, basket.ErrNotVariable):
		return cartLine{}, false, nil
	case errors.Is(err, basket.ErrCheckDigit):
		return cartLine{}, true, badRequest("wrong check digit in label %s: scan it again or type the item", code)
	case err != nil:
		return cartLine{}, true, badRequest("label %s: %v", code, err)
	}
	var p Product
	found := false
	for _, k := range v.ItemKeys() {
		if p, err = a.till.ProductByBarcode(ctx, k); err == nil {
			found = true
			break
		}
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrBadRequest) {
			return cartLine{}, true, err
		}
	}
	if !found {
		return cartLine{}, true, fmt.Errorf("%w: label %s: no product in the catalog has item code %s (barcode %s)", ErrNotFound, code, v.Item, v.ItemKeys()[0])
	}
	it, err := basket.LabelItem(v, p)
	if err != nil {
		return cartLine{}, true, badRequest("label %s: %v", code, err)
	}
	return it, true, nil
}

// variableHint adds to a not-found error for a code of a variable-measure
// prefix that the store has no layout for.
func (a *API) variableHint(code string, err error) error {
	c, perr := basket.Parse(code)
	if perr != nil || !errors.Is(err, ErrNotFound) {
		return err
	}
	if p := c.GTIN[:2]; p == "02" || (p[0] == '2' && len(c.GTIN) == 13) {
		return fmt.Errorf("%w (prefix %s is for variable-measure labels, and the store's settings have no layout for it)", err, p)
	}
	return err
}

// ScanEvent is the "scan" event of the stream: a serial scanner read a
// code that did not simply go into the cart. Need "weight" asks the page
// to do what it does for a wedge scan of the code (ask the weight);
// Error says what was wrong.
type ScanEvent struct {
	Code   string `json:"code"`
	Device string `json:"device,omitempty"`
	Need   string `json:"need,omitempty"`
	Error  string `json:"error,omitempty"`
	// ErrorCode and ErrorArgs are Error's catalog key and arguments,
	// for the pages' words (ui/language.go); empty without one.
	ErrorCode string            `json:"error_code,omitempty"`
	ErrorArgs map[string]string `json:"error_args,omitempty"`
}

// feed fans events out to the open pages (serial scans, scale weights).
type feed[T any] struct {
	mu   sync.Mutex
	subs map[chan T]struct{}
}

func (f *feed[T]) subscribe() (<-chan T, func()) {
	ch := make(chan T, 8)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[chan T]struct{}{}
	}
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}
}

func (f *feed[T]) publish(e T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- e:
		default: // a page that does not read misses it
		}
	}
}

// WeightEvent is the "weight" event of the stream: the scale's stable
// weight in grams, or 0 once nothing stable is on it (the item was taken
// off, or it moves). The page fills the weighed line it last weighed
// with it, live.
type WeightEvent struct {
	Grams int64 `json:"grams"`
}

// Weighed takes a change of the scale's stable weight (node feeds
// hw.Hub.Weigh here) to the pages as a "weight" event. Negative grams
// are a device error and go as 0.
func (a *API) Weighed(grams int64) {
	a.weights.publish(WeightEvent{Grams: max(grams, 0)})
}

// Scanned takes a code from a serial scanner (node feeds hw.Hub.Scans
// here): it goes into the till's cart as a wedge scan would, and the
// pages see the cart change. What needs the cashier (a weight) or went
// wrong is sent to the pages as a "scan" event. It returns the error, for
// the caller's log.
func (a *API) Scanned(ctx context.Context, code, device string) error {
	it, err := a.resolveLine(ctx, AddLine{Barcode: code})
	if err == nil {
		err = a.cartAdd(ctx, it)
	}
	if err != nil {
		e := ScanEvent{Code: code, Device: device, Error: err.Error()}
		e.ErrorCode, e.ErrorArgs = errKey(err)
		var need *needError
		if errors.As(err, &need) {
			e.Need, e.Error = need.need, need.reason
		}
		a.scans.publish(e)
	}
	return err
}

// cartAdd adds a line to the cart outside a request (a serial scan).
func (a *API) cartAdd(ctx context.Context, it cartLine) error {
	set := a.settings(ctx)
	for range 5 {
		lines, d, version := a.cart.snapshot()
		lines, d, err := addEdit(it)(lines, d)
		if err != nil {
			return err
		}
		if _, err := price(lines, d, version+1, set.DiscountLimitBP, set.TaxIncluded); err != nil {
			return err
		}
		if _, ok := a.cart.replace(version, lines, d); ok {
			return nil
		}
	}
	return fmt.Errorf("%w: the cart keeps changing on another screen", ErrConflict)
}

// Scale is implemented by tills with a scale (node: hw.Hub.Weigh).
type Scale interface {
	// Weigh waits for a stable weight until ctx ends and returns it in
	// grams; an unstable, negative or overloaded reading is an error
	// that says so.
	Weigh(ctx context.Context) (grams int64, err error)
}

// scaleWait is how long GET /api/scale waits for a stable weight.
const scaleWait = 4 * time.Second

// getScale reads the scale: GET /api/scale answers {"grams": n} once the
// weight is stable and positive.
func (a *API) getScale(w http.ResponseWriter, r *http.Request, _ *session) {
	sc, ok := a.till.(Scale)
	if !ok {
		a.fail(w, r, fmt.Errorf("%w: this till has no scale", ErrUnavailable))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), scaleWait)
	defer cancel()
	g, err := sc.Weigh(ctx)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"grams": g})
}
