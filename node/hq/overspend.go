package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// Over-spends at HQ: sales whose refunds and voids gave back more than
// they took, which a store can only cause while tills refund without the
// sale's till's grant (offline, across a partition) or with a damaged
// chain. HQ keeps, for every sale it has seen refunded or voided, the
// refunds and voids (IDs and amounts, not the events), so it can name the
// tills, events and amounts.
//
// The tracker is stored as one record per refunded or voided sale and
// one per gift card or account (Rollup.Spends), written with the upload
// that touched them in its transaction, and read only when an event
// needs one: a start reads the over-spent sales and cards and the sales
// refunded before HQ held them (a few IDs in the rollup's head), not the
// tracker. Memory holds the records read or written since the start.

// spendTrack is one store's refunded and voided sales.
type spendTrack struct {
	sales map[ledger.EventID]*saleSpends
	// cards holds the card movements HQ has seen, by card, of the cards
	// read or written since the start.
	cards map[string][]ledger.CardEntry
	// overSales and overCards are the over-spent ones, kept as events
	// come so that a report does not check every sale and card.
	overSales map[ledger.EventID]bool
	overCards map[string]bool
	// pending are the sales refunded or voided before HQ held them: a
	// sale event is looked up in the records only when it is one.
	pending map[ledger.EventID]bool
	// dirtySales and dirtyCards are the records changed since the last
	// write (rollup.go).
	dirtySales map[ledger.EventID]bool
	dirtyCards map[string]bool
	// load reads a stored record (nil, nil when there is none); nil
	// while the stored records are not this tracker's (a fresh fold).
	load spendLoader
	// err is the first record that could not be read: the folds are
	// then not written (rollupOf), and the next start refolds from the
	// rollup before.
	err error
}

// spendLoader reads a stored tracker record by key (saleKey, cardKey):
// nil, nil when there is none.
type spendLoader func(key string) ([]byte, error)

func saleKey(id ledger.EventID) string { return "s" + id.String() }
func cardKey(card string) string       { return "c" + card }

// spendLoaderOf reads the store's tracker records from storage.
func (h *HQ) spendLoaderOf(store ledger.StoreID) spendLoader {
	return func(key string) ([]byte, error) {
		raw, err := h.st.RollupSpend(context.Background(), store, key)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return raw, err
	}
}

func decodeSaleSpends(raw []byte) (*saleSpends, error) {
	var b saleSpendsBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("decode over-spend record: %w", err)
	}
	ss := &saleSpends{sale: b.Sale, spends: b.Spends, qty: b.Qty, amount: b.Amount, voids: b.Voids}
	if ss.qty == nil {
		ss.qty = map[int]int64{}
	}
	if ss.amount == nil {
		ss.amount = map[int]ledger.Money{}
	}
	return ss, nil
}

// spendKeep is how many sale records, and how many card records, a
// store's tracker keeps in memory once every record is stored. Beyond
// it the records of sales and cards not over-spent are dropped, to be
// read back from storage when an event needs one. Unbounded, HQ's
// memory grew with every refund and void since its start: 330 MB of
// 1.2 GB at 3,000,000 events in bench chain.
const spendKeep = 256

// forget drops the records beyond spendKeep that storage holds as they
// are (none dirty) and that are not over-spent.
func (t *spendTrack) forget() {
	if t.load == nil || len(t.dirtySales) > 0 || len(t.dirtyCards) > 0 {
		return
	}
	if len(t.sales) > spendKeep {
		keep := make(map[ledger.EventID]*saleSpends, len(t.overSales))
		for id := range t.overSales {
			if ss := t.sales[id]; ss != nil {
				keep[id] = ss
			}
		}
		t.sales = keep
	}
	if len(t.cards) > spendKeep {
		keep := make(map[string][]ledger.CardEntry, len(t.overCards))
		for c := range t.overCards {
			if es, ok := t.cards[c]; ok {
				keep[c] = es
			}
		}
		t.cards = keep
	}
}

// readSale returns the sale's record, from memory or storage, or nil.
func (t *spendTrack) readSale(id ledger.EventID) *saleSpends {
	if ss := t.sales[id]; ss != nil || t.load == nil {
		return ss
	}
	raw, err := t.load(saleKey(id))
	if err == nil && raw != nil {
		var ss *saleSpends
		if ss, err = decodeSaleSpends(raw); err == nil {
			t.sales[id] = ss
			return ss
		}
	}
	if err != nil && t.err == nil {
		t.err = fmt.Errorf("read over-spend record of sale %s: %w", id.String(), err)
	}
	return nil
}

// readCard returns the card's movements, from memory or storage.
func (t *spendTrack) readCard(card string) []ledger.CardEntry {
	if es, ok := t.cards[card]; ok || t.load == nil {
		return es
	}
	raw, err := t.load(cardKey(card))
	var es []ledger.CardEntry
	if err == nil && raw != nil {
		err = json.Unmarshal(raw, &es)
	}
	if err != nil {
		if t.err == nil {
			t.err = fmt.Errorf("read over-spend record of card %s: %w", card, err)
		}
		return nil
	}
	t.cards[card] = es
	return es
}

type saleSpends struct {
	sale   *ledger.Sale // nil until HQ holds the sale
	spends []ledger.Spend
	qty    map[int]int64
	amount map[int]ledger.Money
	voids  int
}

func newSpendTrack() *spendTrack {
	return &spendTrack{sales: map[ledger.EventID]*saleSpends{}, cards: map[string][]ledger.CardEntry{},
		overSales: map[ledger.EventID]bool{}, overCards: map[string]bool{}, pending: map[ledger.EventID]bool{},
		dirtySales: map[ledger.EventID]bool{}, dirtyCards: map[string]bool{}}
}

// recheck records whether the sale and the cards are over-spent now.
func (t *spendTrack) recheck(sale *ledger.EventID, cards map[string][]ledger.CardEntry) {
	if sale != nil {
		if ss := t.sales[*sale]; ss != nil {
			if _, ok := ss.over(*sale); ok {
				t.overSales[*sale] = true
			} else {
				delete(t.overSales, *sale)
			}
		}
	}
	for card := range cards {
		if _, ok := ledger.FoldEntries(card, t.cards[card]).Overspend(); ok {
			t.overCards[card] = true
		} else {
			delete(t.overCards, card)
		}
	}
}

// apply tracks one event that joined its chain. An event the records
// hold already (read back from storage another HQ process wrote) is not
// counted again.
func (t *spendTrack) apply(ev *ledger.Event, sale lookup) {
	cards := ledger.CardEntries(ev)
	for card, es := range cards {
		have := t.readCard(card)
		if hasEntry(have, ev.ID()) {
			continue
		}
		t.cards[card] = append(have, es...)
		t.dirtyCards[card] = true
	}
	var id ledger.EventID
	defer func() {
		if id != (ledger.EventID{}) {
			t.dirtySales[id] = true
			t.recheck(&id, cards)
		} else {
			t.recheck(nil, cards)
		}
	}()
	sp := ledger.Spend{Till: ev.Till, Seq: ev.Seq, Event: ev.ID(), Kind: ev.Kind()}
	switch b := ev.Body.(type) {
	case *ledger.Sale:
		if !t.pending[ev.ID()] {
			return
		}
		if ss := t.readSale(ev.ID()); ss != nil && ss.sale == nil {
			ss.sale = b
			id = ev.ID()
		}
		delete(t.pending, ev.ID())
		return
	case *ledger.Refund:
		id = b.Sale
		ss := t.get(id, sale)
		if ss.has(ev.ID()) {
			return
		}
		for _, l := range b.Lines {
			sp.Amount += l.Amount
			ss.qty[l.Line] += l.Qty
			ss.amount[l.Line] += l.Amount
		}
		sp.Grant, sp.Offline = b.Grant, b.Grant == nil
	case *ledger.Void:
		id = b.Sale
		ss := t.get(id, sale)
		if ss.has(ev.ID()) {
			return
		}
		ss.voids++
		sp.Amount, sp.Offline = b.Total, true
	default:
		return
	}
	ss := t.sales[id]
	ss.spends = append(ss.spends, sp)
}

func hasEntry(es []ledger.CardEntry, id ledger.EventID) bool {
	for _, e := range es {
		if e.Event == id {
			return true
		}
	}
	return false
}

func (ss *saleSpends) has(id ledger.EventID) bool {
	for _, sp := range ss.spends {
		if sp.Event == id {
			return true
		}
	}
	return false
}

func (t *spendTrack) get(id ledger.EventID, sale lookup) *saleSpends {
	ss := t.readSale(id)
	if ss == nil {
		ss = &saleSpends{qty: map[int]int64{}, amount: map[int]ledger.Money{}}
		ss.sale, _ = sale(id)
		t.sales[id] = ss
	}
	if ss.sale == nil {
		t.pending[id] = true
	}
	return ss
}

// over returns the sale's over-spend, or false. Reasons read as the
// till's anomalies do ("line 0 refunded 4 of 2").
func (ss *saleSpends) over(id ledger.EventID) (ledger.Overspend, bool) {
	if ss.sale == nil {
		return ledger.Overspend{}, false
	}
	t, err := ss.sale.Totals()
	if err != nil {
		return ledger.Overspend{}, false
	}
	o := ledger.Overspend{Sale: id, Currency: ss.sale.Currency, Limit: t.Total}
	for i, l := range ss.sale.Lines {
		if q := ss.qty[i]; q > l.Qty {
			o.Reasons = append(o.Reasons, fmt.Sprintf("line %d refunded %d of %d", i, q, l.Qty))
		}
		if d := ss.amount[i] - t.Lines[i].Amount; d > 0 {
			o.Over += d
		}
	}
	if ss.voids > 1 {
		o.Reasons = append(o.Reasons, fmt.Sprintf("voided %d times", ss.voids))
	}
	if ss.voids > 0 && len(ss.qty) > 0 {
		o.Reasons = append(o.Reasons, "voided and refunded")
	}
	if len(o.Reasons) == 0 {
		return ledger.Overspend{}, false
	}
	for _, s := range ss.spends {
		o.Spent += s.Amount
	}
	if o.Spent-o.Limit > o.Over {
		o.Over = o.Spent - o.Limit
	}
	o.Spends = append([]ledger.Spend(nil), ss.spends...)
	return o, true
}

// StoreOverspend is an over-spent sale of a store, with the till numbers
// of the tills it names (by till ID).
type StoreOverspend struct {
	Store ledger.StoreID `json:"store"`
	ledger.Overspend
	Numbers map[string]uint32 `json:"numbers"`
}

// Overspends lists the over-spent sales of one store, or of every store
// when store is nil, ordered by store and sale.
func (h *HQ) Overspends(ctx context.Context, store *ledger.StoreID) []StoreOverspend {
	out := []StoreOverspend{}
	for _, s := range h.storeList() {
		if store != nil && *store != s.rec.ID {
			continue
		}
		out = append(out, h.storeOverspends(ctx, s)...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Store != out[j].Store {
			return out[i].Store.String() < out[j].Store.String()
		}
		return out[i].Sale.String() < out[j].Sale.String()
	})
	return out
}

func (h *HQ) storeOverspends(ctx context.Context, s *storeState) []StoreOverspend {
	s.viewMu.RLock()
	var out []StoreOverspend
	var unread []ledger.EventID // over-spent sales whose records are in storage only
	for id := range s.pub.spends.overSales {
		ss := s.pub.spends.sales[id]
		if ss == nil {
			unread = append(unread, id)
			continue
		}
		if o, ok := ss.over(id); ok {
			out = append(out, StoreOverspend{Store: s.rec.ID, Overspend: o, Numbers: map[string]uint32{}})
		}
	}
	load := s.pub.spends.load
	certs := make(map[ledger.TillID]*ledger.Certificate, len(s.certs))
	for t, c := range s.certs {
		certs[t] = c
	}
	s.viewMu.RUnlock()
	for _, id := range unread { // read outside the lock: an upload does not wait for it
		if load == nil {
			break
		}
		raw, err := load(saleKey(id))
		if err != nil || raw == nil {
			h.log.Warn("read over-spend record", "store", s.rec.ID, "sale", id.String(), "err", err)
			continue
		}
		if ss, err := decodeSaleSpends(raw); err == nil {
			if o, ok := ss.over(id); ok {
				out = append(out, StoreOverspend{Store: s.rec.ID, Overspend: o, Numbers: map[string]uint32{}})
			}
		}
	}
	for i := range out {
		o := &out[i]
		if raw, err := h.st.Event(ctx, o.Sale); err == nil {
			if ev, err := ledger.Decode(raw); err == nil {
				o.Owner, o.OwnerSeq = ev.Till, ev.Seq
			}
		}
		name := func(t ledger.TillID) {
			if c := certs[t]; c != nil {
				o.Numbers[t.String()] = c.Number
			}
		}
		name(o.Owner)
		for _, sp := range o.Spends {
			name(sp.Till)
		}
	}
	return out
}

// StoreCardOverspend is a card of a store redeemed beyond what was issued.
type StoreCardOverspend struct {
	Store ledger.StoreID `json:"store"`
	ledger.CardOverspend
}

// CardOverspends lists the cards redeemed beyond what was issued on
// them, of one store or every store (nil), by store and card.
func (h *HQ) CardOverspends(store *ledger.StoreID) []StoreCardOverspend {
	out := []StoreCardOverspend{}
	for _, s := range h.storeList() {
		if store != nil && *store != s.rec.ID {
			continue
		}
		s.viewMu.RLock()
		var unread []string // over-spent cards whose records are in storage only
		for card := range s.pub.spends.overCards {
			es, ok := s.pub.spends.cards[card]
			if !ok {
				unread = append(unread, card)
				continue
			}
			if o, ok := ledger.FoldEntries(card, es).Overspend(); ok {
				out = append(out, StoreCardOverspend{Store: s.rec.ID, CardOverspend: o})
			}
		}
		load := s.pub.spends.load
		s.viewMu.RUnlock()
		for _, card := range unread {
			if load == nil {
				break
			}
			raw, err := load(cardKey(card))
			var es []ledger.CardEntry
			if err == nil && raw != nil {
				err = json.Unmarshal(raw, &es)
			}
			if err != nil {
				h.log.Warn("read over-spend record", "store", s.rec.ID, "card", card, "err", err)
				continue
			}
			if o, ok := ledger.FoldEntries(card, es).Overspend(); ok {
				out = append(out, StoreCardOverspend{Store: s.rec.ID, CardOverspend: o})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Store != out[j].Store {
			return out[i].Store.String() < out[j].Store.String()
		}
		return out[i].Card < out[j].Card
	})
	return out
}

// apiOverspends answers GET /hq/api/overspends[?store=<id>]:
// {"sales":[...],"cards":[...]}.
func (h *HQ) apiOverspends(w http.ResponseWriter, r *http.Request, _ *session) {
	var store *ledger.StoreID
	if v := r.URL.Query().Get("store"); v != "" {
		var err error
		if store, err = storeParam(v); err != nil {
			writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, "want store=<id>")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sales": h.Overspends(r.Context(), store), "cards": h.CardOverspends(store)})
}
