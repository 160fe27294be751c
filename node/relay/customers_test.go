package relay_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/node/relay"
)

// custInventory is a store's CRDT for the customer flow: the fake
// inventory plus customers merged as crdt.Store merges them.
type custInventory struct {
	*fakeInventory
	cmu    sync.Mutex
	edits  map[string][]crdt.FieldEdit
	erased map[string]bool
	ver    uint64
	vers   map[string]uint64
}

func newCustInventory(f *fakeInventory) *custInventory {
	return &custInventory{fakeInventory: f, edits: map[string][]crdt.FieldEdit{}, erased: map[string]bool{}, vers: map[string]uint64{}}
}

func (c *custInventory) CustomersChangedSince(v uint64) ([]string, uint64) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	var out []string
	for n, at := range c.vers {
		if at > v {
			out = append(out, n)
		}
	}
	return out, c.ver
}

func (c *custInventory) CustomerEdits(n string) (crdt.Customer, []crdt.FieldEdit, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.erased[n] {
		return crdt.Customer{Number: n, Erased: true}, nil, nil
	}
	es, ok := c.edits[n]
	if !ok {
		return crdt.Customer{}, nil, crdt.ErrNotFound
	}
	return crdt.MergeCustomer(n, es), slices.Clone(es), nil
}

func (c *custInventory) EditCustomer(_ context.Context, n string, edits []crdt.FieldEdit) (int, error) {
	for _, e := range edits {
		if err := e.Check(); err != nil {
			return 0, err
		}
	}
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.erased[n] {
		return 0, crdt.ErrErased
	}
	merged := crdt.MergeEdits(c.edits[n], edits)
	if slices.Equal(merged, c.edits[n]) {
		return 0, nil
	}
	c.edits[n] = merged
	c.ver++
	c.vers[n] = c.ver
	return len(edits), nil
}

func (c *custInventory) EraseCustomer(_ context.Context, n string, _ ledger.HLC, _ string) error {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.erased[n] {
		return nil
	}
	c.erased[n] = true
	delete(c.edits, n)
	c.ver++
	c.vers[n] = c.ver
	return nil
}

func (c *custInventory) get(n string) (crdt.Customer, bool) {
	cu, _, err := c.CustomerEdits(n)
	return cu, err == nil
}

func edit(f crdt.CustomerField, v string, wall int64, by string) crdt.FieldEdit {
	return crdt.FieldEdit{Field: f, Value: v, At: ledger.HLC{Wall: wall}, By: by}
}

// TestCustomersFlowAcrossStores: a customer registered in store A is
// found in store B through HQ; an edit at B comes back to A; an old edit
// made at A loses; an erasure at HQ reaches both stores, and a late edit
// from a store cannot bring the data back at HQ.
func TestCustomersFlowAcrossStores(t *testing.T) {
	sa, sb := hqtest.NewStore(60, 1), hqtest.NewStore(61, 1)
	srv := newHQServer(t, sa, sb)
	var ia, ib *custInventory
	ma := newMesh(t, sa, srv, func(c *relay.Config) { ia = newCustInventory(c.Inventory.(*fakeInventory)); c.Inventory = ia })
	mb := newMesh(t, sb, srv, func(c *relay.Config) { ib = newCustInventory(c.Inventory.(*fakeInventory)); c.Inventory = ib })
	ctx := t.Context()
	const num = "482019376154"
	if _, err := ia.EditCustomer(ctx, num, []crdt.FieldEdit{
		edit(crdt.FieldName, "Anna Meier", 1000, "a1"), edit(crdt.FieldPhone, "0171 5550101", 1000, "a1"), edit(crdt.FieldCard, "LOY-1", 1000, "a1"),
	}); err != nil {
		t.Fatal(err)
	}
	ma.start(t)
	mb.start(t)
	waitFor(t, "the customer in store B", 10*time.Second, func() bool {
		c, ok := ib.get(num)
		return ok && c.Name == "Anna Meier" && c.Card == "LOY-1"
	})
	// B edits the phone later by the clock; A edits it earlier (offline, say).
	if _, err := ib.EditCustomer(ctx, num, []crdt.FieldEdit{edit(crdt.FieldPhone, "0171 5550199", 3000, "b1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ia.EditCustomer(ctx, num, []crdt.FieldEdit{edit(crdt.FieldPhone, "0171 5550000", 2000, "a1")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both stores on B's phone", 10*time.Second, func() bool {
		ca, _ := ia.get(num)
		cb, _ := ib.get(num)
		return ca.Phone == "0171 5550199" && cb.Phone == "0171 5550199"
	})
	if got, err := srv.SearchCustomers(ctx, "Anna", 10); err != nil || len(got) != 1 || got[0].Phone != "0171 5550199" {
		t.Fatalf("HQ search: %+v, %v", got, err)
	}

	// HQ erases her; both stores erase, and HQ keeps only the number.
	if err := srv.EraseCustomer(ctx, num, "admin"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "erased in both stores", 10*time.Second, func() bool {
		ca, _ := ia.get(num)
		cb, _ := ib.get(num)
		return ca.Erased && cb.Erased
	})
	got, err := srv.SearchCustomers(ctx, num, 10)
	if err != nil || len(got) != 1 || got[0] != (hq.CustomerView{Number: num, Erased: true}) {
		t.Fatalf("HQ after erasure: %+v, %v", got, err)
	}
	// A late edit from a store that missed the erasure changes nothing at HQ.
	if n, err := srv.PutCustomers(ctx, sb.ID, customerRecord(num, "Anna Back", 9000)); err != nil || n != 0 {
		t.Fatalf("late edit at HQ: %d changed, %v", n, err)
	}
	if got, _ := srv.SearchCustomers(ctx, "Anna", 10); len(got) != 0 {
		t.Fatalf("HQ search after a late edit: %+v", got)
	}
	// Malformed input: nothing stored.
	if _, err := srv.PutCustomers(ctx, sb.ID, customerRecord("bad/number", "X", 1)); err == nil {
		t.Fatal("a malformed number was accepted")
	}
	if got, _ := srv.SearchCustomers(ctx, "", 10); len(got) != 1 {
		t.Fatalf("HQ holds %d customers, want 1: %+v", len(got), got)
	}
}

func customerRecord(num, name string, wall int64) []hqapi.CustomerRecord {
	return []hqapi.CustomerRecord{{Number: num, Edits: []hqapi.CustomerEdit{{Field: "name", Value: name, Wall: wall, By: "b1"}}}}
}
