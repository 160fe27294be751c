package hq_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// TestChainReportMaterialized: the dashboard's chain report is computed
// once for queries that come together, served at once afterwards, and
// after an upload it equals the fold of every event within a refresh,
// at the process that took the upload and, on PostgreSQL, at another
// process on the same database that took none (it notices the upload
// through the rollup generations), which started before the store was
// even registered.
func TestChainReportMaterialized(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(80, 2)
		place := b.place(t)
		var other *hq.HQ
		if b.name == "postgres" {
			other = newHQ(t, b.open(t, place))
		}
		st := &genCounter{Storage: b.open(t, place)}
		h := newHQ(t, st, store)
		w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(15, 16)))
		evs := w.Sales(400, day0, 97_000)
		upload := func(part []*ledger.Event, first bool) {
			t.Helper()
			u := &hqapi.Upload{Fence: 1, Events: raws(part)}
			if first {
				u.Certs = store.EncodedCerts()
			}
			if res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, u); err != nil || res.Accepted != len(part) {
				t.Fatalf("upload: %+v %v", res, err)
			}
		}
		upload(evs[:200], true)

		// Two queries released together: one computation, one answer.
		var wg sync.WaitGroup
		var got [2]hq.ServedReport
		start := make(chan struct{})
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var err error
				if got[i], err = h.ChainReport(ctx, hq.Query{}); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if got[0].Report == nil || got[0].Report != got[1].Report {
			t.Fatalf("two queries at once were served different reports")
		}
		if n := h.ChainStats().Computed; n != 1 {
			t.Fatalf("two queries at once computed the chain report %d times, want 1", n)
		}
		want := ledger.NewState(store.ID)
		apply := func(part []*ledger.Event) {
			for _, ev := range part {
				if _, err := want.Apply(ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		apply(evs[:200])
		if w := want.Fold().StoreReport(); !reflect.DeepEqual(got[0].Report.Total, w) {
			t.Fatalf("first chain report:\n got %+v\nwant %+v", got[0].Report.Total, w)
		}

		upload(evs[200:], false)
		apply(evs[200:])
		// Asked again and again, the report reaches the fold of every
		// event within a refresh, and stays there.
		exact := func(name string, h *hq.HQ) {
			t.Helper()
			wantTotal := want.Fold().StoreReport()
			deadline := time.Now().Add(20 * time.Second)
			for {
				s, err := h.ChainReport(ctx, hq.Query{})
				if err != nil {
					t.Fatal(err)
				}
				if reflect.DeepEqual(s.Report.Total, wantTotal) && len(s.Report.Stores) == 1 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: the chain report did not reach the fold of every event within 20 s: %d sales, want %d",
						name, s.Report.Total.Sales, wantTotal.Sales)
				}
				time.Sleep(5 * time.Millisecond) // poll interval, not a wait for an event
			}
		}
		// An upload reads the stored rollup generation only where another
		// process may have moved it: not on Badger, which one process
		// alone opens.
		switch n := st.reads.Load(); {
		case b.name == "badger" && n != 0:
			t.Errorf("uploads to Badger read the rollup generation %d times, want none", n)
		case b.name == "postgres" && n < 2:
			t.Errorf("two uploads to PostgreSQL read the rollup generation %d times, want one each", n)
		}
		exact("the process that took the upload", h)
		waitIdle(t, h)
		computed := h.ChainStats().Computed
		for range 3 { // nothing moved: served, checked, not computed again
			if _, err := h.ChainReport(ctx, hq.Query{}); err != nil {
				t.Fatal(err)
			}
		}
		if other != nil {
			exact("another process on the database", other)
		}
		waitIdle(t, h)
		if n := h.ChainStats().Computed; n != computed {
			t.Errorf("queries with nothing moved computed the report %d more times", n-computed)
		}
		if b.name != "badger" {
			return // what follows does not depend on the storage
		}
		// Each range asked for is a shape; at most 8 keep an answer, so
		// a caller asking for many ranges does not grow memory.
		for d := range 12 {
			day := time.UnixMilli(day0).UTC().AddDate(0, 0, d).Format(time.DateOnly)
			if _, err := h.ChainReport(ctx, hq.Query{From: day, To: day}); err != nil {
				t.Fatal(err)
			}
		}
		if n := h.ChainStats().Shapes; n != 8 {
			t.Errorf("after 13 shapes asked for, %d keep an answer, want 8", n)
		}
		// Stopped (before storage closes), no refresh runs: an answer
		// kept is served, a shape without one is refused.
		h.StopRefreshes()
		if _, err := h.ChainReport(ctx, hq.Query{From: "2026-01-12", To: "2026-01-12"}); err != nil {
			t.Errorf("a kept answer after the refreshes stopped: %v", err)
		}
		if _, err := h.ChainReport(ctx, hq.Query{From: "2025-01-01"}); err == nil {
			t.Error("a shape without an answer after the refreshes stopped was computed")
		}
		if n := h.ChainStats().Refreshing; n != 0 {
			t.Errorf("%d refreshes running after they stopped", n)
		}
	})
}

// genCounter counts the reads of a store's rollup generation.
type genCounter struct {
	hq.Storage
	reads atomic.Int64
}

func (g *genCounter) RollupGen(ctx context.Context, store ledger.StoreID) (uint64, error) {
	g.reads.Add(1)
	return g.Storage.RollupGen(ctx, store)
}

func (g *genCounter) Exclusive() bool { return g.Storage.(hq.Exclusive).Exclusive() }

func (g *genCounter) RollupGens(ctx context.Context) (map[ledger.StoreID]uint64, error) {
	return g.Storage.(hq.RollupGenLister).RollupGens(ctx)
}

// waitIdle waits until h's chain report refreshes have ended (each query
// starts one).
func waitIdle(t testing.TB, h *hq.HQ) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.ChainStats().Refreshing > 0 {
		if time.Now().After(deadline) {
			t.Fatal("chain report refreshes did not end within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
