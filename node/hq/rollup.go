package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// Report rollups persisted: a store's report folds (agg) are kept in
// storage as a rollup, the folds' bytes with the vector of events they
// cover, written every RollupEvery events folded and after a start that
// folded any. A start restores the rollup and folds only the events
// above it, instead of every event the store ever uploaded.
//
// The folds of a store only ever take each till's events in chain order
// and without a gap (agg.applied): when another HQ process on the same
// database stored events in between, they are read back from storage
// and folded first. A rollup is therefore always exactly the fold of the
// events its vector names, whichever process wrote it; two processes
// writing in turn leave the later one, which is as good.

// RollupEvery is how many events a store folds between two rollups; a
// graceful stop writes every store's rollup too (WriteRollups), so only
// a crash leaves up to this many events per store to fold at start.
const RollupEvery = 2_000

// rollupVersion names the rollup's encoding; another is not used (the
// start folds every event instead, and writes a new one).
const rollupVersion = 1

// Rollup is a store's report folds as stored: Body is HQ's own encoding,
// Vector the events it covers.
type Rollup struct {
	Version int           `json:"version"`
	Vector  ledger.Vector `json:"vector"`
	Body    []byte        `json:"body"`
}

type rollupTillDay struct {
	Till   ledger.TillID `json:"till"`
	Day    string        `json:"day"`
	Report ledger.Report `json:"report"`
}

// aggBody is an agg in JSON: maps with struct keys become lists.
type aggBody struct {
	Location     string                            `json:"location"`
	Total        ledger.Report                     `json:"total"`
	Days         map[string]ledger.Report          `json:"days"`
	TillDays     []rollupTillDay                   `json:"till_days"`
	Hours        []HourSales                       `json:"hours"`
	Products     map[string][]ledger.SKUSales      `json:"products"`
	Stock        map[string]int64                  `json:"stock"`
	PendingVoids map[string][]string               `json:"pending_voids,omitempty"`
	Events       uint64                            `json:"events"`
	Newer        ledger.Newer                      `json:"newer,omitempty"`
	Out          map[string]*ledger.TransferSide   `json:"out,omitempty"`
	In           map[string][]*ledger.TransferSide `json:"in,omitempty"`
}

func (a *agg) encode() ([]byte, error) {
	b := aggBody{Location: a.dayKey(), Total: a.total, Days: map[string]ledger.Report{}, Products: map[string][]ledger.SKUSales{},
		Stock: a.stock, PendingVoids: map[string][]string{}, Events: a.events, Newer: a.newer, Out: a.xfer.out, In: a.xfer.in}
	for d, r := range a.days {
		b.Days[d] = *r
	}
	for k, r := range a.tillDays {
		b.TillDays = append(b.TillDays, rollupTillDay{Till: k.till, Day: k.day, Report: *r})
	}
	for _, h := range a.hours {
		b.Hours = append(b.Hours, *h)
	}
	for d, m := range a.products {
		for _, s := range m {
			b.Products[d] = append(b.Products[d], *s)
		}
	}
	for id, days := range a.pendingVoids {
		b.PendingVoids[id.String()] = days
	}
	return json.Marshal(b)
}

func fixReport(r *ledger.Report) {
	if r.Bands == nil {
		r.Bands = map[ledger.TaxRate]ledger.TaxBand{}
	}
	if r.Tenders == nil {
		r.Tenders = map[ledger.TenderKind]ledger.Money{}
	}
	if r.RefundTenders == nil {
		r.RefundTenders = map[ledger.TenderKind]ledger.Money{}
	}
}

// decodeAgg restores an agg into the empty one given (its time zone and
// day end); a rollup made for another business day is not used.
func decodeAgg(raw []byte, a *agg) (*agg, error) {
	var b aggBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("decode rollup: %w", err)
	}
	if b.Location != a.dayKey() {
		return nil, fmt.Errorf("rollup made for business day %s, reports are in %s", b.Location, a.dayKey())
	}
	loc := a.loc
	a.total, a.events, a.newer = b.Total, b.Events, b.Newer
	fixReport(&a.total)
	for d, r := range b.Days {
		fixReport(&r)
		a.days[d] = &r
	}
	for _, td := range b.TillDays {
		r := td.Report
		fixReport(&r)
		a.tillDays[tillDay{td.Till, td.Day}] = &r
	}
	for _, h := range b.Hours {
		h.Start = time.Unix(h.Hour*3600, 0).In(loc)
		a.hours[h.Hour] = &h
	}
	for d, list := range b.Products {
		m := map[string]*ledger.SKUSales{}
		for _, s := range list {
			m[s.SKU] = &s
		}
		a.products[d] = m
	}
	if b.Stock != nil {
		a.stock = b.Stock
	}
	for id, days := range b.PendingVoids {
		eid, err := ledger.ParseEventID(id)
		if err != nil {
			return nil, fmt.Errorf("decode rollup: pending void of %q: %w", id, err)
		}
		a.pendingVoids[eid] = days
	}
	if len(b.Out) > 0 || len(b.In) > 0 {
		a.xfer.out, a.xfer.in = b.Out, b.In
		if a.xfer.out == nil {
			a.xfer.out = map[string]*ledger.TransferSide{}
		}
		if a.xfer.in == nil {
			a.xfer.in = map[string][]*ledger.TransferSide{}
		}
	}
	return a, nil
}

// restoreAgg builds a store's folds at start: from its rollup, when there
// is a usable one, plus the events above it; else from every event. It
// writes a new rollup when it folded any event.
func (h *HQ) restoreAgg(ctx context.Context, s *storeState) error {
	a, from := h.newAggFor(s.rec), ledger.Vector{}
	r, err := h.st.Rollup(ctx, s.rec.ID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return fmt.Errorf("read rollup: %w", err)
	case r.Version != rollupVersion:
		h.log.Info("rollup of another version: folding every event", "store", s.rec.ID, "version", r.Version)
	default:
		ra, derr := decodeAgg(r.Body, h.newAggFor(s.rec)) // a fresh one: a failed decode leaves a as it was
		if derr != nil {
			h.log.Warn("rollup not used: folding every event", "store", s.rec.ID, "err", derr)
			break
		}
		if !ledger.Vector(headSeqs(s.heads)).Covers(r.Vector) {
			h.log.Warn("rollup covers events storage lacks (a restored database?): folding every event", "store", s.rec.ID)
			break
		}
		a, from = ra, r.Vector.Clone()
	}
	restored := len(from) > 0
	a.applied = from
	s.agg = a
	before := a.events
	look := h.saleLookup(ctx)
	for till, hd := range s.heads {
		if hd.Seq <= from[till] {
			continue
		}
		if err := h.foldTill(ctx, s, till, look); err != nil {
			return err
		}
	}
	h.mu.Lock()
	h.started.Folded += a.events - before
	if restored {
		h.started.FromRollup++
	}
	h.mu.Unlock()
	if a.events != before {
		return h.writeRollup(ctx, s)
	}
	s.rolled = a.events
	return nil
}

// StartStats is what New did to build the report folds.
type StartStats struct {
	Stores     int           // stores loaded
	FromRollup int           // of them, restored from a rollup
	Folded     uint64        // events folded above the rollups (every event without one)
	Took       time.Duration // New's whole run
}

// Started returns what New did.
func (h *HQ) Started() StartStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started
}

func headSeqs(heads map[ledger.TillID]Head) ledger.Vector {
	v := ledger.Vector{}
	for t, h := range heads {
		v[t] = h.Seq
	}
	return v
}

// foldTill folds the till's stored events above what the folds hold.
func (h *HQ) foldTill(ctx context.Context, s *storeState, till ledger.TillID, look lookup) error {
	return h.st.RangeTill(ctx, s.rec.ID, till, s.agg.applied[till], func(raw []byte) error {
		ev, err := ledger.Decode(raw)
		if err != nil {
			return fmt.Errorf("stored event: %w", err)
		}
		s.agg.fold(ev, look)
		return nil
	})
}

// foldAccepted folds the events an upload stored, in chain order per
// till; where another HQ process stored events of a till in between,
// those are read back and folded first. The caller holds s.mu.
func (h *HQ) foldAccepted(ctx context.Context, s *storeState, accepted []*ledger.Event) {
	look := h.saleLookup(ctx)
	for _, ev := range accepted {
		switch have := s.agg.applied[ev.Till]; {
		case ev.Seq <= have:
			continue // folded already (read back with an earlier gap)
		case ev.Seq > have+1:
			if err := h.foldTill(ctx, s, ev.Till, look); err != nil {
				h.log.Error("fold events another HQ process stored", "store", s.rec.ID, "till", ev.Till.Short(), "err", err)
			}
			if ev.Seq <= s.agg.applied[ev.Till] {
				continue
			}
		}
		s.agg.fold(ev, look)
	}
	if s.agg.events-s.rolled >= RollupEvery {
		if err := h.writeRollup(ctx, s); err != nil {
			h.log.Warn("rollup not written; the next start folds more events", "store", s.rec.ID, "err", err)
		}
	}
}

// fold applies one event in its till's chain order and records it.
func (a *agg) fold(ev *ledger.Event, look lookup) {
	if a.applied == nil {
		a.applied = ledger.Vector{}
	}
	if ev.Seq != a.applied[ev.Till]+1 {
		return // out of order: foldAccepted reads the gap back first
	}
	a.apply(ev, look)
	a.applied[ev.Till] = ev.Seq
}

// writeRollup stores the store's folds. The caller holds s.mu.
func (h *HQ) writeRollup(ctx context.Context, s *storeState) error {
	if len(s.revoked) > 0 {
		return nil // folds without a revoked till's refused events: refolded at every start
	}
	body, err := s.agg.encode()
	if err != nil {
		return fmt.Errorf("encode rollup: %w", err)
	}
	if err := h.st.PutRollup(ctx, s.rec.ID, Rollup{Version: rollupVersion, Vector: s.agg.applied.Clone(), Body: body}); err != nil {
		return err
	}
	s.rolled = s.agg.events
	return nil
}

// refreshHeads takes the store's heads from storage: with several HQ
// processes on one database, another may have moved them. The caller
// holds s.mu. On an error the heads stay as they were (an append from
// stale heads fails with ErrHeadMoved and nothing is stored).
func (h *HQ) refreshHeads(ctx context.Context, s *storeState) {
	heads, err := h.st.Heads(ctx, s.rec.ID)
	if err != nil {
		h.log.Warn("read heads", "store", s.rec.ID, "err", err)
		return
	}
	s.heads = heads
}

// WriteRollups writes the rollup of every store that folded events since
// its last one: at a graceful stop, so the next start folds nothing.
func (h *HQ) WriteRollups(ctx context.Context) error {
	var errs []error
	for _, s := range h.storeList() {
		s.mu.Lock()
		if s.agg.events != s.rolled {
			if err := h.writeRollup(ctx, s); err != nil {
				errs = append(errs, fmt.Errorf("store %s: %w", s.rec.ID, err))
			}
		}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}
