package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// Report rollups persisted: a store's report folds (agg) are kept in
// storage as a rollup, the folds' bytes with the vector of events they
// cover: a head (totals, stock, transfers, pending voids) and one record
// per business day (the day's report, its tills, hours and products).
// Every upload writes the head and the days its events touched in the
// same transaction as the events and the heads (Storage.Append), so the
// stored rollup always covers every event this process stored, and a
// start after a crash has no tail of events to fold (the events another
// HQ process stored after this one's last write excepted). Writing only
// the days touched keeps the write small however many days a store has.
// A start restores the rollup and folds only the events above it.
//
// Writing only the days touched is right only over the rollup these
// folds were read from or last wrote: with several HQ processes on one
// database, a process whose folds are behind another's would otherwise
// leave the other's days, holding events its head does not name (a
// start counts them twice), or overwrite them without events the
// other's head names (a start misses them). So a stored rollup has a
// generation, and a write names the one its folds descend from
// (storeState.gen): storage moves it to the next by compare and set in
// the write's transaction (PostgreSQL updates the head's row first, so
// it stays locked while the days are written) and refuses the write,
// with the events, when another process moved it (ErrRollupMoved). An
// upload first compares the stored generation with its own (syncFolds);
// when they differ, or its write is refused, the process restores its
// folds from the stored rollup and the events above it, and folds the
// upload again. A stored rollup is therefore always exactly the fold of
// the events its vector names, whichever process wrote it.
//
// The folds of a store only ever take each till's events in chain order
// and without a gap (agg.applied): events stored without a rollup (a
// store with a revoked till) are read back from storage and folded
// first.

// rollupVersion names the rollup's encoding; another is not used (the
// start folds every event instead, and writes a new one). Version 1 was
// one record per store, written every 2,000 events; version 2 held the
// over-spend tracker in the head (0.3-0.6 MB of JSON a store at 10,000
// events a day, decoded at every start). Version 3 folded a refund
// that came before its sale (the sale's till uploads later) with its
// weighed lines counted as grams, not items; version 4 holds such a
// refund back until its sale is folded (pendingRefunds), so a version-3
// rollup is refolded once at the first start.
const rollupVersion = 4

// Rollup is a store's report folds as stored: Body is the head in HQ's
// own encoding, Vector the events it covers, Days the day records,
// Spends the over-spend tracker's records (overspend.go). PutRollup and
// Append write the Days and Spends given and keep the others, unless
// Replace (then the others are dropped); Rollup returns every day and
// no Spends (RollupSpend reads one). Gen is the generation: the stored
// one from Rollup, the one written over for PutRollup and Append (which
// store Gen+1, or fail with ErrRollupMoved).
type Rollup struct {
	Version int           `json:"version"`
	Vector  ledger.Vector `json:"vector"`
	Body    []byte        `json:"body"`
	Days    []RollupDay   `json:"-"`
	Spends  []RollupSpend `json:"-"`
	Replace bool          `json:"-"`
	Gen     uint64        `json:"-"`
}

// RollupSpend is one record of a store's over-spend tracker: Key names
// a sale or a card (saleKey, cardKey), Body is in HQ's encoding.
type RollupSpend struct {
	Key  string
	Body []byte
}

// RollupDay is one business day of a store's folds, in HQ's encoding.
type RollupDay struct {
	Day  string
	Body []byte
}

type rollupTillDay struct {
	Till   ledger.TillID `json:"till"`
	Day    string        `json:"day"`
	Report ledger.Report `json:"report"`
}

// aggBody is an agg's head in JSON: maps with struct keys become lists.
type aggBody struct {
	Location       string                            `json:"location"`
	Total          ledger.Report                     `json:"total"`
	Stock          map[string]int64                  `json:"stock"`
	PendingVoids   map[string][]string               `json:"pending_voids,omitempty"`
	PendingRefunds map[string][]pendingRefund        `json:"pending_refunds,omitempty"`
	Events         uint64                            `json:"events"`
	Newer          ledger.Newer                      `json:"newer,omitempty"`
	Out            map[string]*ledger.TransferSide   `json:"out,omitempty"`
	In             map[string][]*ledger.TransferSide `json:"in,omitempty"`
	Receipts       map[ledger.TillID]uint64          `json:"receipts,omitempty"`
	Over           *overBody                         `json:"over,omitempty"`
}

// overBody is what a start needs of the over-spend tracker: the sales
// and cards over-spent, the sales refunded before HQ held them. The
// records themselves are read when needed (overspend.go).
type overBody struct {
	Sales   []ledger.EventID `json:"sales,omitempty"`
	Cards   []string         `json:"cards,omitempty"`
	Pending []ledger.EventID `json:"pending,omitempty"`
}

// saleSpendsBody is a sale's tracker record in JSON.
type saleSpendsBody struct {
	Sale   *ledger.Sale         `json:"sale,omitempty"`
	Spends []ledger.Spend       `json:"spends,omitempty"`
	Qty    map[int]int64        `json:"qty,omitempty"`
	Amount map[int]ledger.Money `json:"amount,omitempty"`
	Voids  int                  `json:"voids,omitempty"`
}

func (t *spendTrack) head() *overBody {
	if len(t.overSales) == 0 && len(t.overCards) == 0 && len(t.pending) == 0 {
		return nil
	}
	b := &overBody{}
	for id := range t.overSales {
		b.Sales = append(b.Sales, id)
	}
	for c := range t.overCards {
		b.Cards = append(b.Cards, c)
	}
	for id := range t.pending {
		b.Pending = append(b.Pending, id)
	}
	return b
}

func (b *overBody) track() *spendTrack {
	t := newSpendTrack()
	if b == nil {
		return t
	}
	for _, id := range b.Sales {
		t.overSales[id] = true
	}
	for _, c := range b.Cards {
		t.overCards[c] = true
	}
	for _, id := range b.Pending {
		t.pending[id] = true
	}
	return t
}

// records encodes the tracker's records: every one held with all, else
// those changed since the last write.
func (t *spendTrack) records(all bool) ([]RollupSpend, error) {
	var out []RollupSpend
	for id, ss := range t.sales {
		if !all && !t.dirtySales[id] {
			continue
		}
		raw, err := json.Marshal(saleSpendsBody{Sale: ss.sale, Spends: ss.spends, Qty: ss.qty, Amount: ss.amount, Voids: ss.voids})
		if err != nil {
			return nil, err
		}
		out = append(out, RollupSpend{Key: saleKey(id), Body: raw})
	}
	for card, es := range t.cards {
		if !all && !t.dirtyCards[card] {
			continue
		}
		raw, err := json.Marshal(es)
		if err != nil {
			return nil, err
		}
		out = append(out, RollupSpend{Key: cardKey(card), Body: raw})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// dayBody is one business day of an agg in JSON.
type dayBody struct {
	Location string            `json:"location"`
	Day      string            `json:"day"`
	Report   ledger.Report     `json:"report"`
	Tills    []rollupTillDay   `json:"tills"`
	Hours    []HourSales       `json:"hours"`
	Products []ledger.SKUSales `json:"products"`
}

// encode returns the agg's head, its day records and its tracker
// records: every one with all, else those touched since the last write
// (agg.dirty, spendTrack.dirtySales and dirtyCards).
func (a *agg) encode(all bool) ([]byte, []RollupDay, []RollupSpend, error) {
	if a.spends.err != nil {
		return nil, nil, nil, a.spends.err
	}
	spends, err := a.spends.records(all)
	if err != nil {
		return nil, nil, nil, err
	}
	b := aggBody{Location: a.dayKey(), Total: a.total, Stock: a.stock, PendingVoids: map[string][]string{},
		Events: a.events, Newer: a.newer, Out: a.xfer.out, In: a.xfer.in, Receipts: a.receipts, Over: a.spends.head()}
	for id, days := range a.pendingVoids {
		b.PendingVoids[id.String()] = days
	}
	if len(a.pendingRefunds) > 0 {
		b.PendingRefunds = make(map[string][]pendingRefund, len(a.pendingRefunds))
		for id, prs := range a.pendingRefunds {
			b.PendingRefunds[id.String()] = prs
		}
	}
	head, err := json.Marshal(b)
	if err != nil {
		return nil, nil, nil, err
	}
	want := a.dirty
	if all {
		want = map[string]bool{}
		for d := range a.days {
			want[d] = true
		}
		for k := range a.tillDays {
			want[k.day] = true
		}
		for d := range a.products {
			want[d] = true
		}
		for d := range a.hours {
			want[d] = true
		}
	}
	bodies := map[string]*dayBody{}
	for d := range want {
		db := &dayBody{Location: b.Location, Day: d, Report: newReport()}
		if r := a.days[d]; r != nil {
			db.Report = *r
		}
		for _, s := range a.products[d] {
			db.Products = append(db.Products, *s)
		}
		bodies[d] = db
	}
	for k, r := range a.tillDays {
		if db := bodies[k.day]; db != nil {
			db.Tills = append(db.Tills, rollupTillDay{Till: k.till, Day: k.day, Report: *r})
		}
	}
	for d, db := range bodies { // the hours of the days written only
		for _, hr := range a.hourDays[d] {
			db.Hours = append(db.Hours, *a.hours[d][hr])
		}
	}
	days := make([]RollupDay, 0, len(bodies))
	for d, db := range bodies {
		raw, err := json.Marshal(db)
		if err != nil {
			return nil, nil, nil, err
		}
		days = append(days, RollupDay{Day: d, Body: raw})
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Day < days[j].Day })
	return head, days, spends, nil
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

// errOtherDay: a rollup made for another business day than the folds'.
var errOtherDay = errors.New("hq: another business day")

// decodeAgg restores an agg into the empty one given (its time zone and
// day end); a rollup made for another business day is not used.
func decodeAgg(r Rollup, a *agg) (*agg, error) {
	var b aggBody
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return nil, fmt.Errorf("decode rollup: %w", err)
	}
	if b.Location != a.dayKey() {
		return nil, fmt.Errorf("%w: rollup made for business day %s, reports are in %s", errOtherDay, b.Location, a.dayKey())
	}
	loc := a.loc
	a.total, a.events, a.newer = b.Total, b.Events, b.Newer
	if b.Receipts != nil {
		a.receipts = b.Receipts
	}
	a.spends = b.Over.track()
	fixReport(&a.total)
	for _, rd := range r.Days {
		var d dayBody
		if err := json.Unmarshal(rd.Body, &d); err != nil {
			return nil, fmt.Errorf("decode rollup of day %s: %w", rd.Day, err)
		}
		if d.Location != b.Location || d.Day != rd.Day {
			return nil, fmt.Errorf("rollup of day %s made for business day %s %s, the head for %s", rd.Day, d.Location, d.Day, b.Location)
		}
		rep := d.Report
		fixReport(&rep)
		a.days[d.Day] = &rep
		a.noteDay(d.Day)
		for _, td := range d.Tills {
			r := td.Report
			fixReport(&r)
			a.tillDays[tillDay{td.Till, d.Day}] = &r
			a.tills[td.Till] = true
		}
		for _, h := range d.Hours {
			h.Start = time.Unix(h.Hour*3600, 0).In(loc)
			a.putHour(a.day(h.Hour*3_600_000), &h)
		}
		if len(d.Products) > 0 {
			m := map[string]*ledger.SKUSales{}
			for _, s := range d.Products {
				m[s.SKU] = &s
			}
			a.products[d.Day] = m
			a.noteDay(d.Day)
		}
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
	for id, prs := range b.PendingRefunds {
		eid, err := ledger.ParseEventID(id)
		if err != nil {
			return nil, fmt.Errorf("decode rollup: pending refund of %q: %w", id, err)
		}
		a.pendingRefunds[eid] = prs
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
	a.dirty, a.replace = map[string]bool{}, false
	return a, nil
}

// restoreAgg builds a store's folds at start: from its rollup, when there
// is a usable one, plus the events above it; else from every event. It
// writes a new rollup when it folded any event.
func (h *HQ) restoreAgg(ctx context.Context, s *storeState) error {
	a, from := h.newAggFor(s.rec), ledger.Vector{}
	r, err := h.st.Rollup(ctx, s.rec.ID)
	if err == nil {
		s.gen = r.Gen // a fresh fold replaces it whole over this generation
	}
	switch {
	case errors.Is(err, ErrNotFound):
		s.gen = 0
	case err != nil:
		return fmt.Errorf("read rollup: %w", err)
	case r.Version != rollupVersion:
		h.log.Info("rollup of another version: folding every event", "store", s.rec.ID, "version", r.Version)
	default:
		ra, derr := decodeAgg(r, h.newAggFor(s.rec)) // a fresh one: a failed decode leaves a as it was
		if errors.Is(derr, errOtherDay) && h.takeDayRule(ctx, s) {
			a = h.newAggFor(s.rec)
			ra, derr = decodeAgg(r, h.newAggFor(s.rec))
		}
		if derr != nil {
			h.log.Warn("rollup not used: folding every event", "store", s.rec.ID, "err", derr)
			break
		}
		if !ledger.Vector(headSeqs(s.heads)).Covers(r.Vector) {
			// Another HQ process may have stored events, and this
			// rollup, since the heads were read.
			h.refreshHeads(ctx, s)
		}
		if !ledger.Vector(headSeqs(s.heads)).Covers(r.Vector) {
			h.log.Warn("rollup covers events storage lacks (a restored database?): folding every event", "store", s.rec.ID)
			break
		}
		ra.spends.load = s.spendLoad
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
	s.rolled = a.events
	h.publish(s) // a new agg: copied whole
	// A rollup is written when events were folded: with none (a store
	// without events yet, or one another HQ process registered and this
	// one adopts), it would be an empty fold that moves the generation
	// under the uploads of other processes (ErrRollupMoved) for nothing.
	if a.events != before {
		return h.writeRollup(ctx, s)
	}
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

// foldAccepted folds the events of an upload, before they are stored
// (the rollup is written with them), in chain order per till; where
// another HQ process stored events of a till in between, those are read
// back and folded first. A sale of the upload is found for the voids and
// refunds after it in the upload too. The caller holds s.mu.
func (h *HQ) foldAccepted(ctx context.Context, s *storeState, accepted []*ledger.Event) {
	stored := h.saleLookup(ctx)
	var sales map[ledger.EventID]*ledger.Sale
	look := func(id ledger.EventID) (*ledger.Sale, bool) {
		if sale, ok := sales[id]; ok {
			return sale, true
		}
		return stored(id)
	}
	for _, ev := range accepted {
		if sale, ok := ev.Body.(*ledger.Sale); ok {
			if sales == nil {
				sales = map[ledger.EventID]*ledger.Sale{}
			}
			sales[ev.ID()] = sale
		}
	}
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
}

// unfold puts the store's folds back to what storage holds, after an
// upload folded before its append failed or when another HQ process
// wrote the store's rollup since (syncFolds): the stored rollup and the
// events above it; failing that, empty folds that the next upload
// refolds from storage (its events are above a gap). The caller holds
// s.mu.
func (h *HQ) unfold(ctx context.Context, s *storeState) {
	ctx = context.WithoutCancel(ctx) // a request that ended must not leave the folds wrong
	h.refreshHeads(ctx, s)
	if len(s.revoked) > 0 {
		// No rollup is written while a till is revoked (rollupOf): the
		// stored one, and the events above it, may hold its refused
		// events. Every stored event is folded, without those.
		if err := h.refold(ctx, s); err != nil {
			h.log.Warn("refold a store with a revoked till: refolded at the next upload", "store", s.rec.ID, "err", err)
			s.agg = h.newAggFor(s.rec)
			s.agg.applied = ledger.Vector{}
		}
		return
	}
	if err := h.restoreAgg(ctx, s); err != nil {
		h.log.Warn("restore folds after a failed append: refolded at the next upload", "store", s.rec.ID, "err", err)
		s.agg = h.newAggFor(s.rec)
		s.agg.applied = ledger.Vector{}
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

// rollupOf encodes the store's folds for a write: the head and the days
// touched since the last one (every day when the stored days are not
// this agg's). Nil while a till of the store is revoked: its folds leave
// out refused events and are refolded at every start. The caller holds
// s.mu.
func (h *HQ) rollupOf(s *storeState) (*Rollup, error) {
	if len(s.revoked) > 0 {
		return nil, nil
	}
	head, days, spends, err := s.agg.encode(s.agg.replace)
	if err != nil {
		return nil, fmt.Errorf("encode rollup: %w", err)
	}
	return &Rollup{Version: rollupVersion, Vector: s.agg.applied.Clone(), Body: head, Days: days, Spends: spends,
		Replace: s.agg.replace, Gen: s.gen}, nil
}

// rolledUp records that r, made by rollupOf, is stored.
func (s *storeState) rolledUp(r *Rollup) {
	if r == nil {
		return
	}
	s.agg.dirty, s.agg.replace = map[string]bool{}, false
	s.agg.spends.dirtySales, s.agg.spends.dirtyCards = map[ledger.EventID]bool{}, map[string]bool{}
	if s.agg.spends.load == nil {
		// The stored records are this tracker's from now on: a record
		// not in memory is read from them.
		s.agg.spends.load = s.spendLoad
	}
	s.agg.spends.forget()
	s.rolled = s.agg.events
	s.gen = r.Gen + 1
}

// writeRollup stores the store's folds. The caller holds s.mu. When
// another HQ process wrote the store's rollup since these folds were
// read, theirs stays (it is the fold of the events it names, as good
// for a start) and these are restored from it at the next upload
// (syncFolds); folds made whole (Replace) are written over it.
func (h *HQ) writeRollup(ctx context.Context, s *storeState) error {
	r, err := h.rollupOf(s)
	if err != nil || r == nil {
		return err
	}
	err = h.st.PutRollup(ctx, s.rec.ID, *r)
	if errors.Is(err, ErrRollupMoved) && r.Replace {
		if r.Gen, err = h.st.RollupGen(ctx, s.rec.ID); err == nil {
			err = h.st.PutRollup(ctx, s.rec.ID, *r)
		}
	}
	if errors.Is(err, ErrRollupMoved) {
		h.log.Info("rollup not written: another HQ process wrote the store's since", "store", s.rec.ID)
		return nil
	}
	if err != nil {
		return err
	}
	s.rolledUp(r)
	return nil
}

// syncFolds takes the store's heads from storage and, when the storage
// is shared (not Exclusive) and another HQ process wrote the store's
// rollup since this one's folds were read or written, restores the
// folds from it and the events above it. The caller holds s.mu.
func (h *HQ) syncFolds(ctx context.Context, s *storeState) {
	if h.exclusive() {
		// No other process writes the rollup: the stored generation is
		// the one this process last wrote (s.gen).
		h.refreshHeads(ctx, s)
		return
	}
	if len(s.revoked) > 0 {
		if err := h.foldStored(ctx, s); err != nil { // revoke.go
			h.log.Warn("fold events another HQ process stored", "store", s.rec.ID, "err", err)
		}
		return
	}
	gen, err := h.st.RollupGen(ctx, s.rec.ID)
	if err != nil {
		h.log.Warn("read rollup generation", "store", s.rec.ID, "err", err)
	}
	if err == nil && gen != s.gen {
		h.unfold(ctx, s) // takes the heads too
		return
	}
	h.refreshHeads(ctx, s)
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
// its last one (uploads write theirs with their events: only a store
// whose write failed, or that read back another process's events, has
// any left): at a graceful stop, so the next start folds nothing.
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
