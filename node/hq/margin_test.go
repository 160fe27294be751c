package hq_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// HQ's per-store and chain margins, by hand: bread (7% tax included,
// cost 1.50) sold 2 for 4.98, net 4.65 (4.98/1.07 = 4.654); batteries
// (19%, no cost) 5.99, net 5.03 (5.99/1.19 = 5.034); one bread refunded:
// 2.49 with tax 0.17 (half the line's 0.33, rounded half up), net 2.32,
// and its cost 1.50 back. Costed net 4.65-2.32 = 2.33, cost 1.50, margin
// 0.83, uncosted 5.03, net 7.36. An HQ edit that does not give the cost keeps it.
func TestMarginsAtHQByHand(t *testing.T) {
	ctx := t.Context()
	store := hqtest.NewStore(91, 1)
	h := newHQ(t, backends[0].open(t, backends[0].place(t)), store)
	bread := hqapi.Product{SKU: "bread", Name: "Bread", Price: 249, Currency: "EUR", TaxRate: 700, Unit: ledger.Each, Cost: 150}
	batt := hqapi.Product{SKU: "batt", Name: "Batteries", Price: 599, Currency: "EUR", TaxRate: 1900, Unit: ledger.Each}
	if err := h.PutStoreCatalog(ctx, store.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread, batt}, At: 1}); err != nil {
		t.Fatal(err)
	}
	// A price edit and a whole-product put without a cost keep it.
	if _, err := h.EditProduct(ctx, &store.ID, hqapi.Product{SKU: "bread", Price: 259}, []string{hqapi.FieldPrice}, "admin"); err != nil {
		t.Fatal(err)
	}
	whole := bread
	whole.Cost, whole.Price = 0, 249
	if _, err := h.PutProduct(ctx, &store.ID, whole, "admin"); err != nil {
		t.Fatal(err)
	}
	cat, err := h.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range cat.Products {
		if e.Product.SKU == "bread" && (e.Product.Cost != 150 || e.Product.Price != 249) {
			t.Fatalf("bread after edits without a cost: %+v", e.Product)
		}
	}

	till := store.Tills[0]
	st := ledger.NewState(store.ID)
	var evs []*ledger.Event
	next := func(b ledger.Body) *ledger.Event {
		ev := till.MustNext(b, day0+int64(len(evs))*1000)
		if _, err := st.Apply(ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
		return ev
	}
	next(&ledger.ShiftOpen{Currency: "EUR", Float: 1000, Staff: "1"})
	sale := next(&ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "1",
		Lines:   []ledger.Line{{SKU: "bread", Qty: 2, UnitPrice: 249, TaxRate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 498}}})
	next(&ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "1",
		Lines:   []ledger.Line{{SKU: "batt", Qty: 1, UnitPrice: 599, TaxRate: 1900}},
		Tenders: []ledger.Tender{{Kind: ledger.Card, Amount: 599}}})
	lines, err := st.Fold().RefundLines(sale.ID(), []ledger.Pick{{Line: 0, Qty: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if lines[0].Amount != 249 || lines[0].Tax != 17 {
		t.Fatalf("refund line %+v, want 2.49 with tax 0.17", lines[0])
	}
	next(&ledger.Refund{Sale: sale.ID(), Currency: "EUR", Lines: lines, Staff: "1",
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 249}}})
	res, err := h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: 1, Events: raws(evs), Certs: store.EncodedCerts()})
	if err != nil || res.Accepted != len(evs) {
		t.Fatalf("ingest: %+v %v", res, err)
	}

	rep := h.Report(hq.Query{})
	if len(rep.Stores) != 1 {
		t.Fatalf("stores: %+v", rep.Stores)
	}
	for name, m := range map[string]struct{ net, costed, cost, margin, uncosted ledger.Money }{
		"store": {rep.Stores[0].Margin.Net, rep.Stores[0].Margin.Costed, rep.Stores[0].Margin.Cost, rep.Stores[0].Margin.Margin, rep.Stores[0].Margin.Uncosted},
		"chain": {rep.Margin.Net, rep.Margin.Costed, rep.Margin.Cost, rep.Margin.Margin, rep.Margin.Uncosted},
	} {
		if m.net != 736 || m.costed != 233 || m.cost != 150 || m.margin != 83 || m.uncosted != 503 {
			t.Errorf("%s margin %+v; want net 7.36, costed 2.33, cost 1.50, margin 0.83, uncosted 5.03", name, m)
		}
	}
}

// HQ refuses a cost price below zero, above ledger.MaxPrice or not in
// the store's smallest amount, and nothing is recorded.
func TestHQRefusesBadCostPrice(t *testing.T) {
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger, cfg.Currency, cfg.SmallestAmount = backends[0].open(t, backends[0].place(t)), quiet(), "UZS", 100
	h, err := hq.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for cost, want := range map[ledger.Money]string{
		-100:                "cost price -100 not in",
		ledger.MaxPrice + 1: "cost price",
		4050:                "cost price of non UZS\u00a04,050: not a multiple of UZS\u00a0100",
	} {
		p := hqapi.Product{SKU: "non", Name: "Non", Price: 4000, Currency: "UZS", Unit: ledger.Each, Cost: cost}
		if _, err := h.EditProduct(t.Context(), nil, p, nil, "boss"); !errors.Is(err, hq.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("cost %d: %v; want ErrInvalid saying %q", cost, err, want)
		}
	}
	if cat, err := h.Catalog(t.Context()); err != nil || len(cat.Products) != 0 {
		t.Fatalf("after refused costs: %+v %v; want an empty catalog", cat.Products, err)
	}
	p := hqapi.Product{SKU: "non", Name: "Non", Price: 4000, Currency: "UZS", Unit: ledger.Each, Cost: 2500}
	if c, err := h.EditProduct(t.Context(), nil, p, nil, "boss"); err != nil || c.Product.Cost != 2500 {
		t.Fatalf("a good cost: %+v %v", c.Product, err)
	}
}

// changeCounter counts the change-log reads of a Badger HQ's storage.
type changeCounter struct {
	hq.Storage
	reads    atomic.Int64
	catReads atomic.Int64 // StoreCatalogs
	fail     atomic.Bool  // the next reads fail
}

func (c *changeCounter) AllChanges(ctx context.Context, after uint64, limit int) ([]hqapi.Change, error) {
	c.reads.Add(1)
	if c.fail.Load() {
		return nil, errors.New("storage unreachable")
	}
	return c.Storage.AllChanges(ctx, after, limit)
}

func (c *changeCounter) Exclusive() bool { return c.Storage.(hq.Exclusive).Exclusive() }

func (c *changeCounter) StoreCatalogs(ctx context.Context) (map[ledger.StoreID]hqapi.StoreCatalog, error) {
	c.catReads.Add(1)
	if c.fail.Load() {
		return nil, errors.New("storage unreachable")
	}
	return c.Storage.(hq.StoreCatalogLister).StoreCatalogs(ctx)
}

// On Badger stock health keeps the stores' catalogs it read until the
// catalog changes here: the dashboard asking it again and again while
// relays upload reads no storage (a read transaction waits for the
// uploads' commits in flight), and a store's new catalog is in the very
// next answer.
func TestStockHealthKeepsCatalogsUntilTheyChange(t *testing.T) {
	ctx := t.Context()
	a, b := hqtest.NewStore(93, 1), hqtest.NewStore(94, 1)
	st := &changeCounter{Storage: backends[0].open(t, backends[0].place(t))}
	h := newHQ(t, st, a, b)
	bread := hqapi.Product{SKU: "bread", Name: "Bread", Price: 249, Currency: "EUR", TaxRate: 700, Unit: ledger.Each, Reorder: 5}
	if err := h.PutStoreCatalog(ctx, a.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread}, At: 1}); err != nil {
		t.Fatal(err)
	}
	low := func(id ledger.StoreID, want int64) {
		t.Helper()
		for _, one := range []*ledger.StoreID{nil, &id} {
			sh, err := h.StockHealth(ctx, one)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sh {
				if s.Store != id {
					continue
				}
				if len(s.Low) != 1 || s.Low[0].Reorder != want {
					t.Fatalf("store %s low stock %+v, want bread at reorder point %d", id, s.Low, want)
				}
			}
		}
	}
	low(a.ID, 5)
	before := st.catReads.Load()
	for range 3 {
		low(a.ID, 5)
	}
	if n := st.catReads.Load() - before; n != 0 {
		t.Fatalf("six stock health answers with the catalogs unchanged read them %d times, want 0", n)
	}
	bread.Reorder = 8
	if err := h.PutStoreCatalog(ctx, a.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread}, At: 2}); err != nil {
		t.Fatal(err)
	}
	low(a.ID, 8)
	if n := st.catReads.Load() - before; n != 1 {
		t.Fatalf("stock health after a store's catalog came read the catalogs %d times, want 1", n)
	}
	// A read that failed is an error, and is not kept.
	bread.Reorder = 9
	if err := h.PutStoreCatalog(ctx, b.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread}, At: 3}); err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	if _, err := h.StockHealth(ctx, nil); err == nil {
		t.Fatal("stock health with the catalogs unreadable: no error")
	}
	st.fail.Store(false)
	low(b.ID, 9)
	low(a.ID, 8)
}

// On Badger the cost prices a report reads are kept until the catalog
// changes: reports in a row read the catalog once, and a cost edit or a
// store's catalog is in the very next report.
func TestCostPricesKeptUntilTheCatalogChanges(t *testing.T) {
	ctx := t.Context()
	store := hqtest.NewStore(92, 1)
	st := &changeCounter{Storage: backends[0].open(t, backends[0].place(t))}
	h := newHQ(t, st, store)
	bread := hqapi.Product{SKU: "bread", Name: "Bread", Price: 249, Currency: "EUR", TaxRate: 700, Unit: ledger.Each, Cost: 150}
	if err := h.PutStoreCatalog(ctx, store.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread}, At: 1}); err != nil {
		t.Fatal(err)
	}
	till := store.Tills[0]
	sale := till.MustNext(&ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "1",
		Lines:   []ledger.Line{{SKU: "bread", Qty: 2, UnitPrice: 249, TaxRate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 498}}}, day0)
	if res, err := h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: 1, Events: raws([]*ledger.Event{sale}), Certs: store.EncodedCerts()}); err != nil || res.Accepted != 1 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	cost := func(want ledger.Money) {
		t.Helper()
		rep := h.Report(hq.Query{Store: &store.ID})
		if len(rep.Stores) != 1 || rep.Stores[0].Margin.Cost != want {
			t.Fatalf("store's cost of goods %+v, want %d", rep.Stores, want)
		}
	}
	cost(300)
	before := st.reads.Load()
	for range 3 {
		cost(300)
	}
	if n := st.reads.Load() - before; n != 0 {
		t.Fatalf("three reports with the catalog unchanged read the change log %d times, want 0", n)
	}
	if _, err := h.EditProduct(ctx, &store.ID, hqapi.Product{SKU: "bread", Cost: 100}, []string{hqapi.FieldCost}, "admin"); err != nil {
		t.Fatal(err)
	}
	cost(200)
	// A store's catalog sent by its relay is read by the next report.
	before = st.reads.Load()
	bread.Cost = 120
	if err := h.PutStoreCatalog(ctx, store.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread}, At: 2}); err != nil {
		t.Fatal(err)
	}
	cost(200) // HQ's edit stays over what the store sends
	if n := st.reads.Load() - before; n != 1 {
		t.Fatalf("the report after a store's catalog came read the change log %d times, want 1", n)
	}
	// A catalog that could not be read gives no costs to that report
	// and is not kept: the next report reads it again.
	if _, err := h.EditProduct(ctx, &store.ID, hqapi.Product{SKU: "bread", Cost: 110}, []string{hqapi.FieldCost}, "admin"); err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	cost(0)
	st.fail.Store(false)
	cost(220)
}
