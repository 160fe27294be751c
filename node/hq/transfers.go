package hq

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// storeTransfers is one store's side of the chain's transfers, folded
// with its other figures (agg) as each event joins its chain, and rebuilt
// with them. The two sides of a transfer live in two stores' ledgers;
// Transfers matches them by the sending store and the number.
type storeTransfers struct {
	out map[string]*ledger.TransferSide   // sent by this store, by number
	in  map[string][]*ledger.TransferSide // received here, by number
}

func (x *storeTransfers) apply(ev *ledger.Event) {
	side, in := ledger.SideOf(ev)
	if side == nil {
		return
	}
	if x.out == nil {
		x.out, x.in = map[string]*ledger.TransferSide{}, map[string][]*ledger.TransferSide{}
	}
	switch {
	case in:
		x.in[side.Number] = append(x.in[side.Number], side)
	case x.out[side.Number] == nil:
		x.out[side.Number] = side
	}
}

// TransferStatus is where a transfer stands at HQ.
type TransferStatus string

// The statuses of a transfer. A transfer is never lost: it is in transit
// until a receipt reaches HQ, and then received or disputed.
const (
	TransferInTransit TransferStatus = "in_transit" // sent, no receipt at HQ yet
	TransferReceived  TransferStatus = "received"   // received once, at its destination, as sent
	TransferDisputed  TransferStatus = "disputed"   // a difference, a second receipt, the wrong store
	// TransferUnmatched is a receipt whose transfer_out has not reached
	// HQ yet (the sending store is offline): it waits for it.
	TransferUnmatched TransferStatus = "unmatched"
)

// Transfer is both sides of one transfer as HQ holds them.
type Transfer struct {
	Number     string             `json:"number"`
	From       ledger.StoreID     `json:"from"`
	FromName   string             `json:"from_name"`
	To         ledger.StoreID     `json:"to"` // zero while HQ lacks the transfer_out
	ToName     string             `json:"to_name,omitempty"`
	Sent       []ledger.StockLine `json:"sent,omitempty"`
	SentAt     time.Time          `json:"sent_at,omitzero"`
	Note       string             `json:"note,omitempty"`
	Receipts   []TransferReceipt  `json:"receipts,omitempty"`
	Status     TransferStatus     `json:"status"`
	Difference map[string]int64   `json:"difference,omitempty"` // received - sent, by SKU, over every receipt
	Problems   []string           `json:"problems,omitempty"`
}

// TransferReceipt is one transfer_in of a transfer.
type TransferReceipt struct {
	Store      ledger.StoreID     `json:"store"`
	StoreName  string             `json:"store_name"`
	Lines      []ledger.StockLine `json:"lines"`
	Note       string             `json:"note,omitempty"`
	ReceivedAt time.Time          `json:"received_at"`
}

type transferKey struct {
	from   ledger.StoreID
	number string
}

type sideAt struct {
	store ledger.StoreID
	side  *ledger.TransferSide
}

// Transfers matches every store's transfer sides: every transfer HQ knows
// of, oldest first, with its status. status, if not empty, keeps only
// transfers in it.
func (h *HQ) Transfers(status TransferStatus) []Transfer {
	names := map[ledger.StoreID]string{}
	outs := map[transferKey]sideAt{}
	ins := map[transferKey][]sideAt{}
	for _, s := range h.storeList() {
		s.viewMu.RLock()
		names[s.rec.ID] = s.rec.Name
		for n, side := range s.pub.xfer.out {
			outs[transferKey{s.rec.ID, n}] = sideAt{s.rec.ID, side}
		}
		for n, sides := range s.pub.xfer.in {
			for _, side := range sides {
				k := transferKey{side.Other, n}
				ins[k] = append(ins[k], sideAt{s.rec.ID, side})
			}
		}
		s.viewMu.RUnlock()
	}
	var out []Transfer
	add := func(t Transfer) {
		if status == "" || t.Status == status {
			out = append(out, t)
		}
	}
	for k, o := range outs {
		add(match(k, &o, ins[k], names, h.cfg.Location))
	}
	for k, rs := range ins {
		if _, ok := outs[k]; !ok {
			add(match(k, nil, rs, names, h.cfg.Location))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].at(), out[j].at()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].Number < out[j].Number
	})
	return out
}

func (t *Transfer) at() time.Time {
	if !t.SentAt.IsZero() || len(t.Receipts) == 0 {
		return t.SentAt
	}
	return t.Receipts[0].ReceivedAt
}

func wallTime(h ledger.HLC, loc *time.Location) time.Time { return time.UnixMilli(h.Wall).In(loc) }

// match puts the sides of one transfer together and decides its status.
func match(k transferKey, o *sideAt, rs []sideAt, names map[ledger.StoreID]string, loc *time.Location) Transfer {
	t := Transfer{Number: k.number, From: k.from, FromName: names[k.from]}
	sort.Slice(rs, func(i, j int) bool { return rs[i].side.Time.Before(rs[j].side.Time) })
	for _, r := range rs {
		t.Receipts = append(t.Receipts, TransferReceipt{Store: r.store, StoreName: names[r.store], Lines: r.side.Lines,
			Note: r.side.Note, ReceivedAt: wallTime(r.side.Time, loc)})
	}
	if o == nil {
		t.Status = TransferUnmatched
		if _, known := names[k.from]; !known {
			t.Status = TransferDisputed
			t.Problems = append(t.Problems, "received from a store HQ does not know")
		} else {
			t.Problems = append(t.Problems, "the sending store's transfer_out has not reached HQ yet")
		}
		return t
	}
	t.To, t.ToName, t.Sent, t.Note = o.side.Other, names[o.side.Other], o.side.Lines, o.side.Note
	t.SentAt = wallTime(o.side.Time, loc)
	if len(rs) == 0 {
		t.Status = TransferInTransit
		return t
	}
	var got []ledger.StockLine
	for _, r := range rs {
		got = append(got, r.side.Lines...)
		if r.store != t.To {
			t.Problems = append(t.Problems, fmt.Sprintf("received at %s, sent to %s", nameOr(names, r.store), nameOr(names, t.To)))
		}
		if len(r.side.Sent) > 0 && len(ledger.Differences(r.side.Sent, t.Sent)) > 0 {
			t.Problems = append(t.Problems, "the receiving till was shown other quantities than were sent")
		}
	}
	if len(rs) > 1 {
		t.Problems = append(t.Problems, fmt.Sprintf("received %d times", len(rs)))
	}
	if d := ledger.Differences(t.Sent, got); len(d) > 0 {
		t.Difference = d
		skus := make([]string, 0, len(d))
		for sku := range d {
			skus = append(skus, sku)
		}
		sort.Strings(skus)
		for _, sku := range skus {
			t.Problems = append(t.Problems, fmt.Sprintf("%s: %+d against what was sent", sku, d[sku]))
		}
	}
	t.Status = TransferReceived
	if len(t.Problems) > 0 {
		t.Status = TransferDisputed
	}
	return t
}

func nameOr(names map[ledger.StoreID]string, id ledger.StoreID) string {
	if n := names[id]; n != "" {
		return n
	}
	return "store " + id.String()[:8]
}

// InTransit sums, by SKU, what the chain's transfers in transit carry:
// stock that has left one store and reached no other.
func (h *HQ) InTransit() map[string]int64 {
	m := map[string]int64{}
	for _, t := range h.Transfers(TransferInTransit) {
		for _, l := range t.Sent {
			m[l.SKU] += l.Qty
		}
	}
	return m
}

// Chain is the chain downlink for one store: the chain's stores and the
// transfers in transit to it.
func (h *HQ) Chain(store ledger.StoreID) (hqapi.Chain, error) {
	if h.store(store) == nil {
		return hqapi.Chain{}, fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	c := hqapi.Chain{Version: hqapi.ChainVersion, Made: h.cfg.Now().UnixMilli(), Stores: []hqapi.ChainStore{}, Incoming: []hqapi.IncomingTransfer{}}
	for _, s := range h.storeList() {
		s.mu.Lock()
		c.Stores = append(c.Stores, hqapi.ChainStore{ID: s.rec.ID, Name: s.rec.Name})
		s.mu.Unlock()
	}
	sort.Slice(c.Stores, func(i, j int) bool { return c.Stores[i].Name < c.Stores[j].Name })
	if len(c.Stores) > hqapi.MaxChainStores {
		c.Stores = c.Stores[:hqapi.MaxChainStores]
	}
	for _, t := range h.Transfers(TransferInTransit) {
		if t.To != store {
			continue
		}
		if len(c.Incoming) == hqapi.MaxChainIncoming {
			break // oldest first; the rest come once these are received
		}
		c.Incoming = append(c.Incoming, hqapi.IncomingTransfer{Number: t.Number, From: t.From, FromName: t.FromName,
			Lines: t.Sent, Note: t.Note, Sent: t.SentAt.UnixMilli()})
	}
	return c, nil
}

func (h *HQ) getChain(w http.ResponseWriter, r *http.Request) {
	store, _, ok := h.authOrFail(w, r)
	if !ok {
		return
	}
	c, err := h.Chain(store)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// apiTransfers answers the dashboard's transfers view: every transfer, or
// those of ?status=, with what is in transit by SKU.
func (h *HQ) apiTransfers(w http.ResponseWriter, r *http.Request, _ *session) {
	st := TransferStatus(r.URL.Query().Get("status"))
	switch st {
	case "", TransferInTransit, TransferReceived, TransferDisputed, TransferUnmatched:
	default:
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest,
			fmt.Sprintf("status %q: want in_transit, received, disputed or unmatched", st))
		return
	}
	list := h.Transfers(st)
	if list == nil {
		list = []Transfer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"transfers": list, "in_transit": h.InTransit()})
}
