package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// The store's business-day close (issue 16): from any till, every till's
// shifts of the day with their takings and tax bands, the store's total,
// and warnings for what may be missing: a shift still open, or a till
// not heard from since a given time (its later events have not reached
// this till, so the day's figures may grow). It is read from the merged
// ledger's folds; nothing is recorded. A business day is the shifts
// opened on that date in the till's time zone; sales made outside any
// shift are in the all-time reports only.

// DayTill is one till's part of the day.
type DayTill struct {
	Till      uint32      `json:"till"`
	Shifts    []ShiftView `json:"shifts"`
	Report    ReportView  `json:"report"`
	LastHeard time.Time   `json:"last_heard,omitzero"`
	Warnings  []string    `json:"warnings,omitempty"`
}

// DayReport is GET /api/day's answer.
type DayReport struct {
	Date       string       `json:"date"` // YYYY-MM-DD
	HeardSince time.Time    `json:"heard_since"`
	Tills      []DayTill    `json:"tills"`
	Store      ReportView   `json:"store"`
	OverShort  ledger.Money `json:"over_short"` // closed shifts' counted less expected
	// Margin is the cost of goods sold and margin of the day's lines, at
	// the catalog's current cost prices (basket.Margin).
	Margin   basket.Margin `json:"margin"`
	Warnings []string      `json:"warnings"`
	Complete bool          `json:"complete"` // no warning: the day can be closed
}

// DayQuietWarn is how long before the request heard_since defaults to: a
// till with no event for that long may be cut off from this one.
const DayQuietWarn = 15 * time.Minute

// getDay answers GET /api/day?date=YYYY-MM-DD&heard_since=HH:MM: the
// date defaults to today and heard_since to DayQuietWarn before the
// request; a till whose newest event is older than heard_since gets a
// warning.
func (a *API) getDay(w http.ResponseWriter, r *http.Request, _ *session) {
	now := a.cfg.Now()
	loc := now.Location()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	if v := r.URL.Query().Get("date"); v != "" {
		d, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			a.fail(w, r, badRequest("date %q: want YYYY-MM-DD", v))
			return
		}
		day = d
	}
	since := now.Add(-DayQuietWarn)
	if v := r.URL.Query().Get("heard_since"); v != "" {
		hm, err := time.ParseInLocation("15:04", v, loc)
		if err != nil {
			a.fail(w, r, badRequest("heard_since %q: want HH:MM", v))
			return
		}
		since = time.Date(day.Year(), day.Month(), day.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
	}
	rep := a.dayReport(day, since)
	m, err := a.dayMargin(r.Context(), day)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rep.Margin = m
	writeJSON(w, http.StatusOK, rep)
}

// dayReport builds the report of the business day starting at day.
func (a *API) dayReport(day, since time.Time) DayReport {
	end := day.AddDate(0, 0, 1)
	type tillDay struct {
		id     ledger.TillID
		shifts []ledger.Shift
		heard  int64
	}
	var tills []tillDay
	a.till.View(func(s *ledger.State) {
		f := s.Fold()
		for _, t := range s.Tills() {
			td := tillDay{id: t}
			_, _, hlc := s.Head(t)
			td.heard = hlc.Wall
			for _, sh := range f.Shifts(t) {
				if at := time.UnixMilli(sh.Opened.Wall); !at.Before(day) && at.Before(end) {
					td.shifts = append(td.shifts, *sh)
				}
			}
			tills = append(tills, td)
		}
	})
	rep := DayReport{Date: day.Format("2006-01-02"), HeardSince: since.UTC(), Warnings: []string{}}
	store := ledger.NewReport()
	for _, td := range tills {
		n := a.till.TillNumber(td.id)
		dt := DayTill{Till: n, Shifts: []ShiftView{}}
		tr := ledger.NewReport()
		for i := range td.shifts {
			sh := &td.shifts[i]
			tr.Merge(&sh.Report)
			dt.Shifts = append(dt.Shifts, *a.shiftView(sh))
			if sh.IsOpen() {
				dt.Warnings = append(dt.Warnings, fmt.Sprintf("till %d: the shift opened at %s by %s is still open", n,
					time.UnixMilli(sh.Opened.Wall).In(day.Location()).Format("15:04"), sh.Staff))
			} else {
				rep.OverShort += sh.OverShort
			}
		}
		if td.heard > 0 {
			dt.LastHeard = time.UnixMilli(td.heard).UTC()
		}
		if heard := time.UnixMilli(td.heard); td.id != a.till.Self().ID && heard.Before(since) {
			dt.Warnings = append(dt.Warnings, fmt.Sprintf("till %d not heard from since %s: its later events may be missing here", n,
				heard.In(day.Location()).Format("Mon 2 Jan 15:04")))
		}
		if len(dt.Shifts) == 0 && len(dt.Warnings) == 0 {
			continue // a till that did not trade that day and is up to date
		}
		store.Merge(&tr)
		dt.Report = reportView(tr)
		rep.Warnings = append(rep.Warnings, dt.Warnings...)
		rep.Tills = append(rep.Tills, dt)
	}
	sort.Slice(rep.Tills, func(i, j int) bool { return rep.Tills[i].Till < rep.Tills[j].Till })
	if rep.Tills == nil {
		rep.Tills = []DayTill{}
	}
	rep.Store = reportView(store)
	rep.Complete = len(rep.Warnings) == 0
	return rep
}

// dayMargin is the cost of goods sold and margin of the events of the
// shifts opened on day, at the catalog's current cost prices.
func (a *API) dayMargin(ctx context.Context, day time.Time) (basket.Margin, error) {
	end := day.AddDate(0, 0, 1)
	type span struct {
		till     ledger.TillID
		from, to uint64
	}
	var spans []span
	a.till.View(func(s *ledger.State) {
		f := s.Fold()
		for _, t := range s.Tills() {
			head, _, _ := s.Head(t)
			for _, sh := range f.Shifts(t) {
				if at := time.UnixMilli(sh.Opened.Wall); at.Before(day) || !at.Before(end) {
					continue
				}
				to := sh.CloseSeq
				if to == 0 {
					to = head
				}
				spans = append(spans, span{t, sh.OpenSeq, to})
			}
		}
	})
	sale := func(id ledger.EventID) (s *ledger.Sale, ok bool) {
		a.till.View(func(st *ledger.State) { s, _, _, ok = st.Fold().Sale(id) })
		return s, ok
	}
	products := map[string]*Product{}
	var m basket.Margin
	var perr error
	for _, sp := range spans {
		for seq := sp.from; seq <= sp.to; seq++ {
			ev, err := a.till.Event(sp.till, seq)
			if err != nil {
				continue // not held here yet: the report's warnings say which tills lag
			}
			basket.NetLines(ev, sale, func(sku string, units int64, net ledger.Money) {
				p, ok := products[sku]
				if !ok {
					got, err := a.till.Product(ctx, sku)
					switch {
					case err == nil:
						p = &got
					case !errors.Is(err, ErrNotFound):
						perr = err
					}
					products[sku] = p
				}
				m.Add(p, units, net)
			})
		}
	}
	if perr != nil {
		return basket.Margin{}, fmt.Errorf("read cost prices: %w", perr)
	}
	return m, nil
}
