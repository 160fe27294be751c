package relay_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/node/relay"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func quiet() *slog.Logger { return testkit.Quiet() }

// waitFor polls cond until it holds (testkit.WaitFor).
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	testkit.WaitFor(tb, what, timeout, cond)
}

// hqServer is an HQ behind an HTTP server that can be taken away (every
// connection cut) and brought back, and slowed down.
type hqServer struct {
	*hq.HQ
	st    *hq.Badger
	srv   *httptest.Server
	down  atomic.Bool
	delay atomic.Int64 // ns per upload
}

func newHQServer(tb testing.TB, stores ...*hqtest.Store) *hqServer {
	tb.Helper()
	st, err := hq.OpenBadger(tb.TempDir(), quiet())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger = st, quiet()
	h, err := hq.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range stores {
		if err := h.RegisterStore(context.Background(), s.ID, s.Name, s.CAPublic()); err != nil {
			tb.Fatal(err)
		}
	}
	s := &hqServer{HQ: h, st: st}
	inner := h.Handler()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			panic(http.ErrAbortHandler) // the connection drops: HQ is away
		}
		if d := s.delay.Load(); d > 0 && r.Method == http.MethodPost {
			time.Sleep(time.Duration(d)) // a slow HQ, so a test can act mid-upload
		}
		inner.ServeHTTP(w, r)
	}))
	tb.Cleanup(s.srv.Close)
	return s
}

// fakeInventory records what the downlink writes.
type fakeInventory struct {
	mu       sync.Mutex
	products map[string]crdt.Product
	staff    map[string]crdt.Staff
	settings map[string][]byte
	puts     int
}

func newInventory() *fakeInventory {
	return &fakeInventory{products: map[string]crdt.Product{}, staff: map[string]crdt.Staff{}, settings: map[string][]byte{}}
}

func (f *fakeInventory) PutProduct(_ context.Context, p crdt.Product) error {
	if err := p.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.products[p.SKU] = p
	f.puts++
	return nil
}

func (f *fakeInventory) Product(_ context.Context, sku string) (crdt.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.products[sku]
	if !ok {
		return crdt.Product{}, fmt.Errorf("product %s: %w", sku, crdt.ErrNotFound)
	}
	return p, nil
}

func (f *fakeInventory) Products(context.Context) ([]crdt.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]crdt.Product, 0, len(f.products))
	for _, p := range f.products {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SKU < out[j].SKU })
	return out, nil
}

func (f *fakeInventory) Revoke(_ context.Context, r crdt.Revocation) error {
	if err := r.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	return nil
}

func (f *fakeInventory) PutStaff(_ context.Context, s crdt.Staff) error {
	if err := s.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.staff[s.ID] = s
	f.puts++
	return nil
}

func (f *fakeInventory) Staff(_ context.Context, id string) (crdt.Staff, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.staff[id]
	if !ok {
		return crdt.Staff{}, fmt.Errorf("staff %s: %w", id, crdt.ErrNotFound)
	}
	return s, nil
}

func (f *fakeInventory) Setting(_ context.Context, name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.settings[name]
	if !ok {
		return nil, fmt.Errorf("setting %s: %w", name, crdt.ErrNotFound)
	}
	return v, nil
}

func (f *fakeInventory) PutSetting(_ context.Context, name string, v []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settings[name] = v
	return nil
}

func (f *fakeInventory) Settings(context.Context) (map[string][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.settings), nil
}

func (f *fakeInventory) DeleteSetting(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.settings, name)
	return nil
}

// till is one till of the test store: a libp2p host with gossipsub, a
// ledger and a relay.
type till struct {
	n      int
	host   host.Host
	ps     *pubsub.PubSub
	db     *ledgerdb.DB
	relay  *relay.Relay
	cancel context.CancelFunc
	done   chan struct{}
}

type mesh struct {
	store *hqtest.Store
	hq    *hqServer
	inv   *fakeInventory // shared: the store's CRDT, as every till sees it
	tills []*till
}

func fastConfig() relay.Config {
	c := relay.DefaultConfig()
	c.Heartbeat, c.Lease, c.HoldOff = 50*time.Millisecond, 400*time.Millisecond, 600*time.Millisecond
	c.Probe, c.Poll, c.Downlink = 60*time.Millisecond, 40*time.Millisecond, 80*time.Millisecond
	c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	c.Batch = 250
	c.Logger = quiet()
	return c
}

func newMesh(t testing.TB, store *hqtest.Store, srv *hqServer, opts ...func(*relay.Config)) *mesh {
	t.Helper()
	m := &mesh{store: store, hq: srv, inv: newInventory()}
	certs := map[ledger.TillID]*ledger.Certificate{}
	for _, c := range store.Certs {
		certs[c.Till] = c
	}
	for i, lt := range store.Tills {
		pk, err := crypto.UnmarshalEd25519PrivateKey(lt.Key)
		if err != nil {
			t.Fatal(err)
		}
		h, err := libp2p.New(libp2p.Identity(pk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		ps, err := pubsub.NewGossipSub(context.Background(), h, pubsub.WithFloodPublish(true))
		if err != nil {
			t.Fatal(err)
		}
		lc := ledgerdb.DefaultConfig(t.TempDir(), store.ID)
		lc.Logger, lc.Ballast, lc.MinFree = quiet(), 0, 0
		db, err := ledgerdb.Open(lc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		for _, c := range store.Certs {
			if err := db.PutCertificate(c); err != nil {
				t.Fatal(err)
			}
		}
		admitted := func(p peer.ID) (ledger.Certificate, bool) {
			if h.Network().Connectedness(p) != network.Connected {
				return ledger.Certificate{}, false
			}
			pub, err := p.ExtractPublicKey()
			if err != nil {
				return ledger.Certificate{}, false
			}
			raw, _ := pub.Raw()
			var id ledger.TillID
			copy(id[:], raw)
			c := certs[id]
			if c == nil {
				return ledger.Certificate{}, false
			}
			return *c, true
		}
		cfg := fastConfig()
		cfg.Store, cfg.Key, cfg.Cert, cfg.HQ = store.ID, lt.Key, store.Certs[i], srv.srv.URL
		cfg.Ledger, cfg.Inventory, cfg.Host, cfg.PubSub, cfg.Admitted = db, m.inv, h, ps, admitted
		for _, o := range opts {
			o(&cfg)
		}
		r, err := relay.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.tills = append(m.tills, &till{n: i + 1, host: h, ps: ps, db: db, relay: r})
	}
	for i, a := range m.tills {
		for _, b := range m.tills[i+1:] {
			if err := a.host.Connect(t.Context(), peer.AddrInfo{ID: b.host.ID(), Addrs: b.host.Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m
}

func (m *mesh) start(t testing.TB) {
	for _, tl := range m.tills {
		ctx, cancel := context.WithCancel(context.Background())
		tl.cancel, tl.done = cancel, make(chan struct{})
		go func() {
			defer close(tl.done)
			if err := tl.relay.Run(ctx); err != nil {
				t.Errorf("relay %d: %v", tl.n, err)
			}
		}()
		t.Cleanup(tl.kill)
	}
}

// kill stops the till's relay and its host, as a till losing power.
func (tl *till) kill() {
	if tl.cancel == nil {
		return
	}
	tl.cancel()
	<-tl.done
	tl.host.Close()
	tl.cancel = nil
}

// record puts events into every live till's ledger, as ledger sync would.
func (m *mesh) record(t testing.TB, evs []*ledger.Event) {
	t.Helper()
	for _, tl := range m.tills {
		if tl.cancel == nil && tl.done != nil {
			continue // dead
		}
		res, err := tl.db.Insert(t.Context(), evs)
		if err != nil || len(res.Rejected) > 0 {
			t.Fatalf("insert into till %d: %v %+v", tl.n, err, res.Rejected)
		}
	}
}

func (m *mesh) leaders() []int {
	var out []int
	for _, tl := range m.tills {
		if tl.cancel != nil && tl.relay.IsRelay() {
			out = append(out, tl.n)
		}
	}
	return out
}

func (m *mesh) hqHolds(want ledger.Vector) bool {
	return m.hq.Vector(m.store.ID).Equal(want)
}

// checkExactlyOnce asserts HQ stored every event once and its figures
// equal the fold of the store's ledger.
func checkExactlyOnce(t *testing.T, m *mesh, w *hqtest.Workload) {
	t.Helper()
	want := w.State.Vector()
	n, err := m.hq.Count(t.Context(), m.store.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n != want.Total() {
		t.Errorf("HQ stored %d events, the store made %d", n, want.Total())
	}
	rep, _ := m.hq.StoreReport(m.store.ID)
	if w := w.State.Fold().StoreReport(); !reflect.DeepEqual(rep, w) {
		t.Errorf("HQ's totals differ from the fold of the store's ledger:\n got %+v\nwant %+v", rep, w)
	}
	if rep.Events != int(want.Total()) {
		t.Errorf("HQ folded %d events, want %d", rep.Events, want.Total())
	}
}

const day0 = int64(1_767_225_600_000) // 2026-01-01T00:00:00Z

func TestRelayFailover(t *testing.T) {
	store := hqtest.NewStore(1, 3)
	srv := newHQServer(t, store)
	m := newMesh(t, store, srv)
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(11, 12)))
	m.record(t, w.Sales(3000, day0, 20_000))
	srv.delay.Store(int64(15 * time.Millisecond))
	m.start(t)

	waitFor(t, "a relay", 10*time.Second, func() bool { return len(m.leaders()) == 1 })
	if l := m.leaders(); l[0] != 1 {
		t.Errorf("relay is till %v, want till 1 (the lowest number)", l)
	}
	waitFor(t, "HQ to hold part of the backlog", 10*time.Second, func() bool {
		return m.hq.Vector(store.ID).Total() >= 500
	})
	killed := time.Now()
	m.tills[0].kill()
	// Sales go on at the surviving tills.
	m.record(t, w.Sales(300, day0+3000*20_000, 20_000))
	waitFor(t, "a new relay", 10*time.Second, func() bool {
		l := m.leaders()
		return len(l) == 1 && l[0] == 2
	})
	t.Logf("failover took %v", time.Since(killed).Round(time.Millisecond))
	srv.delay.Store(0)
	waitFor(t, "HQ to hold every event", 20*time.Second, func() bool { return m.hqHolds(w.State.Vector()) })
	checkExactlyOnce(t, m, w)
	waitFor(t, "the new relay to see nothing unsent", 5*time.Second, func() bool { return m.tills[1].relay.Status().Unsent == 0 })
	st := m.tills[1].relay.Status()
	if !st.IsRelay || st.RelayNumber != 2 || !st.Reachable || st.Token < 2 {
		t.Errorf("new relay's status: %+v", st)
	}
	waitFor(t, "till 3 to see till 2 as relay with nothing unsent", 5*time.Second, func() bool {
		st := m.tills[2].relay.Status()
		return st.RelayNumber == 2 && !st.IsRelay && st.Reachable && st.Unsent == 0
	})
	if v, _ := srv.Store(store.ID); v.RelayNumber != 2 || v.Fence.Token < 2 {
		t.Errorf("HQ's view of the relay: %+v", v.Fence)
	}
}

func TestHQAwayForADay(t *testing.T) {
	store := hqtest.NewStore(10, 3)
	srv := newHQServer(t, store)
	m := newMesh(t, store, srv)
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(13, 14)))
	m.record(t, w.Sales(300, day0, 10_000))
	m.start(t)
	waitFor(t, "HQ to hold the morning's events", 10*time.Second, func() bool { return m.hqHolds(w.State.Vector()) })

	srv.down.Store(true)
	// A day of trading while HQ is away: 4,500 events over 24 hours,
	// recorded in chunks while the relay keeps trying.
	start := day0 + 300*10_000
	for k := range 15 {
		m.record(t, w.Sales(300, start+int64(k)*300*19_200, 19_200))
	}
	// Each till counts what HQ lacked when it last heard from HQ: at
	// least the day.
	waitFor(t, "every till to see HQ away with the day unsent", 10*time.Second, func() bool {
		for _, tl := range m.tills {
			st := tl.relay.Status()
			if st.Reachable || st.Unsent < 4500 {
				if os.Getenv("TILLMESH_TEST_LOG") != "" {
					t.Logf("till %d: %+v", tl.n, st)
				}
				return false
			}
		}
		return true
	})
	if n, _ := srv.Count(t.Context(), store.ID); n != 300 {
		t.Fatalf("HQ holds %d events while away, want 300", n)
	}

	back := time.Now()
	srv.down.Store(false)
	waitFor(t, "the backlog to drain", 30*time.Second, func() bool { return m.hqHolds(w.State.Vector()) })
	t.Logf("4,500-event backlog drained %v after HQ came back", time.Since(back).Round(time.Millisecond))
	checkExactlyOnce(t, m, w)
	waitFor(t, "every till to see nothing unsent", 5*time.Second, func() bool {
		for _, tl := range m.tills {
			if st := tl.relay.Status(); !st.Reachable || st.Unsent != 0 {
				return false
			}
		}
		return true
	})
	if v, _ := srv.Store(store.ID); v.Backlog != 0 || v.LastContact == 0 {
		t.Errorf("HQ's store view: backlog %d, last contact %d", v.Backlog, v.LastContact)
	}
}

func TestDownlinkReachesTheCRDTOnce(t *testing.T) {
	store := hqtest.NewStore(20, 2)
	srv := newHQServer(t, store)
	m := newMesh(t, store, srv)
	ctx := t.Context()
	for i := range 3 {
		p := hqapi.Product{SKU: "10" + strconv.Itoa(i), Name: "Tea", Price: 250 + ledger.Money(i), Currency: "EUR", TaxRate: 700, Unit: "ea"}
		if _, err := srv.PutProduct(ctx, nil, p, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.PutStaff(ctx, &store.ID, "7", "Ana", "manager", "2468", "admin"); err != nil {
		t.Fatal(err)
	}
	m.start(t)
	cursor := func() string {
		b, _ := m.inv.Setting(ctx, relay.CursorSetting)
		return string(b)
	}
	waitFor(t, "the downlink", 10*time.Second, func() bool { return cursor() == "4" })
	m.inv.mu.Lock()
	if len(m.inv.products) != 3 || m.inv.products["102"].Price != 252 || m.inv.staff["7"].Role != crdt.RoleManager || m.inv.puts != 4 {
		t.Errorf("inventory after downlink: %d products, staff %+v, %d puts", len(m.inv.products), m.inv.staff, m.inv.puts)
	}
	if !hq.CheckSecret(string(m.inv.staff["7"].PINHash), "2468") {
		t.Error("the staff PIN hash does not check the PIN")
	}
	m.inv.mu.Unlock()

	// A price change after the relay dies reaches the store through the
	// next relay, which goes on from the cursor in the CRDT.
	m.tills[0].kill()
	if _, err := srv.PutProduct(ctx, &store.ID, hqapi.Product{SKU: "100", Name: "Tea", Price: 199, Currency: "EUR", TaxRate: 700, Unit: "ea"}, "admin"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the change through the new relay", 10*time.Second, func() bool { return cursor() == "5" })
	m.inv.mu.Lock()
	if m.inv.products["100"].Price != 199 || m.inv.puts != 5 {
		t.Errorf("after failover: price %d, %d puts (want 199 and 5: nothing applied twice)", m.inv.products["100"].Price, m.inv.puts)
	}
	m.inv.mu.Unlock()

	// HQ deactivates the manager: the store keeps the PIN hash it has;
	// then removes them: the hash goes, and a later edit from HQ cannot
	// bring them back.
	if _, err := srv.StaffStatus(ctx, &store.ID, "7", "Ana", "manager", true, false, "admin"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deactivation", 10*time.Second, func() bool { return cursor() == "6" })
	m.inv.mu.Lock()
	if st := m.inv.staff["7"]; !st.Inactive || !hq.CheckSecret(string(st.PINHash), "2468") {
		t.Errorf("deactivated from HQ: %+v", st)
	}
	m.inv.mu.Unlock()
	if _, err := srv.StaffStatus(ctx, &store.ID, "7", "Ana", "manager", false, true, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.PutStaff(ctx, &store.ID, "7", "Ana", "manager", "1357", "admin"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removal and the edit after it", 10*time.Second, func() bool { return cursor() == "8" })
	m.inv.mu.Lock()
	defer m.inv.mu.Unlock()
	if st := m.inv.staff["7"]; !st.Removed || len(st.PINHash) != 0 {
		t.Errorf("removed from HQ, then edited: %+v", st)
	}
}

// An HQ price edit of a product the store created keeps its barcodes,
// and a name the till changed while the edit was on its way (issue: an HQ
// price change wiped a product's barcodes at every till).
func TestHQPriceEditKeepsBarcodes(t *testing.T) {
	store := hqtest.NewStore(40, 2)
	srv := newHQServer(t, store)
	m := newMesh(t, store, srv)
	ctx := t.Context()
	bread := crdt.Product{SKU: "10002", Name: "Bread small", Barcodes: []string{"4000000100027"}, Price: 129,
		Currency: "EUR", TaxRate: 700, Unit: ledger.Each}
	if err := m.inv.PutProduct(ctx, bread); err != nil {
		t.Fatal(err)
	}
	m.start(t)
	// The relay reports the store's catalog: HQ can show the product whole.
	var known hq.CatalogEntry
	waitFor(t, "HQ to know the store's catalog", 10*time.Second, func() bool {
		cat, err := srv.Catalog(ctx)
		if err != nil || len(cat.Products) != 1 {
			return false
		}
		known = cat.Products[0]
		return true
	})
	if known.Source != hq.SourceStore || known.Store == nil || *known.Store != store.ID ||
		!slices.Equal(known.Product.Barcodes, bread.Barcodes) || known.Product.Name != bread.Name {
		t.Fatalf("HQ's entry for the store's product: %+v", known)
	}
	// Meanwhile a manager at a till renames it.
	renamed := bread
	renamed.Name = "Bread, small loaf"
	if err := m.inv.PutProduct(ctx, renamed); err != nil {
		t.Fatal(err)
	}
	// HQ edits the price only, as its form does: the other fields it sends
	// are what it showed, and must not reach the till.
	edit := known.Product
	edit.Price = 149
	edit.Barcodes = nil
	c, err := srv.EditProduct(ctx, &store.ID, edit, []string{hqapi.FieldPrice}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Product.Barcodes, bread.Barcodes) || !slices.Equal(c.Fields, []string{hqapi.FieldPrice}) {
		t.Errorf("the change HQ recorded: %+v fields %v (want the known barcodes and only price)", c.Product, c.Fields)
	}
	waitFor(t, "the price at the till", 10*time.Second, func() bool {
		p, err := m.inv.Product(ctx, "10002")
		return err == nil && p.Price == 149
	})
	p, _ := m.inv.Product(ctx, "10002")
	if !slices.Equal(p.Barcodes, bread.Barcodes) || p.Name != renamed.Name || p.TaxRate != 700 {
		t.Errorf("product at the till after HQ's price edit: %+v (want barcodes %v and name %q kept)", p, bread.Barcodes, renamed.Name)
	}
	// HQ's view shows the edit on top of the report, then the next report.
	waitFor(t, "HQ's view of the edited product", 10*time.Second, func() bool {
		cat, err := srv.Catalog(ctx)
		return err == nil && len(cat.Products) == 1 && cat.Products[0].Product.Price == 149 &&
			cat.Products[0].Product.Name == renamed.Name && slices.Equal(cat.Products[0].Product.Barcodes, bread.Barcodes)
	})

	// Bad edits change nothing: an unknown field, a partial edit of a
	// product HQ does not know.
	if _, err := srv.EditProduct(ctx, &store.ID, edit, []string{"colour"}, "admin"); !errors.Is(err, hq.ErrInvalid) {
		t.Errorf("unknown field: %v, want ErrInvalid", err)
	}
	if _, err := srv.EditProduct(ctx, &store.ID, hqapi.Product{SKU: "99999", Price: 5}, []string{hqapi.FieldPrice}, "admin"); !errors.Is(err, hq.ErrInvalid) {
		t.Errorf("partial edit of an unknown product: %v, want ErrInvalid", err)
	}
}

func TestStaleRelayStepsDown(t *testing.T) {
	store := hqtest.NewStore(30, 2)
	srv := newHQServer(t, store)
	m := newMesh(t, store, srv)
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(15, 16)))
	m.record(t, w.Sales(100, day0, 1000))
	m.start(t)
	waitFor(t, "till 1 as relay", 10*time.Second, func() bool {
		l := m.leaders()
		return len(l) == 1 && l[0] == 1 && m.hqHolds(w.State.Vector())
	})
	// Another relay (on the far side of a partition) shows HQ a newer
	// token: till 1's next request is refused as stale and it steps down.
	tok := m.tills[0].relay.Status().Token
	if _, err := srv.VectorOf(t.Context(), store.ID, store.Tills[1].ID, tok+5, nil); err != nil {
		t.Fatal(err)
	}
	m.record(t, w.Sales(50, day0+200_000, 1000))
	waitFor(t, "till 1 to step down", 5*time.Second, func() bool { return !m.tills[0].relay.IsRelay() })
	// Once the newer relay goes quiet, a relay takes over above its
	// token and the new events reach HQ.
	waitFor(t, "HQ to hold every event", 10*time.Second, func() bool { return m.hqHolds(w.State.Vector()) })
	var tokens []uint64
	for _, tl := range m.tills {
		if st := tl.relay.Status(); st.IsRelay {
			tokens = append(tokens, st.Token)
		}
	}
	if len(tokens) != 1 || tokens[0] <= tok+5 {
		t.Errorf("relay tokens after takeover: %v, want one above %d", tokens, tok+5)
	}
	checkExactlyOnce(t, m, w)
}

func TestConfigValidate(t *testing.T) {
	store := hqtest.NewStore(40, 1)
	good := fastConfig()
	good.Store, good.Key, good.Cert, good.HQ = store.ID, store.Tills[0].Key, store.Certs[0], "http://hq"
	good.Ledger, good.Host, good.PubSub = fakeLedger{}, nil, nil
	tests := []struct {
		name string
		edit func(*relay.Config)
	}{
		{"no host", func(c *relay.Config) {}},
		{"no hq", func(c *relay.Config) { c.HQ = "" }},
		{"wrong cert", func(c *relay.Config) { c.Key = hqtest.NewStore(50, 1).Tills[0].Key }},
		{"lease below two heartbeats", func(c *relay.Config) { c.Lease = c.Heartbeat }},
		{"batch zero", func(c *relay.Config) { c.Batch = 0 }},
	}
	for _, tc := range tests {
		c := good
		tc.edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", tc.name)
		}
	}
}

type fakeLedger struct{}

func (fakeLedger) Vector() ledger.Vector { return nil }
func (fakeLedger) RangeRaw(ledger.TillID, uint64, func(uint64, []byte) bool) error {
	return errors.New("empty")
}
func (fakeLedger) Certificates() (map[ledger.TillID]*ledger.Certificate, error) { return nil, nil }
