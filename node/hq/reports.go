package hq

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// agg holds one store's report folds, kept in memory and rebuilt from
// storage at start. Each event is folded once, when it joins its chain
// at HQ, with the rules of ledger.Fold, so HQ's figures for a store equal
// the fold of the store's own ledger. Buckets are by day (in the HQ's
// location), by day and till, by hour, and by day and SKU.
//
// Memory grows with stores x days x (tills + SKUs sold per day), not with
// events.
type agg struct {
	loc      *time.Location
	dayEnd   time.Duration // a business day ends this long after midnight (businessday.go)
	total    ledger.Report
	days     map[string]*ledger.Report
	tillDays map[tillDay]*ledger.Report
	hours    map[string]map[int64]*HourSales        // day the hour starts in -> Unix hour
	products map[string]map[string]*ledger.SKUSales // day -> sku
	stock    map[string]int64
	// voids whose sale HQ does not hold yet: its SKU figures are taken
	// off when the sale arrives.
	pendingVoids map[ledger.EventID][]string // sale -> days of the voids
	// refund lines whose sale HQ does not hold yet (another till's,
	// uploaded later): counted as units, as ledger.RefundItems does
	// without the line; a weighed line's count is put right when the
	// sale arrives, so the figures do not depend on upload order.
	pendingRefunds map[ledger.EventID][]pendingRefund
	events         uint64
	// receipts counts each till's receipt events (ledger.IsReceiptKind)
	// in chain order: its newest receipt number, as the tills number them.
	receipts map[ledger.TillID]uint64
	// newer counts events of kinds this version does not know: stored
	// and kept, left out of the figures, shown as a warning.
	newer ledger.Newer
	// spends tracks refunded and voided sales for over-spends (overspend.go).
	spends *spendTrack
	xfer   storeTransfers // transfers.go
	// applied is each till's highest seq folded, in chain order
	// without a gap (rollup.go).
	applied ledger.Vector
	// dirty are the days folded into since the rollup was last written;
	// replace: the stored rollup's days are not this agg's (a fresh
	// fold), so the next write drops them (rollup.go).
	dirty   map[string]bool
	replace bool
	// An index for reports over a range of days, so that they read only
	// the days in it: every day any bucket holds, sorted; the tills with
	// a bucket; each day's hours (by the day their hour starts in).
	dayList  []string
	tills    map[ledger.TillID]bool
	hourDays map[string][]int64
}

// pendingRefund is a refund line folded before its sale.
type pendingRefund struct {
	Day  string `json:"day"`
	SKU  string `json:"sku"`
	Line int    `json:"line"`
	Qty  int64  `json:"qty"`
}

type tillDay struct {
	till ledger.TillID
	day  string
}

// HourSales is the sales count and total of one hour (sales only, as
// ledger.Fold.SalesByHour).
type HourSales struct {
	Hour  int64        `json:"hour"` // Unix hour: Unix seconds / 3600
	Start time.Time    `json:"start"`
	Sales int          `json:"sales"`
	Total ledger.Money `json:"total"`
}

func newAgg(loc *time.Location) *agg {
	return &agg{loc: loc, total: newReport(), days: map[string]*ledger.Report{}, tillDays: map[tillDay]*ledger.Report{},
		hours: map[string]map[int64]*HourSales{}, products: map[string]map[string]*ledger.SKUSales{}, stock: map[string]int64{},
		pendingVoids: map[ledger.EventID][]string{}, pendingRefunds: map[ledger.EventID][]pendingRefund{}, receipts: map[ledger.TillID]uint64{}, spends: newSpendTrack(),
		dirty: map[string]bool{}, replace: true, tills: map[ledger.TillID]bool{}, hourDays: map[string][]int64{}}
}

func newReport() ledger.Report { return ledger.NewReport() }

func (a *agg) day(wall int64) string {
	return time.UnixMilli(wall).In(a.loc).Add(-a.dayEnd).Format(time.DateOnly)
}

// noteDay adds day to the agg's sorted list of days.
func (a *agg) noteDay(day string) {
	i, found := sort.Find(len(a.dayList), func(i int) int { return strings.Compare(day, a.dayList[i]) })
	if !found {
		a.dayList = slices.Insert(a.dayList, i, day)
	}
}

// putHour keeps a new hour bucket under day, the day it starts in, and
// indexes it.
func (a *agg) putHour(day string, h *HourSales) {
	m := a.hours[day]
	if m == nil {
		m = map[int64]*HourSales{}
		a.hours[day] = m
	}
	m[h.Hour] = h
	a.noteDay(day)
	a.hourDays[day] = append(a.hourDays[day], h.Hour)
}

// daysIn returns the days the agg holds within q's range.
func (a *agg) daysIn(q Query) []string {
	lo, hi := 0, len(a.dayList)
	if q.From != "" {
		lo = sort.SearchStrings(a.dayList, q.From)
	}
	if q.To != "" {
		hi = sort.Search(len(a.dayList), func(i int) bool { return a.dayList[i] > q.To })
	}
	if lo >= hi {
		return nil
	}
	return a.dayList[lo:hi]
}

func (a *agg) dayReport(day string) *ledger.Report {
	r := a.days[day]
	if r == nil {
		a.noteDay(day)
		nr := newReport()
		r = &nr
		a.days[day] = r
	}
	return r
}

func (a *agg) tillReport(t ledger.TillID, day string) *ledger.Report {
	k := tillDay{t, day}
	r := a.tillDays[k]
	if r == nil {
		a.tills[t] = true
		nr := newReport()
		r = &nr
		a.tillDays[k] = r
	}
	return r
}

func (a *agg) sku(day, sku, name string) *ledger.SKUSales {
	m := a.products[day]
	if m == nil {
		m = map[string]*ledger.SKUSales{}
		a.products[day] = m
	}
	s := m[sku]
	if s == nil {
		s = &ledger.SKUSales{SKU: sku}
		m[sku] = s
	}
	if name != "" {
		s.Name = name
	}
	return s
}

// lookup finds a sale HQ holds, for the SKU figures of a void.
type lookup func(ledger.EventID) (*ledger.Sale, bool)

// apply folds one event that has joined its chain.
func (a *agg) apply(ev *ledger.Event, sale lookup) {
	a.events++
	if ledger.IsReceiptKind(ev.Kind()) {
		a.receipts[ev.Till]++
	}
	if u, ok := ev.Body.(*ledger.Unknown); ok {
		if a.newer == nil {
			a.newer = ledger.Newer{}
		}
		a.newer[u.Kind()]++
	}
	a.spends.apply(ev, sale)
	day := a.day(ev.Time.Wall)
	a.dirty[day] = true
	reps := [3]*ledger.Report{&a.total, a.dayReport(day), a.tillReport(ev.Till, day)}
	for _, r := range reps {
		addEvent(r, ev)
	}
	switch b := ev.Body.(type) {
	case *ledger.Sale:
		t, _ := b.Totals() // verified events passed Check
		for i, l := range b.Lines {
			s := a.sku(day, l.SKU, l.Name)
			s.Qty += ledger.ItemQty(l.Unit, l.Qty)
			s.Amount += t.Lines[i].Amount
			s.Units += l.Qty
			s.Net += t.Lines[i].Net
		}
		hour := ev.Time.Wall / 3_600_000
		hday := a.day(hour * 3_600_000)
		h := a.hours[hday][hour]
		if h == nil {
			h = &HourSales{Hour: hour, Start: time.Unix(hour*3600, 0).In(a.loc)}
			a.putHour(hday, h)
		}
		a.dirty[hday] = true
		h.Sales++
		h.Total += t.Total
		for _, vday := range a.pendingVoids[ev.ID()] {
			a.voidSKUs(vday, b)
		}
		delete(a.pendingVoids, ev.ID())
		for _, pr := range a.pendingRefunds[ev.ID()] {
			if pr.Line >= 0 && pr.Line < len(b.Lines) && b.Lines[pr.Line].Unit == ledger.Kilogram {
				a.dirty[pr.Day] = true
				a.sku(pr.Day, pr.SKU, "").Qty += pr.Qty - ledger.RefundItems(ledger.RefundLine{Qty: pr.Qty}, &b.Lines[pr.Line])
			}
		}
		delete(a.pendingRefunds, ev.ID())
	case *ledger.Refund:
		s, _ := sale(b.Sale)
		for _, l := range b.Lines {
			k := a.sku(day, l.SKU, "")
			var line *ledger.Line
			if s != nil && l.Line >= 0 && l.Line < len(s.Lines) {
				line = &s.Lines[l.Line]
			}
			if s == nil {
				a.pendingRefunds[b.Sale] = append(a.pendingRefunds[b.Sale], pendingRefund{Day: day, SKU: l.SKU, Line: l.Line, Qty: l.Qty})
			}
			k.Qty -= ledger.RefundItems(l, line)
			k.Amount -= l.Amount
			k.Units -= l.Qty
			k.Net -= l.Amount - l.Tax
		}
	case *ledger.Void:
		if s, ok := sale(b.Sale); ok {
			a.voidSKUs(day, s)
		} else {
			a.pendingVoids[b.Sale] = append(a.pendingVoids[b.Sale], day)
		}
	}
	for sku, q := range ledger.Movements(ev) {
		a.stock[sku] += q
	}
	a.xfer.apply(ev)
}

func (a *agg) voidSKUs(day string, s *ledger.Sale) {
	a.dirty[day] = true
	t, err := s.Totals()
	if err != nil {
		return
	}
	for i, l := range s.Lines {
		k := a.sku(day, l.SKU, "")
		k.Qty -= ledger.ItemQty(l.Unit, l.Qty)
		k.Amount -= t.Lines[i].Amount
		k.Units -= l.Qty
		k.Net -= t.Lines[i].Net
	}
}

// addEvent folds one event into a report with the ledger's rules.
func addEvent(r *ledger.Report, ev *ledger.Event) { r.Add(ev) }

// mergeReport adds o into r.
func mergeReport(r *ledger.Report, o *ledger.Report) { r.Merge(o) }

func cloneReport(o *ledger.Report) ledger.Report {
	r := newReport()
	mergeReport(&r, o)
	return r
}

// Query selects what a report covers. Zero From and To mean every day;
// days are "2006-01-02" in HQ's location, inclusive.
type Query struct {
	Store    *ledger.StoreID // nil: every store
	From, To string
	TopN     int // products listed; 0 means 20
}

func (q Query) inRange(day string) bool {
	return (q.From == "" || day >= q.From) && (q.To == "" || day <= q.To)
}

// StoreSales is one store's figures in a report.
type StoreSales struct {
	Store  ledger.StoreID `json:"store"`
	Name   string         `json:"name"`
	Report ledger.Report  `json:"report"`
	// Margin is the store's cost of goods sold and margin at the cost
	// prices HQ knows now for its catalog (costPrices).
	Margin basket.Margin `json:"margin"`
}

// DaySales is one day's figures (across the stores selected).
type DaySales struct {
	Day    string        `json:"day"`
	Report ledger.Report `json:"report"`
}

// TillSales is one till's figures.
type TillSales struct {
	Store  ledger.StoreID `json:"store"`
	Till   ledger.TillID  `json:"till"`
	Number uint32         `json:"number"`
	Name   string         `json:"name"`
	Report ledger.Report  `json:"report"`
}

// StockLevel is a SKU's stock at one store: the sum of every movement HQ
// holds (sales, refunds, voids, receipts, adjustments, counts).
type StockLevel struct {
	Store ledger.StoreID `json:"store"`
	SKU   string         `json:"sku"`
	Name  string         `json:"name,omitempty"`
	Unit  string         `json:"unit,omitempty"` // "kg": Qty is in grams
	Qty   int64          `json:"qty"`
}

// Report is HQ's report across stores: totals (tenders and tax bands
// included), by store, by day, by hour, by till and by product.
type Report struct {
	Query    Query             `json:"-"`
	From     string            `json:"from,omitempty"`
	To       string            `json:"to,omitempty"`
	Total    ledger.Report     `json:"total"`
	Stores   []StoreSales      `json:"stores"`
	Days     []DaySales        `json:"days"`
	Hours    []HourSales       `json:"hours"`
	Tills    []TillSales       `json:"tills"`
	Products []ledger.SKUSales `json:"products"`
	// Margin is the stores' margins added up.
	Margin basket.Margin `json:"margin"`
	// Overspends are the over-spent sales of the stores selected, over
	// all time (overspend.go).
	Overspends     []StoreOverspend     `json:"overspends"`
	CardOverspends []StoreCardOverspend `json:"card_overspends"`
}

// report adds the store's figures within q to rep. It reads only the
// days in q's range (daysIn), so its work is bounded by the days the
// store holds in the range, whatever range is asked for.
//
// cost finds a product's cost price at this store (nil: none known).
func (a *agg) report(q Query, rec StoreRecord, certs map[ledger.TillID]*ledger.Certificate, rep *Report,
	days map[string]*ledger.Report, products map[string]*ledger.SKUSales, cost func(sku string) *basket.Product) {
	ss := StoreSales{Store: rec.ID, Name: rec.Name, Report: newReport()}
	tills := map[ledger.TillID]*TillSales{}
	for _, day := range a.daysIn(q) {
		if r := a.days[day]; r != nil {
			mergeReport(&ss.Report, r)
			d := days[day]
			if d == nil {
				nr := newReport()
				d = &nr
				days[day] = d
			}
			mergeReport(d, r)
		}
		for t := range a.tills {
			r := a.tillDays[tillDay{t, day}]
			if r == nil {
				continue
			}
			ts := tills[t]
			if ts == nil {
				ts = &TillSales{Store: rec.ID, Till: t, Report: newReport()}
				if c := certs[t]; c != nil {
					ts.Number, ts.Name = c.Number, c.Name
				}
				tills[t] = ts
			}
			mergeReport(&ts.Report, r)
		}
		for _, hr := range a.hourDays[day] {
			rep.Hours = append(rep.Hours, *a.hours[day][hr])
		}
		for sku, s := range a.products[day] {
			p := products[sku]
			if p == nil {
				p = &ledger.SKUSales{SKU: sku}
				products[sku] = p
			}
			if s.Name != "" {
				p.Name = s.Name
			}
			p.Qty += s.Qty
			p.Amount += s.Amount
			p.Units += s.Units
			p.Net += s.Net
			ss.Margin.Add(cost(sku), s.Units, s.Net)
		}
	}
	rep.Margin.Merge(ss.Margin)
	rep.Stores = append(rep.Stores, ss)
	mergeReport(&rep.Total, &ss.Report)
	for _, ts := range tills {
		rep.Tills = append(rep.Tills, *ts)
	}
}

// finish sorts the report's lists and merges hours across stores.
func (rep *Report) finish(days map[string]*ledger.Report, products map[string]*ledger.SKUSales, topN int) {
	for day, r := range days {
		rep.Days = append(rep.Days, DaySales{Day: day, Report: *r})
	}
	sort.Slice(rep.Days, func(i, j int) bool { return rep.Days[i].Day < rep.Days[j].Day })
	hours := map[int64]*HourSales{}
	for _, h := range rep.Hours {
		m := hours[h.Hour]
		if m == nil {
			c := h
			hours[h.Hour] = &c
			continue
		}
		m.Sales += h.Sales
		m.Total += h.Total
	}
	rep.Hours = rep.Hours[:0]
	for _, h := range hours {
		rep.Hours = append(rep.Hours, *h)
	}
	sort.Slice(rep.Hours, func(i, j int) bool { return rep.Hours[i].Hour < rep.Hours[j].Hour })
	sort.Slice(rep.Stores, func(i, j int) bool {
		if rep.Stores[i].Name != rep.Stores[j].Name {
			return rep.Stores[i].Name < rep.Stores[j].Name
		}
		return rep.Stores[i].Store.String() < rep.Stores[j].Store.String()
	})
	sort.Slice(rep.Tills, func(i, j int) bool {
		a, b := rep.Tills[i], rep.Tills[j]
		if a.Store != b.Store {
			return a.Store.String() < b.Store.String()
		}
		if a.Number != b.Number {
			return a.Number < b.Number
		}
		return a.Till.String() < b.Till.String()
	})
	for _, p := range products {
		rep.Products = append(rep.Products, *p)
	}
	sort.Slice(rep.Products, func(i, j int) bool {
		if rep.Products[i].Amount != rep.Products[j].Amount {
			return rep.Products[i].Amount > rep.Products[j].Amount
		}
		return rep.Products[i].SKU < rep.Products[j].SKU
	})
	if topN <= 0 {
		topN = 20
	}
	if len(rep.Products) > topN {
		rep.Products = rep.Products[:topN]
	}
	if rep.Stores == nil {
		rep.Stores = []StoreSales{}
	}
	if rep.Tills == nil {
		rep.Tills = []TillSales{}
	}
	if rep.Days == nil {
		rep.Days = []DaySales{}
	}
	if rep.Products == nil {
		rep.Products = []ledger.SKUSales{}
	}
}
