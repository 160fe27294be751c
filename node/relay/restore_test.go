package relay_test

import (
	"context"
	"github.com/tillmesh/tillmesh/ledger"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/node/relay"
)

// TestHQRestoredFromBackup: HQ takes a backup mid-day while it runs, more
// sales are made and relayed, then HQ is lost and brought back from the
// backup, which lacks the afternoon. The relays send HQ what its vector
// lacks (not what they remember sending), so HQ ends with every event
// exactly once and figures equal to the fold of the tills' ledgers; and a
// price change made at the restored HQ reaches the store although the
// store's downlink cursor had gone past the restored HQ's newest change.
func TestHQRestoredFromBackup(t *testing.T) {
	ctx := t.Context()
	store := hqtest.NewStore(60, 3)
	dir := t.TempDir()
	open := func(sub string) (*hq.Badger, *hq.HQ) {
		st, err := hq.OpenBadger(filepath.Join(dir, sub), quiet())
		if err != nil {
			t.Fatal(err)
		}
		cfg := hq.DefaultConfig()
		cfg.Storage, cfg.Logger = st, quiet()
		h, err := hq.New(context.Background(), cfg)
		if err != nil {
			st.Close()
			t.Fatal(err)
		}
		return st, h
	}
	st1, h1 := open("hq")
	if err := h1.RegisterStore(ctx, store.ID, store.Name, store.CAPublic()); err != nil {
		t.Fatal(err)
	}
	var live atomic.Pointer[http.Handler]
	setHQ := func(h *hq.HQ) {
		hd := h.Handler()
		live.Store(&hd)
	}
	setHQ(h1)
	srv := &hqServer{HQ: h1}
	srv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if srv.down.Load() {
			panic(http.ErrAbortHandler)
		}
		(*live.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.srv.Close)

	m := newMesh(t, store, srv)
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(61, 62)))
	cursor := func() string {
		b, _ := m.inv.Setting(ctx, relay.CursorSetting)
		return string(b)
	}
	price := func(sku string) int64 {
		p, err := m.inv.Product(ctx, sku)
		if err != nil {
			return 0
		}
		return int64(p.Price)
	}
	putPrice := func(h *hq.HQ, p int64) {
		t.Helper()
		if _, err := h.PutProduct(ctx, &store.ID, hqapi.Product{SKU: "100", Name: "Tea", Price: ledger.Money(p), Currency: "EUR", TaxRate: 700, Unit: "ea"}, "admin"); err != nil {
			t.Fatal(err)
		}
	}

	// The morning, relayed, and a price the store takes.
	putPrice(h1, 250)
	m.record(t, w.Sales(400, day0, 30_000))
	m.start(t)
	waitFor(t, "HQ to hold the morning", 20*time.Second, func() bool { return m.hqHolds(w.State.Vector()) })
	waitFor(t, "the morning's price at the store", 10*time.Second, func() bool { return cursor() == "1" && price("100") == 250 })
	morning := w.State.Vector().Total()

	// The backup, taken while HQ runs and the relay uploads.
	m.record(t, w.Sales(100, day0+400*30_000, 30_000))
	backup := filepath.Join(dir, "hq.backup")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st1.Backup(ctx, f, time.UnixMilli(day0))
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	atBackup := info.Events[store.Name]
	if atBackup < morning || atBackup > w.State.Vector().Total() {
		t.Fatalf("backup holds %d events, want %d to %d", atBackup, morning, w.State.Vector().Total())
	}
	t.Logf("backup taken with %d events at HQ", atBackup)

	// The afternoon, relayed, and a second price.
	m.record(t, w.Sales(500, day0+500*30_000, 30_000))
	putPrice(h1, 260)
	waitFor(t, "HQ to hold the afternoon", 20*time.Second, func() bool { return m.hqHolds(w.State.Vector()) })
	waitFor(t, "the afternoon's price at the store", 10*time.Second, func() bool { return cursor() == "2" && price("100") == 260 })

	// HQ is lost and restored from the backup: the afternoon is gone
	// from it, and its newest change is the morning's.
	srv.down.Store(true)
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := hq.RestoreBadgerFile(ctx, filepath.Join(dir, "restored"), backup, quiet()); err != nil {
		t.Fatal(err)
	}
	st2, h2 := open("restored")
	t.Cleanup(func() { st2.Close() })
	if n, _ := st2.Count(ctx, store.ID); n != atBackup {
		t.Fatalf("restored HQ holds %d events, want the backup's %d", n, atBackup)
	}
	// Sales go on while HQ is away.
	m.record(t, w.Sales(200, day0+1000*30_000, 30_000))
	srv.HQ = h2
	setHQ(h2)
	srv.down.Store(false)

	waitFor(t, "the relays to fill in what came after the backup", 30*time.Second, func() bool { return m.hqHolds(w.State.Vector()) })
	checkExactlyOnce(t, m, w)

	// The store has taken change 2, which the restore lost; the restored
	// HQ numbers its next change far above it.
	putPrice(h2, 270)
	waitFor(t, "a price change at the restored HQ to reach the store", 10*time.Second, func() bool { return price("100") == 270 })
	waitFor(t, "every till to see nothing unsent", 10*time.Second, func() bool {
		for _, tl := range m.tills {
			if st := tl.relay.Status(); !st.Reachable || st.Unsent != 0 {
				return false
			}
		}
		return true
	})
}
