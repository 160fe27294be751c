package ui_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/ui"
)

// fakeTill is a Till with a real ledger state (signed events, folds,
// CheckLocal) and an in-memory catalog, settings and staff list with
// plain PINs. Till 1 is this till; till 2 is a peer whose sales arrive
// through addPeerSale.
type fakeTill struct {
	mu       sync.Mutex
	store    ledger.StoreID
	self     *ledgertest.Till
	peer     *ledgertest.Till
	state    *ledger.State
	idem     map[string]*ledger.Event
	events   map[ledger.TillID]map[uint64]*ledger.Event
	products map[string]ui.Product
	settings map[string]string
	staff    map[string]fakeStaff
	watchers []chan ui.Change
	now      int64
	sells    int
	auths    int
	authGate chan struct{} // when set, Authenticate waits for it to close
	// refuse makes Record refuse a kind with this error, as the kind gate
	// does while a till of the store runs an older release.
	refuse map[ledger.Kind]error
}

type fakeStaff struct {
	m   ui.StaffMember
	pin string
}

func newFakeTill() *fakeTill {
	var store ledger.StoreID
	store[0] = 7
	f := &fakeTill{store: store, self: ledgertest.NewTill(store, 1, 1), peer: ledgertest.NewTill(store, 2, 2),
		state: ledger.NewState(store), idem: map[string]*ledger.Event{}, events: map[ledger.TillID]map[uint64]*ledger.Event{},
		products: map[string]ui.Product{}, settings: map[string]string{}, staff: map[string]fakeStaff{}, now: 1_750_000_000_000}
	for _, p := range []ui.Product{
		{SKU: "1001", Name: "Milk", Barcodes: []string{"4000000100010"}, Price: 119, Currency: "EUR", TaxRate: 700, Unit: ledger.Each},
		{SKU: "1002", Name: "Bread", Barcodes: []string{"4000000100027"}, Price: 249, Currency: "EUR", TaxRate: 700, Unit: ledger.Each},
		{SKU: "2001", Name: "Batteries", Barcodes: []string{"4000000200017"}, Price: 599, Currency: "EUR", TaxRate: 1900, Unit: ledger.Each},
		{SKU: "3001", Name: "Apples", Barcodes: []string{"4000000300014"}, Price: 299, Currency: "EUR", TaxRate: 700, Unit: ledger.Kilogram},
	} {
		f.products[p.SKU] = p
	}
	f.staff["1"] = fakeStaff{ui.StaffMember{ID: "1", Name: "Maria", Role: ui.RoleManager}, "1234"}
	f.staff["2"] = fakeStaff{ui.StaffMember{ID: "2", Name: "Carl", Role: ui.RoleCashier}, "0000"}
	f.staff["3"] = fakeStaff{ui.StaffMember{ID: "3", Name: "Sue", Role: ui.RoleSupervisor}, "3333"}
	return f
}

func (f *fakeTill) Self() ui.TillInfo {
	return ui.TillInfo{ID: f.self.ID, Number: 1, Name: "Till 1", Store: "Fake Store"}
}

func (f *fakeTill) TillNumber(id ledger.TillID) uint32 {
	switch id {
	case f.self.ID:
		return 1
	case f.peer.ID:
		return 2
	}
	return 0
}

func (f *fakeTill) TillByNumber(n uint32) (ledger.TillID, bool) {
	switch n {
	case 1:
		return f.self.ID, true
	case 2:
		return f.peer.ID, true
	}
	return ledger.TillID{}, false
}

func (f *fakeTill) apply(ev *ledger.Event) {
	if _, err := f.state.Apply(ev); err != nil {
		panic(err)
	}
	m := f.events[ev.Till]
	if m == nil {
		m = map[uint64]*ledger.Event{}
		f.events[ev.Till] = m
	}
	m[ev.Seq] = ev
	for sku := range ledger.Movements(ev) {
		f.notify(ui.Change{Kind: ui.ChangeStock, ID: sku})
	}
}

func (f *fakeTill) notify(c ui.Change) {
	for _, w := range f.watchers {
		select {
		case w <- c:
		default:
		}
	}
}

func (f *fakeTill) Record(_ context.Context, body ledger.Body, idem string) (*ledger.Event, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recordLocked(body, idem)
}

func (f *fakeTill) recordLocked(body ledger.Body, idem string) (*ledger.Event, bool, error) {
	if err := f.refuse[body.Kind()]; err != nil {
		return nil, false, err
	}
	if ev := f.idem[idem]; ev != nil {
		if ev.Kind() != body.Kind() {
			return nil, false, fmt.Errorf("%w: key %q made a %s", ui.ErrConflict, idem, ev.Kind())
		}
		return ev, true, nil
	}
	f.now += 1000
	ev := &ledger.Event{Store: f.store, Till: f.self.ID, Seq: f.self.Seq + 1, Prev: f.self.Prev, Time: f.self.Clock.Next(f.now), Body: body, Key: idem}
	if err := f.state.CheckLocal(ev); err != nil {
		return nil, false, err
	}
	ev, err := f.self.Next(body, f.now, idem)
	if err != nil {
		return nil, false, err
	}
	f.apply(ev)
	f.idem[idem] = ev
	return ev, false, nil
}

// addPeerSale records a sale at till 2 as if it arrived from the mesh.
func (f *fakeTill) addPeerSale(s *ledger.Sale) *ledger.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now += 1000
	ev, err := f.peer.Next(s, f.now, fmt.Sprintf("peer-%d", f.peer.Seq+1))
	if err != nil {
		panic(err)
	}
	f.apply(ev)
	return ev
}

func (f *fakeTill) Replay(idem string) (*ledger.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idem[idem], nil
}

func (f *fakeTill) Event(till ledger.TillID, seq uint64) (*ledger.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev := f.events[till][seq]; ev != nil {
		return ev, nil
	}
	return nil, fmt.Errorf("%w: event %d", ui.ErrNotFound, seq)
}

func (f *fakeTill) View(fn func(*ledger.State)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.state)
}

func (f *fakeTill) productLocked(l ui.SaleLine) (ui.Product, error) {
	if l.Barcode != "" {
		for _, p := range f.products {
			if slices.Contains(p.Barcodes, l.Barcode) {
				return p, nil
			}
		}
		return ui.Product{}, fmt.Errorf("%w: unknown barcode %q", ui.ErrBadRequest, l.Barcode)
	}
	p, ok := f.products[l.SKU]
	if !ok {
		return ui.Product{}, fmt.Errorf("%w: unknown sku %q", ui.ErrBadRequest, l.SKU)
	}
	return p, nil
}

// Sell prices like node.Sell: ledger/basket's rules over catalog prices,
// tax included, change from cash.
func (f *fakeTill) Sell(_ context.Context, r ui.SaleRequest) (*ledger.Event, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev := f.idem[r.IdempotencyKey]; ev != nil {
		return ev, true, nil
	}
	s, err := r.Sale(f.productLocked)
	if err != nil {
		return nil, false, err
	}
	ev, existing, err := f.recordLocked(s, r.IdempotencyKey)
	if err != nil {
		return nil, false, err
	}
	f.sells++
	return ev, existing, nil
}

func (f *fakeTill) Stock(_ context.Context, sku string) (ui.StockLevel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.products[sku]
	if !ok {
		return ui.StockLevel{}, fmt.Errorf("%w: sku %q", ui.ErrNotFound, sku)
	}
	st := ui.StockLevel{SKU: sku, Name: p.Name, Slots: map[string]int64{}}
	for till, q := range f.state.Fold().Stock(sku) {
		st.Slots[fmt.Sprint(f.TillNumber(till))] += q
		st.Total += q
	}
	return st, nil
}

func (f *fakeTill) AllStock(ctx context.Context) ([]ui.StockLevel, error) {
	var out []ui.StockLevel
	for _, sku := range []string{"1001", "1002", "2001", "3001"} {
		st, _ := f.Stock(ctx, sku)
		out = append(out, st)
	}
	return out, nil
}

func (f *fakeTill) Product(_ context.Context, sku string) (ui.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.products[sku]
	if !ok {
		return ui.Product{}, fmt.Errorf("%w: sku %q", ui.ErrNotFound, sku)
	}
	return p, nil
}

func (f *fakeTill) ProductByBarcode(_ context.Context, code string) (ui.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.products {
		if slices.Contains(p.Barcodes, code) {
			return p, nil
		}
	}
	return ui.Product{}, fmt.Errorf("%w: barcode %s", ui.ErrNotFound, code)
}

func (f *fakeTill) SearchProducts(_ context.Context, q string, limit int) ([]ui.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ui.Product
	for _, sku := range []string{"1001", "1002", "2001", "3001", "9001"} {
		p, ok := f.products[sku]
		if ok && (strings.Contains(strings.ToLower(p.Name), strings.ToLower(q)) || strings.Contains(p.SKU, q)) {
			out = append(out, p)
		}
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

func (f *fakeTill) PutProduct(_ context.Context, p ui.Product) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.products[p.SKU] = p
	f.notify(ui.Change{Kind: ui.ChangeProduct, ID: p.SKU})
	return nil
}

func (f *fakeTill) Setting(_ context.Context, name string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.settings[name]
	return v, ok, nil
}

func (f *fakeTill) PutSetting(_ context.Context, name, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settings[name] = value
	return nil
}

func (f *fakeTill) Watch(ctx context.Context) <-chan ui.Change {
	ch := make(chan ui.Change, 64)
	f.mu.Lock()
	f.watchers = append(f.watchers, ch)
	f.mu.Unlock()
	out := make(chan ui.Change)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-ch:
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func (f *fakeTill) Authenticate(_ context.Context, id, pin string) (ui.StaffMember, error) {
	f.mu.Lock()
	gate := f.authGate
	f.mu.Unlock()
	if gate != nil {
		<-gate // a slow hash: PIN checks wait until the test opens the gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auths++
	s, ok := f.staff[id]
	if !ok || s.pin != pin || s.m.Inactive || s.m.Removed {
		return ui.StaffMember{}, ui.ErrBadCredentials
	}
	return s.m, nil
}

func (f *fakeTill) StaffList(context.Context) ([]ui.StaffMember, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ui.StaffMember
	for _, s := range f.staff {
		out = append(out, s.m)
	}
	return out, nil
}

func (f *fakeTill) RemoveStaff(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.staff[id]
	if !ok {
		return fmt.Errorf("%w: staff %s", ui.ErrNotFound, id)
	}
	s.m.Removed, s.pin = true, ""
	f.staff[id] = s
	f.notify(ui.Change{Kind: ui.ChangeStaff, ID: id})
	return nil
}

func (f *fakeTill) PutStaff(_ context.Context, m ui.StaffMember, pin string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.staff[m.ID]
	if ok && old.m.Removed {
		return fmt.Errorf("%w: staff %s was removed", ui.ErrConflict, m.ID)
	}
	if pin == "" {
		if !ok {
			return fmt.Errorf("%w: new staff needs a PIN", ui.ErrBadRequest)
		}
		pin = old.pin
	}
	f.staff[m.ID] = fakeStaff{m, pin}
	f.notify(ui.Change{Kind: ui.ChangeStaff, ID: m.ID})
	return nil
}

func (f *fakeTill) Status(context.Context) ui.Status {
	return ui.Status{Till: "peer", Number: 1, Peers: []ui.Peer{}, HQ: ui.HQStatus{Note: "no HQ configured yet"}}
}

func (f *fakeTill) sales() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ev := range f.events[f.self.ID] {
		if ev.Kind() == ledger.KindSale {
			n++
		}
	}
	return n
}

func (f *fakeTill) eventCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events[f.self.ID])
}

// Reprint pretends to print a copy.
func (f *fakeTill) Reprint(context.Context, ledger.EventID) error { return nil }

// setStaff changes a member as a merge from a peer would: no API call.
func (f *fakeTill) setStaff(id string, edit func(*ui.StaffMember)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.staff[id]
	edit(&s.m)
	f.staff[id] = s
}

// fakeSetup is a fakeTill with the first-run set-up: code is its
// one-time code ("" once used).
type fakeSetup struct {
	*fakeTill
	code string
}

func (f *fakeSetup) SetupOpen(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.staff {
		if s.m.Role == ui.RoleManager && !s.m.Inactive && !s.m.Removed {
			return false, nil
		}
	}
	return true, nil
}

func (f *fakeSetup) FirstManager(ctx context.Context, code string, m ui.StaffMember, pin string) error {
	if open, _ := f.SetupOpen(ctx); !open {
		f.code = ""
		return ui.ErrSetupDone
	}
	if f.code == "" || code != f.code {
		return ui.ErrWrongCode
	}
	m.Role = ui.RoleManager
	if err := f.PutStaff(ctx, m, pin); err != nil {
		return err
	}
	f.code = ""
	return nil
}
