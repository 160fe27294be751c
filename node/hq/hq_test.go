package hq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func quiet() *slog.Logger { return testkit.Quiet() }

// backend is one storage implementation: place makes a fresh empty
// location (a directory, a schema) and open opens it; open may be called
// again on the same place after the first storage was closed.
type backend struct {
	name  string
	place func(tb testing.TB) string
	open  func(tb testing.TB, place string) hq.Storage
}

var backends = []backend{
	{"badger",
		func(tb testing.TB) string { return tb.TempDir() },
		func(tb testing.TB, dir string) hq.Storage {
			st, err := hq.OpenBadger(dir, quiet())
			if err != nil {
				tb.Fatal(err)
			}
			return closeOnce(tb, st)
		}},
	{"postgres",
		func(tb testing.TB) string { return postgresDSN(tb) },
		func(tb testing.TB, dsn string) hq.Storage {
			st, err := hq.OpenPostgres(context.Background(), dsn, 4)
			if err != nil {
				tb.Fatal(err)
			}
			return closeOnce(tb, st)
		}},
}

type onceCloser struct {
	hq.Storage
	once sync.Once
}

// Exclusive and RollupGens are the wrapped storage's, as HQ would find
// them unwrapped (chainreport.go).
func (o *onceCloser) Exclusive() bool {
	e, ok := o.Storage.(hq.Exclusive)
	return ok && e.Exclusive()
}

func (o *onceCloser) RollupGens(ctx context.Context) (map[ledger.StoreID]uint64, error) {
	if l, ok := o.Storage.(hq.RollupGenLister); ok {
		return l.RollupGens(ctx)
	}
	return nil, errors.New("storage lists no rollup generations")
}

func (o *onceCloser) Revocations(ctx context.Context, store *ledger.StoreID) ([]hqapi.Change, error) {
	if r, ok := o.Storage.(hq.RevocationReader); ok {
		return r.Revocations(ctx, store)
	}
	return nil, errors.New("storage reads no revocations")
}

func (o *onceCloser) StoreCatalogs(ctx context.Context) (map[ledger.StoreID]hqapi.StoreCatalog, error) {
	return o.Storage.(hq.StoreCatalogLister).StoreCatalogs(ctx)
}

func (o *onceCloser) Close() error {
	var err error
	o.once.Do(func() { err = o.Storage.Close() })
	return err
}

func closeOnce(tb testing.TB, st hq.Storage) hq.Storage {
	o := &onceCloser{Storage: st}
	tb.Cleanup(func() { o.Close() })
	return o
}

// eachBackend runs the same behaviour test against every storage.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

func newHQ(t testing.TB, st hq.Storage, stores ...*hqtest.Store) *hq.HQ {
	t.Helper()
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger = st, quiet()
	h, err := hq.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.StopRefreshes) // before the storage, opened earlier, is closed
	for _, s := range stores {
		if err := h.RegisterStore(context.Background(), s.ID, s.Name, s.CAPublic()); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func raws(evs []*ledger.Event) [][]byte {
	out := make([][]byte, len(evs))
	for i, ev := range evs {
		out[i] = ev.Bytes()
	}
	return out
}

const day0 = int64(1_767_225_600_000) // 2026-01-01T00:00:00Z

// checkFold asserts that HQ's figures for the store equal the fold of
// the reference ledger state.
func checkFold(t *testing.T, h *hq.HQ, id ledger.StoreID, want *ledger.State) {
	t.Helper()
	f := want.Fold()
	got, ok := h.StoreReport(id)
	if !ok {
		t.Fatal("store unknown at HQ")
	}
	if w := f.StoreReport(); !reflect.DeepEqual(got, w) {
		t.Errorf("store report:\n got %+v\nwant %+v", got, w)
	}
	if g, w := h.SalesByHour(id), f.SalesByHour(); !reflect.DeepEqual(g, w) {
		t.Errorf("sales by hour: got %v, want %v", g, w)
	}
	rep := h.Report(hq.Query{Store: &id, TopN: 1000})
	if w := f.TopProducts(1000); !reflect.DeepEqual(rep.Products, w) {
		t.Errorf("products:\n got %+v\nwant %+v", rep.Products, w)
	}
	// The report reads the published copy (snapshot.go): its hours too.
	pubHours := map[int64]ledger.Money{}
	for _, hs := range rep.Hours {
		pubHours[hs.Hour] += hs.Total
	}
	if w := f.SalesByHour(); !reflect.DeepEqual(pubHours, w) {
		t.Errorf("report's sales by hour: got %v, want %v", pubHours, w)
	}
	stock, err := h.Stock(context.Background(), &id)
	if err != nil {
		t.Fatal(err)
	}
	gotStock := map[string]int64{}
	for _, s := range stock {
		gotStock[s.SKU] = s.Qty
	}
	wantStock := map[string]int64{}
	for _, sku := range f.SKUs() {
		wantStock[sku] = f.StockTotal(sku)
	}
	if !reflect.DeepEqual(gotStock, wantStock) {
		t.Errorf("stock: got %v, want %v", gotStock, wantStock)
	}
	if g, w := h.Vector(id), want.Vector(); !g.Equal(w) {
		t.Errorf("vector: got %v, want %v", g, w)
	}
	var tills int
	var sales int
	for _, tr := range rep.Tills {
		tills++
		sales += tr.Report.Sales
		if w := f.TillReport(tr.Till); !reflect.DeepEqual(tr.Report, w) {
			t.Errorf("till %d report:\n got %+v\nwant %+v", tr.Number, tr.Report, w)
		}
	}
	if sales != got.Sales {
		t.Errorf("tills' sales add up to %d, store has %d", sales, got.Sales)
	}
}

func TestIngestDedupAndReports(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(10, 3)
		place := b.place(t)
		st := b.open(t, place)
		h := newHQ(t, st, store)
		w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(1, 2)))
		evs := w.Sales(600, day0, 97_000) // about 16 hours of trading
		rng := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < len(evs); i += 200 {
			batch := append([]*ledger.Event(nil), evs[i:i+200]...)
			rng.Shuffle(len(batch), func(a, b int) { batch[a], batch[b] = batch[b], batch[a] })
			u := &hqapi.Upload{Fence: 1, Events: raws(batch)}
			if i == 0 {
				u.Certs = store.EncodedCerts()
			}
			res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, u)
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != 200 || len(res.Rejected) != 0 || len(res.CertErrors) != 0 {
				t.Fatalf("batch %d: accepted %d, rejected %+v, cert errors %+v", i/200, res.Accepted, res.Rejected, res.CertErrors)
			}
		}
		// The same events again: duplicates, nothing changes.
		res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Events: raws(evs[100:300])})
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != 0 || res.Duplicates != 200 || len(res.Rejected) != 0 {
			t.Fatalf("re-upload: accepted %d, duplicates %d, rejected %+v", res.Accepted, res.Duplicates, res.Rejected)
		}
		if n, err := h.Count(ctx, store.ID); err != nil || n != 600 {
			t.Fatalf("stored %d events (%v), want 600", n, err)
		}
		checkFold(t, h, store.ID, w.State)

		// A restarted HQ rebuilds the same figures from storage.
		st.Close()
		h2 := newHQ(t, b.open(t, place))
		checkFold(t, h2, store.ID, w.State)
	})
}

// snapshot is everything a rejected upload must leave unchanged.
type snapshot struct {
	count    uint64
	vector   ledger.Vector
	report   ledger.Report
	evidence int
	flagged  int
}

func snap(t *testing.T, h *hq.HQ, id ledger.StoreID) snapshot {
	t.Helper()
	n, err := h.Count(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := h.Evidence(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := h.StoreReport(id)
	v, _ := h.Store(id)
	return snapshot{count: n, vector: h.Vector(id), report: rep, evidence: len(ev), flagged: v.Flagged}
}

// mutate re-encodes an event with f applied to its fields, keeping the
// signature: the result is canonical but no longer what the till signed.
func mutate(t *testing.T, ev *ledger.Event, f func(*ledger.Event)) []byte {
	t.Helper()
	c := *ev
	f(&c)
	b, err := hqtest.Reencode(&c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRejections(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(20, 2)
		other := hqtest.NewStore(30, 1) // another store, another CA
		h := newHQ(t, b.open(t, b.place(t)), store, other)
		w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(5, 6)))
		evs := w.Sales(40, day0, 60_000) // 20 per till
		relay := store.Tills[0].ID
		res, err := h.Ingest(ctx, store.ID, relay, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts(), Events: raws(evs[:20])})
		if err != nil || res.Accepted != 20 {
			t.Fatalf("first upload: %+v %v", res, err)
		}
		next := evs[20] // till 0's seq 11
		if next.Till != store.Tills[0].ID || next.Seq != 11 {
			t.Fatalf("fixture: event 20 is till %s seq %d", next.Till.Short(), next.Seq)
		}
		forged := append([]byte(nil), next.Bytes()...)
		forged[len(forged)-1] ^= 0x55 // last byte of the signature

		// A till enrolled under another CA: its events are unenrolled here.
		stranger := hqtest.NewStore(40, 1)
		stranger.ID = store.ID
		stranger.Tills[0].Store = store.ID
		strangerCert := stranger.Tills[0].Certificate(stranger.CA, "Stranger", 1)
		sev := stranger.Tills[0].MustNext(&ledger.NoSale{Staff: "1"}, day0)
		scert, _ := strangerCert.Encode()

		ow := hqtest.NewWorkload(other, rand.New(rand.NewPCG(7, 8)))
		oev := ow.Next(0, day0)

		cases := []struct {
			name  string
			certs [][]byte
			event []byte
			code  string
		}{
			{"forged signature", nil, forged, hqapi.CodeBadSignature},
			{"altered body", nil, mutate(t, next, func(e *ledger.Event) { e.Key = "altered" }), hqapi.CodeBadSignature},
			{"altered time", nil, mutate(t, next, func(e *ledger.Event) { e.Time.Wall++ }), hqapi.CodeBadSignature},
			{"not canonical", nil, append(next.Bytes()[:len(next.Bytes()):len(next.Bytes())], 0), hqapi.CodeMalformed},
			{"garbage", nil, []byte("not an event"), hqapi.CodeMalformed},
			{"unenrolled till", [][]byte{scert}, sev.Bytes(), hqapi.CodeUnenrolled},
			{"other store", nil, oev.Bytes(), hqapi.CodeWrongStore},
			{"gap", nil, evs[22].Bytes(), hqapi.CodeSeqGap}, // till 0 seq 12, without 11
		}
		for _, c := range cases {
			before := snap(t, h, store.ID)
			res, err := h.Ingest(ctx, store.ID, relay, &hqapi.Upload{Fence: 1, Certs: c.certs, Events: [][]byte{c.event}})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != c.code || res.Rejected[0].Reason == "" {
				t.Errorf("%s: accepted %d, rejected %+v; want one %s with a reason", c.name, res.Accepted, res.Rejected, c.code)
			}
			if after := snap(t, h, store.ID); !reflect.DeepEqual(before, after) {
				t.Errorf("%s changed what HQ holds:\nbefore %+v\nafter  %+v", c.name, before, after)
			}
		}

		// Replayed events are duplicates: answered, and nothing changes.
		before := snap(t, h, store.ID)
		res, err = h.Ingest(ctx, store.ID, relay, &hqapi.Upload{Fence: 1, Events: raws(evs[:20])})
		if err != nil || res.Accepted != 0 || res.Duplicates != 20 || len(res.Rejected) != 0 {
			t.Errorf("replay: %+v %v", res, err)
		}
		if after := snap(t, h, store.ID); !reflect.DeepEqual(before, after) {
			t.Errorf("replay changed what HQ holds")
		}

		// A bad event inside a run: the events before it are stored, it
		// and the ones after are refused.
		run := raws(evs[20:30]) // till 0 seq 11..15 and till 1 seq 11..15, interleaved
		run[4] = mutate(t, evs[24], func(e *ledger.Event) { e.Key = "x" })
		res, err = h.Ingest(ctx, store.ID, relay, &hqapi.Upload{Fence: 1, Events: run})
		if err != nil {
			t.Fatal(err)
		}
		codes := map[string]int{}
		for _, r := range res.Rejected {
			codes[r.Code]++
		}
		// evs[24] is till 0 seq 13: 11 and 12 of till 0 and all of till 1
		// are good; 13 is bad; 14 and 15 follow it.
		if res.Accepted != 7 || codes[hqapi.CodeBadSignature] != 1 || codes[hqapi.CodeAfterRejected] != 2 {
			t.Errorf("run with a bad event: accepted %d, rejected %v", res.Accepted, codes)
		}
		if v := h.Vector(store.ID); v[store.Tills[0].ID] != 12 || v[store.Tills[1].ID] != 15 {
			t.Errorf("vector after the bad run: %v", v)
		}
	})
}

func TestEquivocationKeptAsEvidence(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(50, 1)
		place := b.place(t)
		st := b.open(t, place)
		h := newHQ(t, st, store)
		till := store.Tills[0]
		var evs []*ledger.Event
		var fork ledgertest.Till
		for i := range 10 {
			if i == 5 {
				fork = *till // the till's state after seq 5
			}
			evs = append(evs, till.MustNext(&ledger.NoSale{Staff: "1"}, day0+int64(i)))
		}
		res, err := h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts(), Events: raws(evs)})
		if err != nil || res.Accepted != 10 {
			t.Fatalf("upload: %+v %v", res, err)
		}
		// The till signs a different seq 6: equivocation.
		other := fork.MustNext(&ledger.NoSale{Staff: "2"}, day0+100)
		before := snap(t, h, store.ID)
		res, err = h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: 1, Events: [][]byte{other.Bytes()}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rejected) != 1 || res.Rejected[0].Code != hqapi.CodeEquivocation {
			t.Fatalf("rejected %+v, want one equivocation", res.Rejected)
		}
		after := snap(t, h, store.ID)
		if after.count != before.count || !after.vector.Equal(before.vector) || after.evidence != 1 || after.flagged != 1 {
			t.Errorf("after equivocation: %+v (before %+v): want the chain unchanged, one piece of evidence, one flagged till", after, before)
		}
		ev, _ := h.Evidence(ctx, store.ID)
		if ev[0].Seq != 6 || ev[0].Got != other.ID() || ev[0].Have != evs[5].ID() {
			t.Errorf("evidence %+v", ev[0])
		}
		if got, err := ledger.Decode(ev[0].Raw); err != nil || got.ID() != other.ID() {
			t.Errorf("evidence bytes do not decode to the conflicting event: %v", err)
		}
		// The chain goes on: the till's real seq 11 is still accepted.
		next := till.MustNext(&ledger.NoSale{Staff: "1"}, day0+200)
		res, err = h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: 1, Events: [][]byte{next.Bytes()}})
		if err != nil || res.Accepted != 1 {
			t.Errorf("after equivocation: %+v %v", res, err)
		}
		// Evidence and the flag survive a restart.
		st.Close()
		h2 := newHQ(t, b.open(t, place))
		if v, _ := h2.Store(store.ID); v.Flagged != 1 || v.Events != 11 {
			t.Errorf("after restart: %d flagged, %d events; want 1 and 11", v.Flagged, v.Events)
		}
		if ev, err := h2.Evidence(ctx, store.ID); err != nil || len(ev) != 1 {
			t.Errorf("after restart: %d pieces of evidence (%v), want 1", len(ev), err)
		}
	})
}

func TestStaleFenceRejected(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(60, 2)
		h := newHQ(t, b.open(t, b.place(t)), store)
		w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(9, 10)))
		evs := w.Sales(30, day0, 1000)
		a, c := store.Tills[0].ID, store.Tills[1].ID
		if _, err := h.Ingest(ctx, store.ID, a, &hqapi.Upload{Fence: 5, Certs: store.EncodedCerts(), Events: raws(evs[:10])}); err != nil {
			t.Fatal(err)
		}
		before := snap(t, h, store.ID)
		res, err := h.Ingest(ctx, store.ID, c, &hqapi.Upload{Fence: 4, Events: raws(evs[10:20])})
		if !errors.Is(err, hq.ErrStaleFence) {
			t.Fatalf("token 4 after 5: err %v, want ErrStaleFence", err)
		}
		if res.Fence.Token != 5 || res.Fence.Holder != a {
			t.Errorf("stale answer names fence %+v, want token 5 held by till a", res.Fence)
		}
		if after := snap(t, h, store.ID); !reflect.DeepEqual(before, after) {
			t.Errorf("a stale upload changed what HQ holds")
		}
		// The same token is fine; a newer relay fences the old one off.
		if res, err := h.Ingest(ctx, store.ID, a, &hqapi.Upload{Fence: 5, Events: raws(evs[10:20])}); err != nil || res.Accepted != 10 {
			t.Fatalf("token 5 again: %+v %v", res, err)
		}
		if _, err := h.Ingest(ctx, store.ID, c, &hqapi.Upload{Fence: 6, Events: raws(evs[20:25])}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Ingest(ctx, store.ID, a, &hqapi.Upload{Fence: 5, Events: raws(evs[25:30])}); !errors.Is(err, hq.ErrStaleFence) {
			t.Fatalf("old relay after a newer one: err %v, want ErrStaleFence", err)
		}
		if v := h.Vector(store.ID); v.Total() != 25 {
			t.Errorf("HQ holds %d events, want 25", v.Total())
		}
		// A GET with a newer token raises the fence too.
		if _, err := h.VectorOf(ctx, store.ID, a, 7, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Ingest(ctx, store.ID, c, &hqapi.Upload{Fence: 6, Events: raws(evs[25:30])}); !errors.Is(err, hq.ErrStaleFence) {
			t.Fatalf("token 6 after a GET with 7: err %v, want ErrStaleFence", err)
		}
	})
}

func TestDownlinkChanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s1, s2 := hqtest.NewStore(70, 1), hqtest.NewStore(80, 1)
		h := newHQ(t, b.open(t, b.place(t)), s1, s2)
		p := hqapi.Product{SKU: "1001", Name: "Milk", Price: 119, Currency: "EUR", TaxRate: 700, Unit: "ea"}
		if _, err := h.PutProduct(ctx, nil, p, "admin"); err != nil {
			t.Fatal(err)
		}
		p.Price = 129
		if _, err := h.PutProduct(ctx, &s2.ID, p, "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.PutStaff(ctx, &s1.ID, "7", "Ana", "cashier", "1234", "admin"); err != nil {
			t.Fatal(err)
		}
		bad := p
		bad.Unit = "litre"
		if _, err := h.PutProduct(ctx, nil, bad, "admin"); !errors.Is(err, hq.ErrInvalid) {
			t.Errorf("invalid product: err %v, want ErrInvalid", err)
		}
		c1, err := h.ChangesFor(ctx, s1.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(c1.Changes) != 2 || c1.Changes[0].Product.Price != 119 || c1.Changes[1].Staff.ID != "7" || c1.More {
			t.Fatalf("store 1 changes: %+v", c1)
		}
		if !hq.CheckSecret(c1.Changes[1].Staff.PINHash, "1234") || hq.CheckSecret(c1.Changes[1].Staff.PINHash, "1235") {
			t.Error("the PIN hash does not check the PIN")
		}
		c2, err := h.ChangesFor(ctx, s2.ID, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(c2.Changes) != 1 || !c2.More {
			t.Fatalf("store 2, page of one: %+v", c2)
		}
		c2, err = h.ChangesFor(ctx, s2.ID, c2.Next, 10)
		if err != nil || len(c2.Changes) != 1 || c2.Changes[0].Product.Price != 129 || c2.Next != 3 {
			t.Fatalf("store 2, second page: %+v %v", c2, err)
		}
		// Nothing new: the cursor still moves past other stores' changes.
		c2, err = h.ChangesFor(ctx, s2.ID, c2.Next, 10)
		if err != nil || len(c2.Changes) != 0 || c2.Next != 3 {
			t.Fatalf("store 2, nothing new: %+v %v", c2, err)
		}
		cat, err := h.Catalog(ctx)
		if err != nil || len(cat.Products) != 2 || len(cat.Staff) != 1 || cat.Staff[0].Staff.PINHash != "" {
			t.Errorf("catalog: %+v %v", cat, err)
		}
	})
}

// A store's reported catalog is kept per backend; an edit of some fields
// takes the others from it, and HQ's view shows edits made since the
// report on top of it.
func TestStoreCatalogAndFieldEdits(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s1, s2 := hqtest.NewStore(71, 1), hqtest.NewStore(81, 1)
		h := newHQ(t, b.open(t, b.place(t)), s1, s2)
		bread := hqapi.Product{SKU: "10002", Name: "Bread small", Barcodes: []string{"4000000100027"}, Price: 129, Currency: "EUR", TaxRate: 700, Unit: "ea"}
		if err := h.PutStoreCatalog(ctx, s1.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread}, At: 1}); err != nil {
			t.Fatal(err)
		}
		// A report with one bad product is refused whole.
		bad := bread
		bad.SKU, bad.Unit = "10003", "litre"
		if err := h.PutStoreCatalog(ctx, s1.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread, bad}, At: 2}); !errors.Is(err, hq.ErrInvalid) {
			t.Errorf("catalog with a bad product: %v, want ErrInvalid", err)
		}
		c, err := h.EditProduct(ctx, &s1.ID, hqapi.Product{SKU: "10002", Price: 149}, []string{hqapi.FieldPrice}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		if c.Product.Name != "Bread small" || !slices.Equal(c.Product.Barcodes, bread.Barcodes) || c.Product.Price != 149 {
			t.Errorf("edit of the price: change carries %+v", c.Product)
		}
		cat, err := h.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cat.Products) != 1 {
			t.Fatalf("catalog: %+v", cat.Products)
		}
		if e := cat.Products[0]; e.Source != hq.SourceStore || *e.Store != s1.ID || e.Product.Price != 149 || e.Cursor != c.Cursor ||
			!slices.Equal(e.Product.Barcodes, bread.Barcodes) {
			t.Errorf("entry after the edit: %+v", e)
		}
		// Store 2 never reported it: a partial edit there is refused.
		if _, err := h.EditProduct(ctx, &s2.ID, hqapi.Product{SKU: "10002", Price: 1}, []string{hqapi.FieldPrice}, "admin"); !errors.Is(err, hq.ErrInvalid) {
			t.Errorf("partial edit for a store that lacks the product: %v, want ErrInvalid", err)
		}
		// The next report includes the change (its cursor): nothing applied twice.
		reported := bread
		reported.Price, reported.Name = 149, "Bread, small loaf"
		if err := h.PutStoreCatalog(ctx, s1.ID, hqapi.StoreCatalog{Products: []hqapi.Product{reported}, Cursor: c.Cursor, At: 3}); err != nil {
			t.Fatal(err)
		}
		if cat, err = h.Catalog(ctx); err != nil || len(cat.Products) != 1 || cat.Products[0].Product.Name != reported.Name || cat.Products[0].Cursor != 0 {
			t.Errorf("catalog after the next report: %+v %v", cat.Products, err)
		}
	})
}

func TestVerifyEverySignature(t *testing.T) {
	store := hqtest.NewStore(140, 1)
	till := store.Tills[0]
	// Seq 1 carries a bad signature that the till itself chained over: a
	// run check (newest signature plus hash chain) cannot see it; a check
	// of every signature can.
	e1 := till.MustNext(&ledger.NoSale{Staff: "1"}, day0)
	bad := *e1
	bad.Sig = make([]byte, 64)
	raw, err := hqtest.Reencode(&bad)
	if err != nil {
		t.Fatal(err)
	}
	e1b, err := ledger.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	till.Prev = e1b.ID()
	e2 := till.MustNext(&ledger.NoSale{Staff: "1"}, day0+1)
	for _, every := range []bool{false, true} {
		cfg := hq.DefaultConfig()
		cfg.Storage, cfg.Logger, cfg.VerifyEverySignature = backends[0].open(t, backends[0].place(t)), quiet(), every
		h, err := hq.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.RegisterStore(t.Context(), store.ID, store.Name, store.CAPublic()); err != nil {
			t.Fatal(err)
		}
		res, err := h.Ingest(t.Context(), store.ID, till.ID, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts(), Events: [][]byte{raw, e2.Bytes()}})
		if err != nil {
			t.Fatal(err)
		}
		want := 2
		if every {
			want = 0
			if len(res.Rejected) != 2 || res.Rejected[0].Code != hqapi.CodeBadSignature || res.Rejected[1].Code != hqapi.CodeAfterRejected {
				t.Errorf("every signature: rejected %+v", res.Rejected)
			}
		}
		if res.Accepted != want {
			t.Errorf("VerifyEverySignature=%v: accepted %d, want %d", every, res.Accepted, want)
		}
	}
}

// largeUpload is a store and 4,000 events of it, over a megabyte: the
// embedded store writes such an upload in several commits and moves the
// heads last. Made once for both backends.
var largeUpload = sync.OnceValues(func() (*hqtest.Store, [][]byte) {
	store := hqtest.NewStore(150, 2)
	var evs [][]byte
	for k := range 2000 {
		for _, till := range store.Tills {
			evs = append(evs, till.MustNext(ledgertest.Sale3(), day0+int64(k)).Bytes())
		}
	}
	return store, evs
})

func TestLargeUpload(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		store, evs := largeUpload()
		n := len(evs)
		size := 0
		for _, e := range evs {
			size += len(e)
		}
		if size < 1<<20 {
			t.Fatalf("fixture: %d bytes, want over 1 MB", size)
		}
		place := b.place(t)
		st := b.open(t, place)
		h := newHQ(t, st, store)
		res, err := h.Ingest(t.Context(), store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts(), Events: evs})
		if err != nil || res.Accepted != n {
			t.Fatalf("upload of %d events: accepted %d, %v", len(evs), res.Accepted, err)
		}
		st.Close()
		h2 := newHQ(t, b.open(t, place))
		if got, err := h2.Count(t.Context(), store.ID); err != nil || got != uint64(n) {
			t.Errorf("after restart: %d events (%v)", got, err)
		}
		if r, _ := h2.StoreReport(store.ID); r.Sales != n {
			t.Errorf("after restart: %d sales folded", r.Sales)
		}
	})
}

// TestStoreCatalogsInOneRead: every store's catalog read in one read is
// what reading each store's gives, and a store that sent none has none.
func TestStoreCatalogsInOneRead(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		stores := []*hqtest.Store{hqtest.NewStore(70, 1), hqtest.NewStore(72, 1), hqtest.NewStore(74, 1)}
		st := b.open(t, b.place(t))
		h := newHQ(t, st, stores...)
		for i, s := range stores[:2] {
			p := hqapi.Product{SKU: fmt.Sprintf("10%d", i), Name: "Tea", Price: 250, Currency: "EUR", TaxRate: 700, Unit: ledger.Each}
			if err := h.PutStoreCatalog(ctx, s.ID, hqapi.StoreCatalog{Products: []hqapi.Product{p}, At: int64(i + 1)}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := st.(hq.StoreCatalogLister).StoreCatalogs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 {
			t.Fatalf("%d catalogs read, want 2", len(all))
		}
		for _, s := range stores {
			one, err := st.StoreCatalog(ctx, s.ID)
			got, ok := all[s.ID]
			switch {
			case errors.Is(err, hq.ErrNotFound):
				if ok {
					t.Errorf("store %s sent no catalog, read %+v", s.ID, got)
				}
			case err != nil:
				t.Fatal(err)
			case !reflect.DeepEqual(got, one):
				t.Errorf("store %s: %+v in one read, %+v alone", s.ID, got, one)
			}
		}
	})
}
