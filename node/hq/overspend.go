package hq

import (
	"context"
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
// tills, events and amounts; memory grows with refunded sales, not with
// sales. The tracker is rebuilt with the report folds at start.

// spendTrack is one store's refunded and voided sales.
type spendTrack struct {
	sales map[ledger.EventID]*saleSpends
	// cards holds every card movement HQ has seen, by card: memory grows
	// with card movements (about 150 bytes each).
	cards map[string][]ledger.CardEntry
	// overSales and overCards are the over-spent ones, kept as events
	// come so that a report does not check every sale and card.
	overSales map[ledger.EventID]bool
	overCards map[string]bool
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
		overSales: map[ledger.EventID]bool{}, overCards: map[string]bool{}}
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

// apply tracks one event that joined its chain.
func (t *spendTrack) apply(ev *ledger.Event, sale lookup) {
	cards := ledger.CardEntries(ev)
	for card, es := range cards {
		t.cards[card] = append(t.cards[card], es...)
	}
	var id ledger.EventID
	defer func() {
		if id != (ledger.EventID{}) {
			t.recheck(&id, cards)
		} else {
			t.recheck(nil, cards)
		}
	}()
	sp := ledger.Spend{Till: ev.Till, Seq: ev.Seq, Event: ev.ID(), Kind: ev.Kind()}
	switch b := ev.Body.(type) {
	case *ledger.Sale:
		if ss := t.sales[ev.ID()]; ss != nil && ss.sale == nil {
			ss.sale = b
			id = ev.ID()
		}
		return
	case *ledger.Refund:
		id = b.Sale
		ss := t.get(id, sale)
		for _, l := range b.Lines {
			sp.Amount += l.Amount
			ss.qty[l.Line] += l.Qty
			ss.amount[l.Line] += l.Amount
		}
		sp.Grant, sp.Offline = b.Grant, b.Grant == nil
	case *ledger.Void:
		id = b.Sale
		t.get(id, sale).voids++
		sp.Amount, sp.Offline = b.Total, true
	default:
		return
	}
	ss := t.sales[id]
	ss.spends = append(ss.spends, sp)
}

func (t *spendTrack) get(id ledger.EventID, sale lookup) *saleSpends {
	ss := t.sales[id]
	if ss == nil {
		ss = &saleSpends{qty: map[int]int64{}, amount: map[int]ledger.Money{}}
		ss.sale, _ = sale(id)
		t.sales[id] = ss
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
	for id := range s.agg.spends.overSales {
		if o, ok := s.agg.spends.sales[id].over(id); ok {
			out = append(out, StoreOverspend{Store: s.rec.ID, Overspend: o, Numbers: map[string]uint32{}})
		}
	}
	certs := make(map[ledger.TillID]*ledger.Certificate, len(s.certs))
	for t, c := range s.certs {
		certs[t] = c
	}
	s.viewMu.RUnlock()
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
		for card := range s.agg.spends.overCards {
			if o, ok := ledger.FoldEntries(card, s.agg.spends.cards[card]).Overspend(); ok {
				out = append(out, StoreCardOverspend{Store: s.rec.ID, CardOverspend: o})
			}
		}
		s.viewMu.RUnlock()
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
