package hq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// TillView is one till of a store as HQ sees it.
type TillView struct {
	Till    ledger.TillID  `json:"till"`
	Number  uint32         `json:"number"`
	Name    string         `json:"name"`
	Seq     uint64         `json:"seq"` // highest seq HQ holds
	Head    ledger.EventID `json:"head"`
	Flagged bool           `json:"flagged"` // equivocated: see the evidence
	// Revoked by the store CA: its events after RevokedAfter are refused.
	Revoked      bool   `json:"revoked,omitempty"`
	RevokedAfter uint64 `json:"revoked_after,omitempty"`
	// Version is the till's tillmesh release as the store's relay last
	// reported it; empty if never reported (a till older than versions).
	Version string `json:"version,omitempty"`
	// Refused counts the till's events above RevokedAfter that HQ had
	// stored before the revocation: kept as evidence, left out of reports.
	Refused int `json:"refused,omitempty"`
	// Receipts is how many receipts (sales, refunds, voids) of the till
	// HQ holds, and LastReceipt the newest one's number as the till
	// printed it (ledger.ReceiptNo); empty if none.
	Receipts    uint64 `json:"receipts"`
	LastReceipt string `json:"last_receipt,omitempty"`
}

// StoreView is a store's state at HQ: its tills, what HQ holds, its relay
// and its backlog.
type StoreView struct {
	ID          ledger.StoreID `json:"id"`
	Name        string         `json:"name"`
	CA          string         `json:"ca"` // hex
	Events      uint64         `json:"events"`
	Vector      ledger.Vector  `json:"vector"`
	Tills       []TillView     `json:"tills"`
	Fence       hqapi.Fence    `json:"fence"`
	RelayNumber uint32         `json:"relay_number,omitempty"`
	LastContact int64          `json:"last_contact"` // Unix ms; 0 if never
	Backlog     uint64         `json:"backlog"`      // events the relay held that HQ lacked, at last contact
	Flagged     int            `json:"flagged"`      // tills with equivocation evidence
	// Newer counts stored events of kinds this HQ's version does not know,
	// by kind: kept, but left out of the reports until HQ is upgraded.
	Newer        ledger.Newer `json:"newer,omitempty"`
	NewerWarning string       `json:"newer_warning,omitempty"` // e.g. "3 events from a newer version (kind gift_card)..."
}

// Stores returns every registered store's view.
func (h *HQ) Stores() []StoreView {
	var out []StoreView
	for _, s := range h.storeList() {
		out = append(out, s.view())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out
}

// Store returns one store's view.
func (h *HQ) Store(id ledger.StoreID) (StoreView, bool) {
	s := h.store(id)
	if s == nil {
		return StoreView{}, false
	}
	return s.view(), true
}

func (s *storeState) view() StoreView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := StoreView{ID: s.rec.ID, Name: s.rec.Name, CA: fmt.Sprintf("%x", []byte(s.rec.CA)), Vector: s.vector(),
		Fence: s.fence, LastContact: s.contact.At, Backlog: s.contact.Backlog, Tills: []TillView{}}
	v.Events = v.Vector.Total()
	if len(s.agg.newer) > 0 {
		v.Newer = maps.Clone(s.agg.newer)
		v.NewerWarning = v.Newer.String()
	}
	seen := map[ledger.TillID]bool{}
	add := func(t ledger.TillID) {
		if seen[t] {
			return
		}
		seen[t] = true
		tv := TillView{Till: t, Seq: s.heads[t].Seq, Head: s.heads[t].ID, Flagged: s.heads[t].Flagged, Version: s.versions[t]}
		if c := s.certs[t]; c != nil {
			tv.Number, tv.Name = c.Number, c.Name
		}
		tv.RevokedAfter, tv.Revoked = s.revokedAfter(t)
		tv.Refused = s.refused[t]
		if tv.Receipts = s.agg.receipts[t]; tv.Receipts > 0 && tv.Number > 0 {
			tv.LastReceipt = ledger.ReceiptNo(tv.Number, tv.Receipts)
		}
		if tv.Flagged {
			v.Flagged++
		}
		v.Tills = append(v.Tills, tv)
	}
	for t := range s.certs {
		add(t)
	}
	for t := range s.heads {
		add(t)
	}
	sort.Slice(v.Tills, func(i, j int) bool {
		if v.Tills[i].Number != v.Tills[j].Number {
			return v.Tills[i].Number < v.Tills[j].Number
		}
		return v.Tills[i].Till.String() < v.Tills[j].Till.String()
	})
	if c := s.certs[s.fence.Holder]; c != nil {
		v.RelayNumber = c.Number
	}
	return v
}

// costPrices maps "store/sku" (and "/sku" for a product HQ sent to every
// store) to the catalog product with a cost price, as HQ knows it now.
// A catalog HQ cannot read gives no costs: the reports then show every
// line as without a cost rather than fail.
//
// On storage one process alone opens (Badger) the map is kept until
// the catalog changes here (catGen): a report then reads no storage,
// where a read transaction waits for the uploads' commits in flight.
// On shared storage it is read per call (another process may change
// the catalog). The map and its products are shared: read only.
func (h *HQ) costPrices(ctx context.Context) map[string]*basket.Product {
	read := func() (map[string]*basket.Product, error) {
		out, ok := h.readCostPrices(ctx)
		if !ok {
			return out, errCatalogUnread // not a failed read's empty map
		}
		return out, nil
	}
	if !h.exclusive() {
		out, _ := read()
		return out
	}
	out, _ := h.costs.get(&h.catGen, read)
	return out
}

// errCatalogUnread is a catalog read that failed (readCostPrices logs why).
var errCatalogUnread = errors.New("catalog not read")

// storeCatalogs returns every store's reported catalog in one read, or
// nil, nil when the storage reads them one by one (not a
// StoreCatalogLister). As costPrices does, on storage one process alone
// opens it keeps the map until the catalog changes here (catGen): stock
// health then reads no storage while uploads commit (a Badger read
// transaction waits for the commits in flight: 214 ms of a 328 ms
// answer in an execution trace at 3M events). The map is shared: read
// only.
func (h *HQ) storeCatalogs(ctx context.Context) (map[ledger.StoreID]hqapi.StoreCatalog, error) {
	l, ok := h.st.(StoreCatalogLister)
	if !ok {
		return nil, nil
	}
	if !h.exclusive() {
		return l.StoreCatalogs(ctx)
	}
	return h.cats.get(&h.catGen, func() (map[ledger.StoreID]hqapi.StoreCatalog, error) { return l.StoreCatalogs(ctx) })
}

// genCache keeps one value read at a generation of a counter (catGen)
// until the counter moves. The counter moves after the write it counts,
// so a value read under the old generation is never kept under the new.
type genCache[T any] struct {
	mu  sync.Mutex
	gen uint64
	ok  bool
	v   T
}

// get returns the kept value if counter has not moved since it was
// read, else reads it anew and keeps it unless the read failed or the
// counter moved meanwhile.
func (c *genCache[T]) get(counter *atomic.Uint64, read func() (T, error)) (T, error) {
	gen := counter.Load()
	c.mu.Lock()
	if c.ok && c.gen == gen {
		v := c.v
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	v, err := read()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if gen == counter.Load() && (!c.ok || gen >= c.gen) {
		c.v, c.gen, c.ok = v, gen, true
	}
	c.mu.Unlock()
	return v, nil
}

// readCostPrices reads the cost prices from the catalog in storage: an
// empty map, logged, and read false when it cannot be read.
func (h *HQ) readCostPrices(ctx context.Context) (_ map[string]*basket.Product, read bool) {
	out := map[string]*basket.Product{}
	cat, err := h.Catalog(ctx)
	if err != nil {
		h.log.Warn("read the catalog for margins", "err", err)
		return out, false
	}
	for i := range cat.Products {
		e := &cat.Products[i]
		if e.Product.Cost == 0 {
			continue
		}
		scope := ""
		if e.Store != nil {
			scope = e.Store.String()
		}
		out[scope+"/"+e.Product.SKU] = &e.Product
	}
	return out, true
}

// Report returns sales across the stores q selects.
func (h *HQ) Report(q Query) Report {
	rep := Report{Query: q, From: q.From, To: q.To, Total: newReport()}
	days := map[string]*ledger.Report{}
	products := map[string]*ledger.SKUSales{}
	costs := h.costPrices(context.Background())
	for _, s := range h.storeList() {
		if q.Store != nil && *q.Store != s.rec.ID {
			continue
		}
		cost := func(sku string) *basket.Product {
			if p := costs[s.rec.ID.String()+"/"+sku]; p != nil {
				return p
			}
			return costs["/"+sku]
		}
		s.viewMu.RLock()
		s.pub.report(q, s.rec, s.certs, &rep, days, products, cost)
		s.viewMu.RUnlock()
	}
	rep.finish(days, products, q.TopN)
	rep.Overspends = h.Overspends(context.Background(), q.Store)
	rep.CardOverspends = h.CardOverspends(q.Store)
	return rep
}

// StoreReport returns one store's totals over every event HQ holds.
func (h *HQ) StoreReport(id ledger.StoreID) (ledger.Report, bool) {
	s := h.store(id)
	if s == nil {
		return ledger.Report{}, false
	}
	s.viewMu.RLock()
	defer s.viewMu.RUnlock()
	return cloneReport(&s.pub.total), true
}

// SalesByHour returns one store's sales totals by Unix hour, as
// ledger.Fold.SalesByHour.
func (h *HQ) SalesByHour(id ledger.StoreID) map[int64]ledger.Money {
	out := map[int64]ledger.Money{}
	s := h.store(id)
	if s == nil {
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.agg.hours {
		for hr, v := range m {
			out[hr] = v.Total
		}
	}
	return out
}

// Stock returns stock per SKU at the stores selected (nil: all), from
// the merged movements of every till, with product names from the
// catalog changes when HQ has them.
func (h *HQ) Stock(ctx context.Context, store *ledger.StoreID) ([]StockLevel, error) {
	names := map[string]hqapi.Product{}
	if cat, err := h.Catalog(ctx); err == nil {
		for _, p := range cat.Products {
			names[p.Product.SKU] = p.Product
		}
	}
	var out []StockLevel
	for _, s := range h.storeList() {
		if store != nil && *store != s.rec.ID {
			continue
		}
		s.viewMu.RLock()
		for sku, q := range s.pub.stock {
			p := names[sku]
			out = append(out, StockLevel{Store: s.rec.ID, SKU: sku, Name: p.Name, Unit: string(p.Unit), Qty: q})
		}
		s.viewMu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Store != out[j].Store {
			return out[i].Store.String() < out[j].Store.String()
		}
		return out[i].SKU < out[j].SKU
	})
	return out, nil
}

// Evidence returns the equivocation evidence HQ keeps for a store.
func (h *HQ) Evidence(ctx context.Context, store ledger.StoreID) ([]Evidence, error) {
	return h.st.Evidence(ctx, store)
}

// Count returns how many events of a store HQ has stored.
func (h *HQ) Count(ctx context.Context, store ledger.StoreID) (uint64, error) {
	return h.st.Count(ctx, store)
}

// Vector returns HQ's version vector of a store.
func (h *HQ) Vector(store ledger.StoreID) ledger.Vector {
	s := h.store(store)
	if s == nil {
		return ledger.Vector{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vector()
}

// PutStaff records a staff change; pin is hashed with argon2id here and
// only the hash travels.
func (h *HQ) PutStaff(ctx context.Context, store *ledger.StoreID, id, name, role, pin, by string) (hqapi.Change, error) {
	if !validStaff(id, name, role) {
		return hqapi.Change{}, fmt.Errorf("%w: staff needs an id ([A-Za-z0-9._-], up to 128), a name and the role cashier, supervisor or manager", ErrInvalid)
	}
	if len(pin) < 4 || len(pin) > 12 || strings.Trim(pin, "0123456789") != "" {
		return hqapi.Change{}, fmt.Errorf("%w: a PIN is 4 to 12 digits", ErrInvalid)
	}
	hash, err := HashSecret(pin)
	if err != nil {
		return hqapi.Change{}, err
	}
	st := hqapi.Staff{ID: id, Name: name, Role: role, PINHash: hash}
	return h.addChange(ctx, hqapi.Change{Store: store, Kind: hqapi.KindStaff, Staff: &st, By: by})
}

func validStaff(id, name, role string) bool {
	return validID(id) && name != "" && len(name) <= 200 && (role == "cashier" || role == "supervisor" || role == "manager")
}

// StaffStatus deactivates (inactive), reactivates, or removes for good
// (removed) a staff member at one store's tills (or every store's, with
// store nil). No PIN travels: the tills keep the one they have, and a
// removal forgets it. At each till the member's sessions end.
func (h *HQ) StaffStatus(ctx context.Context, store *ledger.StoreID, id, name, role string, inactive, removed bool, by string) (hqapi.Change, error) {
	if !validStaff(id, name, role) {
		return hqapi.Change{}, fmt.Errorf("%w: staff needs an id ([A-Za-z0-9._-], up to 128), a name and the role cashier, supervisor or manager", ErrInvalid)
	}
	st := hqapi.Staff{ID: id, Name: name, Role: role, Inactive: inactive && !removed, Removed: removed}
	return h.addChange(ctx, hqapi.Change{Store: store, Kind: hqapi.KindStaff, Staff: &st, By: by})
}

func (h *HQ) addChange(ctx context.Context, c hqapi.Change) (hqapi.Change, error) {
	if c.Store != nil && h.store(*c.Store) == nil {
		return hqapi.Change{}, fmt.Errorf("%w %s", ErrUnknownStore, *c.Store)
	}
	c.At = h.cfg.Now().UnixMilli()
	// One change at a time, so cursors become visible in order.
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.st.AddChange(ctx, c)
	if err != nil {
		return c, err
	}
	if c.Cursor > h.cursor {
		h.cursor = c.Cursor
	}
	h.views.Add(1)  // cost prices (chainreport.go)
	h.catGen.Add(1) // costPrices
	return c, nil
}

// CheckProduct checks a product with ledger/basket's rules for a new or
// edited product (basket.Product.Check), the ones a till applies, so a
// change HQ accepts is one every till stores and finds by barcode.
func CheckProduct(p hqapi.Product) error {
	if err := p.Check(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// validID is the CRDT's key rule (basket.ValidID): 1-128 of
// [A-Za-z0-9._-], starting with a letter or digit.
func validID(s string) bool { return basket.ValidID(s) == nil }

// noteVersions records the tills' releases a relay reports. The caller
// holds s.mu.
func (s *storeState) noteVersions(v map[ledger.TillID]string) {
	for t, rel := range v {
		if rel == "" {
			continue
		}
		if s.versions == nil {
			s.versions = map[ledger.TillID]string{}
		}
		s.versions[t] = rel
	}
}
