package crdt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	blockstore "github.com/ipfs/boxo/blockstore"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/tillmesh/tillmesh/ledger"
)

func testProduct(sku string, price int64, barcodes ...string) Product {
	return Product{
		SKU: sku, Name: "Product " + sku, Barcodes: barcodes, Price: ledger.Money(price),
		Currency: "EUR", TaxRate: 2000, Unit: ledger.Each, Updated: 1700000000000,
	}
}

func TestProductReplicates(t *testing.T) {
	rs := mesh(t, 3, replicaOpts{})
	a, b, c := rs[0], rs[1], rs[2]
	p := testProduct("MILK-1L", 129, "4006381333931")
	if err := a.s.PutProduct(t.Context(), p); err != nil {
		t.Fatalf("PutProduct: %v", err)
	}
	for _, r := range []*replica{b, c} {
		eventually(t, 30*time.Second, "product on "+r.name, func() bool {
			got, err := r.s.Product(t.Context(), p.SKU)
			return err == nil && got.Price == p.Price
		})
		got, err := r.s.ProductByBarcode(t.Context(), "4006381333931")
		if err != nil || got.SKU != p.SKU {
			t.Errorf("%s: ProductByBarcode = %+v, %v; want %s", r.name, got, err, p.SKU)
		}
	}
	// A price change on C replaces the value everywhere, and the barcode
	// index follows a barcode change.
	p2 := p
	p2.Price, p2.Barcodes = 139, []string{"4006381333948"}
	if err := c.s.PutProduct(t.Context(), p2); err != nil {
		t.Fatalf("PutProduct: %v", err)
	}
	eventually(t, 30*time.Second, "price change on a", func() bool {
		got, err := a.s.Product(t.Context(), p.SKU)
		return err == nil && got.Price == 139
	})
	if _, err := a.s.ProductByBarcode(t.Context(), "4006381333931"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old barcode: err = %v, want ErrNotFound", err)
	}
	if got, err := a.s.ProductByBarcode(t.Context(), "4006381333948"); err != nil || got.SKU != p.SKU {
		t.Errorf("new barcode: %+v, %v", got, err)
	}
	if st := b.s.Stats(); st.FetchedBlocks == 0 {
		t.Errorf("b fetched no blocks over %s: %+v", ProtocolID, st)
	}
}

// TestBarcodeFoundOnceProductVisible checks the barcode index from inside
// the window between a product's commit and the Store hearing of it: a
// reader that can already see the product must find it by barcode too.
func TestBarcodeFoundOnceProductVisible(t *testing.T) {
	var (
		store   atomic.Pointer[Store]
		mu      sync.Mutex
		checked []string
	)
	check := func(key string) {
		s := store.Load()
		if s == nil || key != "/"+prefixProduct+"/MILK-1L" {
			return
		}
		ctx := context.Background()
		p, err := s.Product(ctx, "MILK-1L")
		if err != nil {
			return
		}
		for _, code := range p.Barcodes {
			got, err := s.ProductByBarcode(ctx, code)
			mu.Lock()
			if err != nil || got.SKU != p.SKU {
				checked = append(checked, fmt.Sprintf("price %v: barcode %s: %+v, %v", p.Price, code, got, err))
			} else {
				checked = append(checked, fmt.Sprintf("price %v: barcode %s found", p.Price, code))
			}
			mu.Unlock()
		}
	}
	r := newReplica(t, "till-a", replicaOpts{config: func(c *Config) { c.commitHook = check }})
	store.Store(r.s)
	ctx := t.Context()
	if err := r.s.PutProduct(ctx, testProduct("MILK-1L", 129, "4006381333931")); err != nil {
		t.Fatal(err)
	}
	if err := r.s.PutProduct(ctx, testProduct("MILK-1L", 139, "4006381333948")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"price 1.29: barcode 4006381333931 found", "price 1.39: barcode 4006381333948 found"}
	if !slices.Equal(checked, want) {
		t.Errorf("lookups between commit and index update:\n got %q\nwant %q", checked, want)
	}
}

func TestConcurrentStockConverges(t *testing.T) {
	const (
		callers = 4
		calls   = 25
	)
	rs := mesh(t, 3, replicaOpts{})
	skus := []string{"A", "B", "C", "D", "E"}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	var mu sync.Mutex
	want := make(map[string]int64)
	perTill := make(map[string]map[string]int64) // sku -> till -> total
	var wg sync.WaitGroup
	for i, r := range rs {
		var seq atomic.Uint64
		for g := range callers {
			rng := rand.New(rand.NewPCG(seed, uint64(i*callers+g)))
			wg.Go(func() {
				for range calls {
					deltas := map[string]int64{}
					for range 1 + rng.IntN(3) {
						deltas[skus[rng.IntN(len(skus))]] = rng.Int64N(21) - 10
					}
					if err := r.s.ApplyMovements(t.Context(), seq.Add(1), deltas); err != nil {
						t.Errorf("%s ApplyMovements: %v", r.name, err)
						return
					}
					mu.Lock()
					for sku, d := range deltas {
						want[sku] += d
						if perTill[sku] == nil {
							perTill[sku] = map[string]int64{}
						}
						perTill[sku][r.name] += d
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for sku, v := range want {
		if v == 0 {
			delete(want, sku) // a slot may sum to zero; AllStock still lists it
		}
	}
	for _, r := range rs {
		eventually(t, 30*time.Second, "stock on "+r.name, func() bool {
			got, err := r.s.AllStock(t.Context())
			if err != nil {
				return false
			}
			for sku, v := range got {
				if v == 0 {
					delete(got, sku)
				}
			}
			return maps.Equal(got, want)
		})
		for sku, tills := range perTill {
			total, slots, err := r.s.Stock(t.Context(), sku)
			if err != nil {
				t.Fatalf("Stock: %v", err)
			}
			if total != want[sku] || !maps.Equal(slots, tills) {
				t.Errorf("%s: Stock(%s) = %d %v, want %d %v", r.name, sku, total, slots, want[sku], tills)
			}
		}
	}
	eventually(t, 30*time.Second, "same heads", func() bool { return caughtUp(rs...) })
	for _, r := range rs {
		t.Logf("%s: %+v", r.name, r.s.Stats())
	}
}

// TestCatchUpAfterPartition cuts C off while A and B write 500 batches
// (and C sells a little offline), then heals: C must catch up through the
// block protocol, and all three converge.
func TestCatchUpAfterPartition(t *testing.T) {
	rs := mesh(t, 3, replicaOpts{})
	a, b, c := rs[0], rs[1], rs[2]
	ctx := t.Context()
	if err := a.s.PutProduct(ctx, testProduct("BREAD", 250)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "shared start", func() bool { return caughtUp(rs...) })

	isolate(c)
	want := map[string]int64{}
	var wg sync.WaitGroup
	for _, r := range []*replica{a, b} {
		wg.Go(func() {
			for i := range 250 {
				if err := r.s.ApplyMovements(ctx, uint64(i+1), map[string]int64{"BREAD": -1}); err != nil {
					t.Errorf("%s: %v", r.name, err)
					return
				}
			}
		})
	}
	for i := range 20 { // C sells offline too: its heads are unknown to A and B
		if err := c.s.ApplyMovements(ctx, uint64(i+1), map[string]int64{"BREAD": -2}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	want["BREAD"] = -500 - 40
	eventually(t, 30*time.Second, "a and b agree", func() bool { return caughtUp(a, b) }, a, b)
	if total, _, _ := a.s.Stock(ctx, "BREAD"); total != -500 {
		t.Fatalf("a: stock %d before healing, want -500", total)
	}
	before := c.s.Stats()

	start := time.Now()
	heal(t, c, a, b)
	eventually(t, 30*time.Second, "c caught up", func() bool { return caughtUp(rs...) })
	t.Logf("c caught up in %v: %+v", time.Since(start), c.s.Stats())
	for _, r := range rs {
		got, err := r.s.AllStock(ctx)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: AllStock = %v, %v; want %v", r.name, got, err, want)
		}
	}
	after := c.s.Stats()
	if n := after.FetchedBlocks - before.FetchedBlocks; n < 500 {
		t.Errorf("c fetched %d blocks over %s, want >= 500", n, ProtocolID)
	}
	if n := after.FetchRounds - before.FetchRounds; n > 20 {
		t.Errorf("c made %d fetch rounds, want few", n)
	}
}

// TestFetchSendsOnlyMissing checks the negotiation: a peer whose heads the
// server knows gets exactly the blocks it lacks, in one round.
func TestFetchSendsOnlyMissing(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, c := rs[0], rs[1]
	ctx := t.Context()
	for i := range 50 {
		if err := a.s.ApplyMovements(ctx, uint64(i+1), map[string]int64{"X": 1}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "c has 50", func() bool { return caughtUp(a, c) })
	isolate(c)
	for i := range 100 {
		if err := a.s.ApplyMovements(ctx, uint64(51+i), map[string]int64{"X": 1}); err != nil {
			t.Fatal(err)
		}
	}
	before := c.s.Stats()
	heal(t, c, a)
	eventually(t, 30*time.Second, "c has 150", func() bool { return caughtUp(a, c) })
	after := c.s.Stats()
	if got := after.FetchedBlocks - before.FetchedBlocks; got != 100 {
		t.Errorf("fetched %d blocks, want exactly the 100 missing", got)
	}
	if got := after.FetchRounds - before.FetchRounds; got != 1 {
		t.Errorf("%d rounds, want 1", got)
	}
	if total, _, _ := c.s.Stock(ctx, "X"); total != 150 {
		t.Errorf("stock X = %d, want 150", total)
	}
}

// TestFetchAfterRestartWhileDiverged: C sold offline and restarted, so its
// heads are unknown to A and it has fetched nothing since starting. The
// sampled ancestors must still keep A from sending its whole DAG.
func TestFetchAfterRestartWhileDiverged(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, c := rs[0], rs[1]
	ctx := t.Context()
	for i := range 300 {
		if err := a.s.ApplyMovements(ctx, uint64(i+1), map[string]int64{"X": 1}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "shared history", func() bool { return caughtUp(a, c) })
	isolate(c)
	for i := range 20 {
		if err := c.s.ApplyMovements(ctx, uint64(i+1), map[string]int64{"X": -1}); err != nil {
			t.Fatal(err)
		}
		if err := a.s.ApplyMovements(ctx, uint64(301+i), map[string]int64{"X": 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.s.Close(); err != nil {
		t.Fatal(err)
	}
	c.start(t, replicaOpts{})
	// What A would send for C's request, computed in-process so that A
	// learning C's blocks first (C pushes its heads too) cannot hide it.
	aHeads, _ := a.s.Heads()
	n, err := a.s.sync.walk(ctx, aHeads, c.s.sync.haves(ctx), maxServeBlocks, func(cid.Cid, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 || n > 60 {
		t.Errorf("A would send %d blocks for C's request, want the 20 C lacks and little more (A holds 340)", n)
	}
	heal(t, c, a)
	eventually(t, 30*time.Second, "converged", func() bool { return caughtUp(a, c) }, a, c)
	if total, _, _ := c.s.Stock(ctx, "X"); total != 300 {
		t.Errorf("stock %d, want 300", total)
	}
}

// TestWriterConcurrentCallers hammers one store from many goroutines with
// every kind of write; run with -race.
func TestWriterConcurrentCallers(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{})
	ctx := t.Context()
	const workers, each = 8, 40
	var seq atomic.Uint64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var err error
				switch i % 4 {
				case 0:
					err = r.s.PutProduct(ctx, testProduct(fmt.Sprintf("P%d-%d", w, i), int64(i)))
				case 1:
					err = r.s.ApplyMovements(ctx, seq.Add(1), map[string]int64{"S1": 1, "S2": -1})
				case 2:
					err = r.s.PutSetting(ctx, fmt.Sprintf("k%d", w), []byte{byte(i)})
				case 3:
					err = r.s.SetSlot(ctx, "S3", seq.Add(1), int64(w))
					_, _, _ = r.s.Stock(ctx, "S1")
				}
				if err != nil {
					t.Errorf("worker %d op %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	products, err := r.s.Products(ctx)
	if err != nil || len(products) != workers*each/4 {
		t.Errorf("Products: %d, %v; want %d", len(products), err, workers*each/4)
	}
	stock, err := r.s.AllStock(ctx)
	if err != nil || stock["S1"] != workers*each/4 || stock["S2"] != -workers*each/4 {
		t.Errorf("AllStock = %v, %v", stock, err)
	}
	settings, err := r.s.Settings(ctx)
	if err != nil || len(settings) != workers {
		t.Errorf("Settings: %v, %v", settings, err)
	}
	// Every write was a DAG node on top of the previous one (movements
	// queued together share one): one writer means no forks.
	if heads, h := r.s.Heads(); len(heads) != 1 || h > workers*each || h < workers*each*3/4 {
		t.Errorf("heads %d height %d, want 1 head at height %d-%d", len(heads), h, workers*each*3/4, workers*each)
	}
}

func TestApplyMovementsRetryAndErrors(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{})
	ctx := t.Context()
	if err := r.s.ApplyMovements(ctx, 7, map[string]int64{"A": -3, "B": 5}); err != nil {
		t.Fatal(err)
	}
	// The same event again (a retry) changes nothing.
	if err := r.s.ApplyMovements(ctx, 7, map[string]int64{"A": -3, "B": 5}); err != nil {
		t.Fatal(err)
	}
	_, h1 := r.s.Heads()
	if h1 != 1 {
		t.Errorf("height %d after a retried event, want 1", h1)
	}
	for _, tc := range []struct {
		name   string
		seq    uint64
		deltas map[string]int64
	}{
		{"seq 0", 0, map[string]int64{"A": 1}},
		{"bad sku", 8, map[string]int64{"A": 1, "a/b": 1}},
		{"dot sku", 8, map[string]int64{".hidden": 1}},
		{"overflow", 8, map[string]int64{"A": 1, "B": 1<<63 - 1}},
	} {
		if err := r.s.ApplyMovements(ctx, tc.seq, tc.deltas); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	total, slots, err := r.s.Stock(ctx, "A")
	if err != nil || total != -3 || slots["till-a"] != -3 {
		t.Errorf("Stock(A) = %d %v %v, want -3 (nothing of a refused batch stored)", total, slots, err)
	}
	// SetSlot repairs the slot and is a no-op when it matches.
	if err := r.s.SetSlot(ctx, "A", 9, -10); err != nil {
		t.Fatal(err)
	}
	if err := r.s.SetSlot(ctx, "A", 9, -10); err != nil {
		t.Fatal(err)
	}
	if _, h := r.s.Heads(); h != 2 {
		t.Errorf("height %d, want 2 (second SetSlot is a no-op)", h)
	}
	if total, _, _ := r.s.Stock(ctx, "A"); total != -10 {
		t.Errorf("Stock(A) = %d after SetSlot, want -10", total)
	}
	if own, err := r.s.OwnSlot(ctx, "A"); err != nil || own != -10 {
		t.Errorf("OwnSlot(A) = %d, %v; want -10", own, err)
	}
	if own, err := r.s.OwnSlot(ctx, "NONE"); err != nil || own != 0 {
		t.Errorf("OwnSlot(NONE) = %d, %v; want 0", own, err)
	}
}

func TestReopenKeepsEpochAndSlots(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{badger: true})
	ctx := t.Context()
	if err := r.s.ApplyMovements(ctx, 1, map[string]int64{"A": 4}); err != nil {
		t.Fatal(err)
	}
	epoch := r.s.Epoch()
	if err := r.s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.s.ApplyMovements(ctx, 2, map[string]int64{"A": 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close: %v, want ErrClosed", err)
	}
	r.start(t, replicaOpts{})
	if r.s.Epoch() != epoch {
		t.Errorf("epoch %s after reopen, want %s", r.s.Epoch(), epoch)
	}
	if r.s.Dirty(ctx) {
		t.Error("dirty after a clean close")
	}
	if err := r.s.ApplyMovements(ctx, 2, map[string]int64{"A": 1}); err != nil {
		t.Fatal(err)
	}
	if total, slots, _ := r.s.Stock(ctx, "A"); total != 5 || len(slots) != 1 {
		t.Errorf("Stock(A) = %d %v, want 5 in one slot", total, slots)
	}
}

// TestUncleanShutdownRepairs: a Store that was open when the process died
// (its marker still there), or a caller that says so, starts dirty and
// go-ds-crdt repairs at once.
func TestUncleanShutdownRepairs(t *testing.T) {
	for _, told := range []bool{false, true} {
		t.Run(fmt.Sprintf("told=%v", told), func(t *testing.T) {
			logs := &captureHandler{}
			r := newReplica(t, "till-a", replicaOpts{})
			ctx := t.Context()
			if err := r.s.PutSetting(ctx, "name", []byte("Main St")); err != nil {
				t.Fatal(err)
			}
			if err := r.s.Close(); err != nil {
				t.Fatal(err)
			}
			if !told {
				// The process died: the open marker stayed behind.
				if err := r.d.Put(ctx, r.s.openKey, nil); err != nil {
					t.Fatal(err)
				}
			}
			r.start(t, replicaOpts{logger: newCaptureLogger(logs), config: func(c *Config) { c.Unclean = told }})
			eventually(t, 30*time.Second, "repair", func() bool {
				return logs.contains("Starting DAG repair") && !r.s.Dirty(ctx)
			})
			if v, err := r.s.Setting(ctx, "name"); err != nil || string(v) != "Main St" {
				t.Errorf("Setting = %q, %v", v, err)
			}
		})
	}
}

// TestChangeNotifications: a subscriber is told about remote changes, and
// when it is told the new value is already readable.
func TestChangeNotifications(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ch, cancel := b.s.Subscribe(64)
	defer cancel()
	ctx := t.Context()
	for i := range 20 {
		if err := a.s.PutProduct(ctx, testProduct("P1", int64(100+i))); err != nil {
			t.Fatal(err)
		}
		if err := a.s.ApplyMovements(ctx, uint64(i+1), map[string]int64{"P1": -1}); err != nil {
			t.Fatal(err)
		}
	}
	timeout := time.After(10 * time.Second)
	var sawStock bool
	for {
		var c Change
		select {
		case c = <-ch:
		case <-timeout:
			t.Fatal("no notification of the last price")
		}
		switch c.Kind {
		case ChangeStock:
			if c.ID != "P1" || c.Till != "till-a" {
				t.Errorf("stock change %+v", c)
			}
			sawStock = true
			continue
		case ChangeProduct:
		default:
			t.Fatalf("unexpected change %+v", c)
		}
		// Read at once: the value must already be stored.
		p, err := b.s.Product(ctx, c.ID)
		if err != nil {
			t.Fatalf("read %s on notification: %v", c.ID, err)
		}
		if p.Price == 119 {
			break
		}
	}
	if !sawStock {
		t.Error("no stock notification")
	}
	cancel()
	if _, ok := <-ch; ok {
		// Drain: at most the buffer, then closed.
		for range ch {
		}
	}
}

func TestSubscriberOverflow(t *testing.T) {
	var ss subscribers
	ch, cancel := ss.add(2)
	defer cancel()
	for i := range 5 {
		ss.publish(Change{Kind: ChangeSetting, ID: fmt.Sprint(i)})
	}
	got := []Change{<-ch, <-ch}
	ss.publish(Change{Kind: ChangeSetting, ID: "late"})
	got = append(got, <-ch, <-ch)
	want := []Change{
		{Kind: ChangeSetting, ID: "0"}, {Kind: ChangeSetting, ID: "1"},
		{Kind: ChangeOverflow}, {Kind: ChangeSetting, ID: "late"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCatalogRoundTrip(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{})
	ctx := t.Context()
	s := r.s
	if err := s.PutProduct(ctx, Product{SKU: "X"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid product: %v", err)
	}
	for _, p := range []Product{testProduct("APPLE", 50, "111"), testProduct("PEAR", 60, "222"), testProduct("APRICOT", 70)} {
		if err := s.PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Product(ctx, "NOPE"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing product: %v", err)
	}
	found, err := s.SearchProducts(ctx, "ap", 0)
	if err != nil || len(found) != 2 || found[0].SKU != "APPLE" || found[1].SKU != "APRICOT" {
		t.Errorf("SearchProducts(ap) = %v, %v", found, err)
	}
	staff := Staff{ID: "s1", Name: "Ann", PINHash: []byte("$argon2id$..."), Role: RoleManager}
	if err := s.PutStaff(ctx, staff); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Staff(ctx, "s1"); err != nil || got.Name != "Ann" || got.Role != RoleManager {
		t.Errorf("Staff = %+v, %v", got, err)
	}
	if err := s.DeleteStaff(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if list, err := s.StaffList(ctx); err != nil || len(list) != 0 {
		t.Errorf("StaffList after delete = %v, %v", list, err)
	}
	if err := s.PutCertificate(ctx, "till-b", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if certs, err := s.Certificates(ctx); err != nil || len(certs) != 1 || string(certs["till-b"]) != "\x01\x02\x03" {
		t.Errorf("Certificates = %v, %v", certs, err)
	}
	if err := s.Revoke(ctx, Revocation{ID: "till-b", Reason: "stolen", At: 1}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.IsRevoked(ctx, "till-b"); !ok || err != nil {
		t.Errorf("IsRevoked = %v, %v", ok, err)
	}
	if rev, err := s.Revocations(ctx); err != nil || rev["till-b"].Reason != "stolen" {
		t.Errorf("Revocations = %v, %v", rev, err)
	}
	if err := s.PutSetting(ctx, "receipt.footer", []byte("Thanks")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSetting(ctx, "receipt.footer"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Setting(ctx, "receipt.footer"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted setting: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	base := newReplica(t, "till-a", replicaOpts{})
	good := base.s.cfg
	for _, tc := range []struct {
		name string
		mut  func(*Config)
	}{
		{"no datastore", func(c *Config) { c.Datastore = nil }},
		{"no host", func(c *Config) { c.Host = nil }},
		{"no pubsub", func(c *Config) { c.PubSub = nil }},
		{"no topic", func(c *Config) { c.Topic = "" }},
		{"bad till", func(c *Config) { c.TillID = "a/b" }},
		{"root namespace", func(c *Config) { c.Namespace = "/" }},
		{"unclean namespace", func(c *Config) { c.Namespace = "inventory/" }},
		{"zero repair", func(c *Config) { c.RepairInterval = 0 }},
		{"zero buffer", func(c *Config) { c.SubscriptionBuffer = 0 }},
	} {
		c := good
		tc.mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil, want an error", tc.name)
		}
	}
	if err := good.Validate(); err != nil {
		t.Errorf("good config: %v", err)
	}
	if d := DefaultConfig(); d.RepairInterval < time.Minute || d.RepairInterval >= time.Hour {
		t.Errorf("default RepairInterval %v, want minutes", d.RepairInterval)
	}
	if _, err := New(context.Background(), Config{}); err == nil {
		t.Error("New with an empty Config succeeded")
	}
}

// TestDAGServiceFetchesFromAnyPeer: a block go-ds-crdt asks the DAG
// service for and local storage lacks (a walk after a failed prefetch) is
// fetched over the block protocol, with everything below it, from a
// connected peer that serves it; a peer that does not serve it is skipped.
func TestDAGServiceFetchesFromAnyPeer(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	const n = 30
	if err := a.s.PutProduct(ctx, testProduct("P", 1)); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := a.s.ApplyMovements(ctx, uint64(i+1), map[string]int64{"P": 1}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "b caught up", func() bool { return caughtUp(a, b) }, a, b)
	heads, height := a.s.Heads()
	b.h.RemoveStreamHandler(ProtocolID) // b holds every block but serves none

	x := newReplica(t, "till-x", replicaOpts{})
	x.s.Close() // only its host: the exchange under test is built below
	bstore := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
	sync := newBlockSync(x.h, bstore, 10*time.Second, slog.New(slog.DiscardHandler))
	sync.heads = func() []cid.Cid { return nil }
	ex := peerExchange{sync}

	if _, err := ex.GetBlock(ctx, heads[0]); !errors.Is(err, errNoPeer) {
		t.Fatalf("GetBlock with no peer: %v, want errNoPeer", err)
	}
	connect(t, x, b)
	if _, err := ex.GetBlock(ctx, heads[0]); err == nil {
		t.Fatal("GetBlock from a peer that serves no blocks succeeded")
	}
	connect(t, x, a)
	blk, err := ex.GetBlock(ctx, heads[0])
	if err != nil {
		t.Fatalf("GetBlock with a serving peer: %v", err)
	}
	if !blk.Cid().Equals(heads[0]) {
		t.Fatalf("got block %s, want %s", blk.Cid(), heads[0])
	}
	if got := sync.fetched.Load(); got != height {
		t.Errorf("fetched %d blocks, want the whole chain of %d", got, height)
	}
	if sync.fetchErrs.Load() == 0 {
		t.Error("the peer that serves no blocks was not counted as a failed fetch")
	}
	ch, err := ex.GetBlocks(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range ch {
		got++
	}
	if got != len(heads) {
		t.Errorf("GetBlocks gave %d blocks, want %d", got, len(heads))
	}
}
