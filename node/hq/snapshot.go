package hq

import (
	"maps"
	"slices"

	"github.com/tillmesh/tillmesh/ledger"
)

// The dashboard's chain views (reports, stock, transfers, stock health,
// over-spends) read a store's published folds (storeState.pub): a copy
// of its agg made after each upload's transaction committed, which
// nothing changes afterwards. An upload folds into the store's own agg
// under s.mu only, so a view never waits for a fold (before, a chain
// report waited behind every store's fold in turn, for up to a minute
// while 64 uploads ran on two cores), and a view shows only committed
// events. Publishing deep-copies the days the upload touched (agg.dirty:
// their reports, till reports, hour buckets and products) and the
// store's stock, and shares every other day's buckets with the copy
// before; what it still does for each day of the store's history is
// copy a pointer per day (and per till and day) into the new maps, and
// the sorted day list. Hour buckets are kept per day (agg.hours) so that
// a day not touched costs one pointer, not its 24 buckets (a year of
// history is 8,760 of them: each publish copied them all before).

// snapshot returns a copy of a for the views: the days changed since
// prev (a.dirty) are copied, the others shared with prev, which must be
// an earlier snapshot of a; with prev nil every day is copied.
func (a *agg) snapshot(prev *agg) *agg {
	fresh := func(day string) bool { return prev == nil || a.dirty[day] }
	n := &agg{loc: a.loc, dayEnd: a.dayEnd, total: cloneReport(&a.total), events: a.events, newer: maps.Clone(a.newer),
		days: make(map[string]*ledger.Report, len(a.days)), tillDays: make(map[tillDay]*ledger.Report, len(a.tillDays)),
		hours: make(map[string]map[int64]*HourSales, len(a.hours)), products: make(map[string]map[string]*ledger.SKUSales, len(a.products)),
		stock: maps.Clone(a.stock), receipts: maps.Clone(a.receipts), applied: a.applied.Clone(),
		dayList: slices.Clone(a.dayList), tills: maps.Clone(a.tills), hourDays: make(map[string][]int64, len(a.hourDays))}
	for d, r := range a.days {
		if p := prevDay(prev, d); p != nil && !fresh(d) {
			n.days[d] = p
			continue
		}
		c := cloneReport(r)
		n.days[d] = &c
	}
	for k, r := range a.tillDays {
		if !fresh(k.day) && prev.tillDays[k] != nil {
			n.tillDays[k] = prev.tillDays[k]
			continue
		}
		c := cloneReport(r)
		n.tillDays[k] = &c
	}
	for d, m := range a.hours {
		if !fresh(d) && prev.hours[d] != nil {
			n.hours[d] = prev.hours[d]
			continue
		}
		c := make(map[int64]*HourSales, len(m))
		for hr, v := range m {
			cv := *v
			c[hr] = &cv
		}
		n.hours[d] = c
	}
	for d, m := range a.products {
		if !fresh(d) && prev.products[d] != nil {
			n.products[d] = prev.products[d]
			continue
		}
		c := make(map[string]*ledger.SKUSales, len(m))
		for sku, s := range m {
			cs := *s
			c[sku] = &cs
		}
		n.products[d] = c
	}
	for d, hrs := range a.hourDays {
		if !fresh(d) && prev.hourDays[d] != nil {
			n.hourDays[d] = prev.hourDays[d] // a day not touched gained no hour
			continue
		}
		n.hourDays[d] = slices.Clone(hrs)
	}
	// Transfer sides are never changed once folded: the lists are copied.
	n.xfer.out = maps.Clone(a.xfer.out)
	if a.xfer.in != nil {
		n.xfer.in = make(map[string][]*ledger.TransferSide, len(a.xfer.in))
		for k, v := range a.xfer.in {
			n.xfer.in[k] = slices.Clone(v)
		}
	}
	n.spends = a.spends.snapshot()
	return n
}

func prevDay(prev *agg, d string) *ledger.Report {
	if prev == nil {
		return nil
	}
	return prev.days[d]
}

// snapshot copies what the views read of the tracker: the over-spent
// sales and cards, with their records when held in memory (the others
// are read from storage, as the views read them after a start).
func (t *spendTrack) snapshot() *spendTrack {
	n := newSpendTrack()
	n.load = t.load
	for id := range t.overSales {
		n.overSales[id] = true
		if ss := t.sales[id]; ss != nil {
			n.sales[id] = &saleSpends{sale: ss.sale, spends: slices.Clone(ss.spends), qty: maps.Clone(ss.qty),
				amount: maps.Clone(ss.amount), voids: ss.voids}
		}
	}
	for c := range t.overCards {
		n.overCards[c] = true
		if es, ok := t.cards[c]; ok {
			n.cards[c] = slices.Clone(es)
		}
	}
	return n
}

// publish publishes the store's folds (storeState.publish) and moves
// HQ's views counter, so the materialized chain reports recompute
// (chainreport.go).
func (h *HQ) publish(s *storeState) {
	s.publish()
	h.views.Add(1)
}

// publish makes the store's folds as they are now the ones the views
// read (storeState.pub). The caller holds s.mu, and calls it only when
// what the folds hold is committed to storage.
func (s *storeState) publish() {
	var prev *agg
	if s.pubOf == s.agg {
		prev = s.pub
	}
	n := s.agg.snapshot(prev)
	s.viewMu.Lock()
	s.pub, s.pubOf = n, s.agg
	s.viewMu.Unlock()
}
