package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// CheckBarcode checks a barcode by ledger/basket's rule (basket.CheckBarcode):
// printable, 1..64 characters, and a right GS1 check digit when it has a
// GTIN's shape.
func CheckBarcode(code string) error {
	if err := basket.CheckBarcode(code); err != nil {
		return badRequestErr(err) // keeps basket.ErrCheckDigit for the pages' words
	}
	return nil
}

// Cost prices are shown only to staff whose role may edit the catalog
// (PermCatalog): whoever sets a cost sees it, a cashier looking a product
// up does not. A separate "see cost" permission was not added: a role
// that edits products without seeing their cost would edit blind, and
// the store's reports of margins are already behind PermReports.
func (a *API) hideCost(ctx context.Context, s *session, ps []Product) {
	if s != nil && a.settings(ctx).Permissions.Allows(s.staff.Role, PermCatalog) {
		return
	}
	for i := range ps {
		ps[i].Cost = 0
	}
}

func (a *API) getProducts(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			a.fail(w, r, badRequest("limit %q: want 0..10000 (0: all)", v))
			return
		}
		limit = n
	}
	ps, err := a.till.SearchProducts(r.Context(), strings.TrimSpace(q.Get("q")), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if ps == nil {
		ps = []Product{}
	}
	a.hideCost(r.Context(), s, ps)
	writeJSON(w, http.StatusOK, ps)
}

func (a *API) getProduct(w http.ResponseWriter, r *http.Request, s *session) {
	p, err := a.lookup(r.Context(), "", r.PathValue("sku"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	one := []Product{p}
	a.hideCost(r.Context(), s, one)
	writeJSON(w, http.StatusOK, one[0])
}

func (a *API) getBarcode(w http.ResponseWriter, r *http.Request, s *session) {
	p, err := a.lookup(r.Context(), r.PathValue("code"), "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	one := []Product{p}
	a.hideCost(r.Context(), s, one)
	writeJSON(w, http.StatusOK, one[0])
}

// checkProduct validates a product from a manager's form: the rules the
// catalog keeps plus check digits and unique barcodes.
func (a *API) checkProduct(ctx context.Context, p *Product) error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Currency == "" {
		p.Currency = a.settings(ctx).Currency
	}
	if p.Unit == "" {
		p.Unit = ledger.Each
	}
	switch {
	case p.SKU == "" || len(p.SKU) > ledger.MaxSKULen || strings.Trim(p.SKU, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" ||
		strings.IndexAny(p.SKU[:1], "._-") == 0:
		return badRequest("sku %q: want 1..%d letters, digits, '.', '_' or '-', starting with a letter or digit", p.SKU, ledger.MaxSKULen)
	case p.Name == "":
		return badRequest("product %s needs a name", p.SKU)
	case p.Price < 0 || p.Price > ledger.MaxPrice:
		return badRequest("price %v: want 0..%v", p.Price, ledger.Money(ledger.MaxPrice))
	case p.TaxRate < 0 || p.TaxRate > ledger.MaxTaxRate:
		return badRequest("tax rate %d basis points: want 0..10000", p.TaxRate)
	case p.Unit != ledger.Each && p.Unit != ledger.Kilogram:
		return badRequest("unit %q: want \"ea\" or \"kg\"", p.Unit)
	case !validCurrency(p.Currency):
		return badRequest("currency %q is not an ISO 4217 code like EUR", p.Currency)
	case len(p.Barcodes) > 16:
		return badRequest("%d barcodes: at most 16", len(p.Barcodes))
	}
	seen := map[string]bool{}
	codes := []string{}
	for _, b := range p.Barcodes {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if err := CheckBarcode(b); err != nil {
			return err
		}
		if seen[b] {
			return badRequest("barcode %s listed twice", b)
		}
		seen[b] = true
		other, err := a.till.ProductByBarcode(ctx, b)
		if err == nil && other.SKU != p.SKU {
			return fmt.Errorf("%w: barcode %s already belongs to %s (%s)", ErrConflict, b, other.SKU, other.Name)
		}
		codes = append(codes, b)
	}
	p.Barcodes = codes
	if err := p.Check(); err != nil {
		return badRequest("%v", err)
	}
	if p.Unit != ledger.Kilogram { // a price per kg is not paid as it is
		if err := a.checkSmallest(ctx, "price of "+p.SKU, p.Price); err != nil { // money.go
			return err
		}
		if err := a.checkSmallest(ctx, "cost price of "+p.SKU, p.Cost); err != nil {
			return err
		}
	}
	return nil
}

func (a *API) postProduct(w http.ResponseWriter, r *http.Request, s *session) {
	var p Product
	if !decode(w, r, &p) {
		return
	}
	if _, err := a.till.Product(r.Context(), p.SKU); err == nil {
		a.fail(w, r, fmt.Errorf("%w: sku %s already exists: edit it instead", ErrConflict, p.SKU))
		return
	}
	a.saveProduct(w, r, s, p, http.StatusCreated)
}

func (a *API) putProduct(w http.ResponseWriter, r *http.Request, s *session) {
	var p Product
	if !decode(w, r, &p) {
		return
	}
	sku := r.PathValue("sku")
	if p.SKU == "" {
		p.SKU = sku
	}
	if p.SKU != sku {
		a.fail(w, r, badRequest("body names sku %q, the path %q", p.SKU, sku))
		return
	}
	if _, err := a.lookup(r.Context(), "", sku); err != nil {
		a.fail(w, r, err)
		return
	}
	a.saveProduct(w, r, s, p, http.StatusOK)
}

func (a *API) saveProduct(w http.ResponseWriter, r *http.Request, s *session, p Product, status int) {
	if err := a.checkProduct(r.Context(), &p); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.till.PutProduct(r.Context(), p); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("product saved", "sku", p.SKU, "by", s.staff.ID)
	writeJSON(w, status, p)
}

// soldIndex counts units sold per SKU and till from the merged ledger,
// net of refunds and voids, for the "which tills sold it" of negative
// stock. It reads each event once: a catch-up reads only what arrived
// since the last one.
type soldIndex struct {
	mu   sync.Mutex
	seen map[ledger.TillID]uint64
	sold map[string]map[ledger.TillID]int64
}

func newSoldIndex() *soldIndex {
	return &soldIndex{seen: map[ledger.TillID]uint64{}, sold: map[string]map[ledger.TillID]int64{}}
}

func (x *soldIndex) add(sku string, t ledger.TillID, q int64) {
	m := x.sold[sku]
	if m == nil {
		m = map[ledger.TillID]int64{}
		x.sold[sku] = m
	}
	m[t] += q
}

// catchUp reads the events the index has not seen.
func (x *soldIndex) catchUp(tl Till) error {
	var vec ledger.Vector
	tl.View(func(s *ledger.State) { vec = s.Vector() })
	x.mu.Lock()
	defer x.mu.Unlock()
	for till, head := range vec {
		for seq := x.seen[till] + 1; seq <= head; seq++ {
			ev, err := tl.Event(till, seq)
			if err != nil {
				return err
			}
			switch b := ev.Body.(type) {
			case *ledger.Sale:
				for _, l := range b.Lines {
					x.add(l.SKU, till, l.Qty)
				}
			case *ledger.Refund:
				// Goods come back at the refunding till, but they were
				// sold where the sale was made.
				var sellTill ledger.TillID
				var ok bool
				tl.View(func(s *ledger.State) { _, sellTill, _, ok = s.Fold().Sale(b.Sale) })
				if ok {
					for _, l := range b.Lines {
						x.add(l.SKU, sellTill, -l.Qty)
					}
				}
			case *ledger.Void:
				var sellTill ledger.TillID
				var ok bool
				tl.View(func(s *ledger.State) { _, sellTill, _, ok = s.Fold().Sale(b.Sale) })
				if ok {
					for _, l := range b.Lines {
						x.add(l.SKU, sellTill, -l.Qty)
					}
				}
			}
			x.seen[till] = seq
		}
	}
	return nil
}

func (x *soldIndex) soldBy(tl Till, sku string) map[string]int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string]int64{}
	for t, q := range x.sold[sku] {
		if q > 0 {
			out[tillLabel(tl, t)] += q
		}
	}
	return out
}

func tillLabel(tl Till, t ledger.TillID) string {
	if n := tl.TillNumber(t); n > 0 {
		return strconv.FormatUint(uint64(n), 10)
	}
	return t.Short()
}

// annotate adds units and, for negative stock, which tills sold it.
func (a *API) annotate(ctx context.Context, levels []StockLevel) {
	units := map[string]ledger.Unit{}
	if ps, err := a.till.SearchProducts(ctx, "", 0); err == nil {
		for _, p := range ps {
			units[p.SKU] = p.Unit
		}
	}
	caught := false
	for i := range levels {
		if u, ok := units[levels[i].SKU]; ok {
			levels[i].Unit = u
		}
		if levels[i].Total < 0 {
			if !caught {
				if err := a.sold.catchUp(a.till); err != nil {
					a.log.Warn("index sales for negative stock", "err", err)
				}
				caught = true
			}
			levels[i].SoldBy = a.sold.soldBy(a.till, levels[i].SKU)
		}
	}
}

func (a *API) getStock(w http.ResponseWriter, r *http.Request, _ *session) {
	all, err := a.till.AllStock(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.annotate(r.Context(), all)
	writeJSON(w, http.StatusOK, all)
}

func (a *API) stockLevel(ctx context.Context, sku string) (StockLevel, error) {
	st, err := a.till.Stock(ctx, sku)
	if err != nil {
		return st, err
	}
	one := []StockLevel{st}
	a.annotate(ctx, one)
	return one[0], nil
}

func (a *API) getStockSKU(w http.ResponseWriter, r *http.Request, _ *session) {
	st, err := a.stockLevel(r.Context(), r.PathValue("sku"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// StockLine is a SKU and a quantity (units, or grams for goods sold by
// weight) in a stock request.
type StockLine struct {
	SKU     string `json:"sku"`
	Qty     int64  `json:"qty,omitempty"`
	Counted *int64 `json:"counted,omitempty"` // for counts
}

// StockRequest is the body of POST /api/stock/receive, /adjust and
// /count.
type StockRequest struct {
	IdempotencyKey string      `json:"idempotency_key"`
	Lines          []StockLine `json:"lines"`
	Ref            string      `json:"ref,omitempty"`    // receive: delivery note
	Reason         string      `json:"reason,omitempty"` // adjust: why
}

func (a *API) stockLines(ctx context.Context, req StockRequest, positive bool) ([]ledger.StockLine, error) {
	if len(req.Lines) == 0 || len(req.Lines) > ledger.MaxLines {
		return nil, badRequest("%d lines: want 1..%d", len(req.Lines), ledger.MaxLines)
	}
	var out []ledger.StockLine
	for i, l := range req.Lines {
		if _, err := a.lookup(ctx, "", l.SKU); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		switch {
		case l.Qty == 0:
			return nil, badRequest("line %d (%s): quantity 0: nothing to do", i+1, l.SKU)
		case positive && l.Qty < 0:
			return nil, badRequest("line %d (%s): quantity %d: a delivery adds stock, use an adjustment to take it away", i+1, l.SKU, l.Qty)
		case l.Qty > ledger.MaxQty || l.Qty < -ledger.MaxQty:
			return nil, badRequest("line %d (%s): quantity %d out of range", i+1, l.SKU, l.Qty)
		}
		out = append(out, ledger.StockLine{SKU: l.SKU, Qty: l.Qty})
	}
	return out, nil
}

func (a *API) stockDone(ctx context.Context, skus []string) func(*ledger.Event) any {
	return func(ev *ledger.Event) any {
		v := a.eventView(ev).(EventView)
		levels := []StockLevel{}
		for _, sku := range skus {
			if st, err := a.stockLevel(ctx, sku); err == nil {
				levels = append(levels, st)
			}
		}
		return map[string]any{"event": v, "stock": levels}
	}
}

func skusOf(ls []ledger.StockLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.SKU
	}
	return out
}

func (a *API) postStockReceive(w http.ResponseWriter, r *http.Request, s *session) {
	var req StockRequest
	if !decode(w, r, &req) {
		return
	}
	lines, err := a.stockLines(r.Context(), req, true)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body := &ledger.StockReceive{Lines: lines, Ref: strings.TrimSpace(req.Ref), Staff: s.staff.ID}
	a.record(w, r, req.IdempotencyKey, body, a.stockDone(r.Context(), skusOf(lines)))
}

func (a *API) postStockAdjust(w http.ResponseWriter, r *http.Request, s *session) {
	var req StockRequest
	if !decode(w, r, &req) {
		return
	}
	lines, err := a.stockLines(r.Context(), req, false)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		a.fail(w, r, badRequest("an adjustment needs a reason (damaged, stolen, found...)"))
		return
	}
	body := &ledger.StockAdjust{Lines: lines, Reason: strings.TrimSpace(req.Reason), Staff: s.staff.ID}
	a.record(w, r, req.IdempotencyKey, body, a.stockDone(r.Context(), skusOf(lines)))
}

func (a *API) postStockCount(w http.ResponseWriter, r *http.Request, s *session) {
	var req StockRequest
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	if len(req.Lines) == 0 || len(req.Lines) > ledger.MaxLines {
		a.fail(w, r, badRequest("%d lines: want 1..%d", len(req.Lines), ledger.MaxLines))
		return
	}
	body := &ledger.StockCount{Staff: s.staff.ID}
	var skus []string
	for i, l := range req.Lines {
		if _, err := a.lookup(ctx, "", l.SKU); err != nil {
			a.fail(w, r, fmt.Errorf("line %d: %w", i+1, err))
			return
		}
		if l.Counted == nil || *l.Counted < 0 || *l.Counted > ledger.MaxQty {
			a.fail(w, r, badRequest("line %d (%s): counted must be 0 or more", i+1, l.SKU))
			return
		}
		st, err := a.till.Stock(ctx, l.SKU)
		if err != nil && !errors.Is(err, ErrNotFound) {
			a.fail(w, r, err)
			return
		}
		body.Lines = append(body.Lines, ledger.CountLine{SKU: l.SKU, Counted: *l.Counted, Expected: st.Total})
		skus = append(skus, l.SKU)
	}
	a.record(w, r, req.IdempotencyKey, body, a.stockDone(ctx, skus))
}

// Reports is what GET /api/reports answers: store-wide figures computed
// on this till from the merged ledger.
type Reports struct {
	Store     ReportView        `json:"store"`
	Tills     []TillReport      `json:"tills"`
	ByHour    []HourTotal       `json:"by_hour"`
	Top       []ledger.SKUSales `json:"top"`
	Anomalies []string          `json:"anomalies"`
	// Overspends are the sales given back beyond what they took, with
	// the tills, events and amounts (balances.go).
	Overspends     []OverspendView     `json:"overspends"`
	CardOverspends []CardOverspendView `json:"card_overspends"`
	Events         int                 `json:"events"`
}

// TillReport is one till's report since its first event, and what its
// open shift's drawer should hold: the figure its X and Z reports show
// (the till's own CashExpected runs across every shift since its start).
type TillReport struct {
	Till      uint32       `json:"till"`
	Report    ReportView   `json:"report"`
	Open      bool         `json:"shift_open"`
	ShiftCash ledger.Money `json:"shift_cash_expected,omitempty"`
}

// HourTotal is the sales total of one clock hour.
type HourTotal struct {
	Hour  time.Time    `json:"hour"`
	Total ledger.Money `json:"total"`
}

func (a *API) getReports(w http.ResponseWriter, r *http.Request, _ *session) {
	top := 10
	if v := r.URL.Query().Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			a.fail(w, r, badRequest("top %q: want 1..500", v))
			return
		}
		top = n
	}
	var rep Reports
	type tillRep struct {
		id   ledger.TillID
		r    ledger.Report
		open bool
		cash ledger.Money
	}
	var tills []tillRep
	var anomalies []ledger.Anomaly
	var overs []ledger.Overspend
	a.till.View(func(s *ledger.State) {
		f := s.Fold()
		rep.Store = reportView(f.StoreReport())
		for h, t := range f.SalesByHour() {
			rep.ByHour = append(rep.ByHour, HourTotal{Hour: time.Unix(h*3600, 0).UTC(), Total: t})
		}
		rep.Top = f.TopProducts(top)
		for _, t := range s.Tills() {
			tr := tillRep{id: t, r: f.TillReport(t)}
			if sh := f.OpenShift(t); sh != nil {
				tr.open, tr.cash = true, sh.Report.CashExpected
			}
			tills = append(tills, tr)
		}
		anomalies = f.Anomalies()
		overs, _ = f.Overspends() // an index error leaves the list short; anomalies still say it
		rep.Events = rep.Store.Events
	})
	rep.Overspends = a.overspendViews(overs)
	rep.CardOverspends = a.cardOverspends(r.Context())
	for _, t := range tills {
		rep.Tills = append(rep.Tills, TillReport{Till: a.till.TillNumber(t.id), Report: reportView(t.r), Open: t.open, ShiftCash: t.cash})
	}
	sort.Slice(rep.Tills, func(i, j int) bool { return rep.Tills[i].Till < rep.Tills[j].Till })
	sort.Slice(rep.ByHour, func(i, j int) bool { return rep.ByHour[i].Hour.Before(rep.ByHour[j].Hour) })
	rep.Anomalies = []string{}
	for _, an := range anomalies {
		rep.Anomalies = append(rep.Anomalies, fmt.Sprintf("sale %s: %s", an.Sale.String()[:8], an.Reason))
	}
	if rep.ByHour == nil {
		rep.ByHour = []HourTotal{}
	}
	writeJSON(w, http.StatusOK, rep)
}
