package hq

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
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
	seen := map[ledger.TillID]bool{}
	add := func(t ledger.TillID) {
		if seen[t] {
			return
		}
		seen[t] = true
		tv := TillView{Till: t, Seq: s.heads[t].Seq, Head: s.heads[t].ID, Flagged: s.heads[t].Flagged}
		if c := s.certs[t]; c != nil {
			tv.Number, tv.Name = c.Number, c.Name
		}
		tv.RevokedAfter, tv.Revoked = s.revokedAfter(t)
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

// Report returns sales across the stores q selects.
func (h *HQ) Report(q Query) Report {
	rep := Report{Query: q, From: q.From, To: q.To, Total: newReport()}
	days := map[string]*ledger.Report{}
	products := map[string]*ledger.SKUSales{}
	for _, s := range h.storeList() {
		if q.Store != nil && *q.Store != s.rec.ID {
			continue
		}
		s.mu.Lock()
		s.agg.report(q, s.rec, s.certs, &rep, days, products)
		s.mu.Unlock()
	}
	rep.finish(days, products, q.TopN)
	return rep
}

// StoreReport returns one store's totals over every event HQ holds.
func (h *HQ) StoreReport(id ledger.StoreID) (ledger.Report, bool) {
	s := h.store(id)
	if s == nil {
		return ledger.Report{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneReport(&s.agg.total), true
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
	for hr, v := range s.agg.hours {
		out[hr] = v.Total
	}
	return out
}

// Stock returns stock per SKU at the stores selected (nil: all), from
// the merged movements of every till, with product names from the
// catalog changes when HQ has them.
func (h *HQ) Stock(ctx context.Context, store *ledger.StoreID) ([]StockLevel, error) {
	names := map[string]string{}
	if cat, err := h.Catalog(ctx); err == nil {
		for _, p := range cat.Products {
			names[p.Product.SKU] = p.Product.Name
		}
	}
	var out []StockLevel
	for _, s := range h.storeList() {
		if store != nil && *store != s.rec.ID {
			continue
		}
		s.mu.Lock()
		for sku, q := range s.agg.stock {
			out = append(out, StockLevel{Store: s.rec.ID, SKU: sku, Name: names[sku], Qty: q})
		}
		s.mu.Unlock()
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

// CatalogEntry is the newest HQ change of one product or staff member,
// for one store or all.
type CatalogEntry struct {
	Store   *ledger.StoreID `json:"store,omitempty"`
	Cursor  uint64          `json:"cursor"`
	At      int64           `json:"at"`
	By      string          `json:"by,omitempty"`
	Product hqapi.Product   `json:"product,omitzero"`
	Staff   hqapi.Staff     `json:"staff,omitzero"`
}

// Catalog is what HQ has sent down: the newest change of each product and
// staff member.
type Catalog struct {
	Products []CatalogEntry `json:"products"`
	Staff    []CatalogEntry `json:"staff"`
}

// Catalog returns the newest change per product and staff member (and
// store scope).
func (h *HQ) Catalog(ctx context.Context) (Catalog, error) {
	all, err := h.st.AllChanges(ctx, 0, 1<<30)
	if err != nil {
		return Catalog{}, err
	}
	prods := map[string]CatalogEntry{}
	staff := map[string]CatalogEntry{}
	for _, c := range all {
		scope := ""
		if c.Store != nil {
			scope = c.Store.String()
		}
		e := CatalogEntry{Store: c.Store, Cursor: c.Cursor, At: c.At, By: c.By}
		switch {
		case c.Kind == hqapi.KindProduct && c.Product != nil:
			e.Product = *c.Product
			prods[scope+"/"+c.Product.SKU] = e
		case c.Kind == hqapi.KindStaff && c.Staff != nil:
			e.Staff = *c.Staff
			e.Staff.PINHash = ""
			staff[scope+"/"+c.Staff.ID] = e
		}
	}
	out := Catalog{Products: []CatalogEntry{}, Staff: []CatalogEntry{}}
	for _, e := range prods {
		out.Products = append(out.Products, e)
	}
	for _, e := range staff {
		out.Staff = append(out.Staff, e)
	}
	sort.Slice(out.Products, func(i, j int) bool { return out.Products[i].Product.SKU < out.Products[j].Product.SKU })
	sort.Slice(out.Staff, func(i, j int) bool { return out.Staff[i].Staff.ID < out.Staff[j].Staff.ID })
	return out, nil
}

// PutProduct records a catalog or price change for one store (or every
// store, with store nil); relays bring it down into the stores' CRDTs.
func (h *HQ) PutProduct(ctx context.Context, store *ledger.StoreID, p hqapi.Product, by string) (hqapi.Change, error) {
	if err := CheckProduct(p); err != nil {
		return hqapi.Change{}, err
	}
	return h.addChange(ctx, hqapi.Change{Store: store, Kind: hqapi.KindProduct, Product: &p, By: by})
}

// PutStaff records a staff change; pin is hashed with argon2id here and
// only the hash travels.
func (h *HQ) PutStaff(ctx context.Context, store *ledger.StoreID, id, name, role, pin, by string) (hqapi.Change, error) {
	if !validID(id) || name == "" || len(name) > 200 || (role != "cashier" && role != "manager") {
		return hqapi.Change{}, fmt.Errorf("%w: staff needs an id ([A-Za-z0-9._-], up to 128), a name and the role cashier or manager", ErrInvalid)
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
	return c, nil
}

// CheckProduct checks a product with the rules the tills' CRDT applies
// (crdt.Product.Validate), so a change HQ accepts is one every till
// stores.
func CheckProduct(p hqapi.Product) error {
	cp := crdt.Product{SKU: p.SKU, Name: p.Name, Barcodes: p.Barcodes, Price: p.Price, Currency: p.Currency,
		TaxRate: p.TaxRate, Unit: crdt.Unit(p.Unit)}
	if err := cp.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if p.Price > ledger.MaxPrice {
		return fmt.Errorf("%w: product %s: price %d above %d", ErrInvalid, p.SKU, p.Price, int64(ledger.MaxPrice))
	}
	return nil
}

// validID mirrors the CRDT's key rule: 1-128 of [A-Za-z0-9._-], starting
// with a letter or digit.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
