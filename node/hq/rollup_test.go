package hq_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// A start restores the store's rollup and folds only the events above
// it; the figures equal the fold of the store's ledger every time.
// Two HQ processes on one database take turns at a store's uploads: each
// reads back what the other stored before it folds its own, so neither
// counts an event twice or misses one.
func TestRollupsRestoreAndCatchUp(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(50, 3)
		place := b.place(t)
		st := b.open(t, place)
		h1 := newHQ(t, st, store)
		w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(7, 8)))
		evs := w.Sales(3000, day0, 61_000)
		upload := func(h *hq.HQ, part []*ledger.Event, first bool) {
			t.Helper()
			u := &hqapi.Upload{Fence: 1, Events: raws(part)}
			if first {
				u.Certs = store.EncodedCerts()
			}
			res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, u)
			if err != nil || len(res.Rejected) > 0 || res.Accepted != len(part) {
				var first any
				if len(res.Rejected) > 0 {
					first = res.Rejected[0]
				}
				t.Fatalf("upload: accepted %d of %d, %v, %d rejected, first %+v", res.Accepted, len(part), err, len(res.Rejected), first)
			}
		}
		// The relay reaches h1, then h2, then h1 again: h1's folds lack
		// h2's events until it reads them back.
		upload(h1, evs[:900], true)
		h2 := newHQ(t, st) // a second process on the same database, started now
		upload(h2, evs[900:1800], false)
		upload(h1, evs[1800:2400], false)
		ref := ledger.NewState(store.ID)
		for _, ev := range evs[:2400] {
			if _, err := ref.Apply(ev); err != nil {
				t.Fatal(err)
			}
		}
		checkFold(t, h1, store.ID, ref)

		// A start folds every event (no rollup yet) and writes one.
		st.Close()
		st = b.open(t, place)
		h3 := newHQ(t, st)
		checkFold(t, h3, store.ID, ref)
		if _, err := st.Rollup(ctx, store.ID); err != nil {
			t.Fatalf("no rollup after a start that folded events: %v", err)
		}
		// More events, then a start from the rollup plus the tail.
		upload(h3, evs[2400:], false)
		st.Close()
		st = b.open(t, place)
		r, err := st.Rollup(ctx, store.ID)
		if err != nil || r.Vector.Total() != 2400 {
			t.Fatalf("rollup covers %d events (%v), want the 2,400 of the last start", r.Vector.Total(), err)
		}
		h4 := newHQ(t, st)
		checkFold(t, h4, store.ID, w.State)
		if r, _ := st.Rollup(ctx, store.ID); r.Vector.Total() != 3000 {
			t.Fatalf("rollup after the second start covers %d events, want 3000", r.Vector.Total())
		}
		// A rollup that does not decode is not used: every event is folded.
		if err := st.PutRollup(ctx, store.ID, hq.Rollup{Version: 1, Vector: ledger.Vector{store.Tills[0].ID: 5}, Body: []byte("{")}); err != nil {
			t.Fatal(err)
		}
		st.Close()
		checkFold(t, newHQ(t, b.open(t, place)), store.ID, w.State)
	})
}

// A graceful stop writes every store's rollup, so the next start folds
// no event.
func TestWriteRollupsAtStop(t *testing.T) {
	store := hqtest.NewStore(60, 2)
	st := backends[0].open(t, backends[0].place(t))
	h := newHQ(t, st, store)
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(9, 9)))
	evs := w.Sales(300, day0, 61_000)
	if _, err := h.Ingest(t.Context(), store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts(), Events: raws(evs)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Rollup(t.Context(), store.ID); err == nil {
		t.Fatal("a rollup after 300 events; want none before RollupEvery")
	}
	if err := h.WriteRollups(t.Context()); err != nil {
		t.Fatal(err)
	}
	r, err := st.Rollup(t.Context(), store.ID)
	if err != nil || r.Vector.Total() != 300 {
		t.Fatalf("rollup after WriteRollups covers %d events (%v), want 300", r.Vector.Total(), err)
	}
	checkFold(t, newHQ(t, st), store.ID, w.State)
}

// Three HQ processes on one PostgreSQL database take a store's uploads in
// turn, as behind a load balancer; one is killed in the middle of an
// upload and the relay sends the batch again to another. Nothing is lost
// or counted twice: the database holds each event once, and a process
// started afterwards, like the one that took the last upload, reports
// exactly the fold of the store's ledger.
func TestThreeHQProcessesOneKilledMidUpload(t *testing.T) {
	b := backends[1] // postgres
	dsn := b.place(t)
	store := hqtest.NewStore(70, 3)
	// All three start before the store is registered (at the first):
	// the others learn it, and the certificates the first verified, from
	// the database when a relay's request names them.
	procs := []*hq.HQ{newHQ(t, b.open(t, dsn)), newHQ(t, b.open(t, dsn)), newHQ(t, b.open(t, dsn))}
	if err := procs[0].RegisterStore(t.Context(), store.ID, store.Name, store.CAPublic()); err != nil {
		t.Fatal(err)
	}
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(11, 12)))
	evs := w.Sales(3000, day0, 61_000)
	ctx := t.Context()
	alive := []int{0, 1, 2}
	var last *hq.HQ
	for k, i := 0, 0; k < len(evs); k, i = k+200, i+1 {
		u := &hqapi.Upload{Fence: 1, Events: raws(evs[k:min(k+200, len(evs))])}
		if k == 0 {
			u.Certs = store.EncodedCerts()
		}
		h := procs[alive[i%len(alive)]]
		if k > 0 {
			// The HTTP API authenticates every request first, with no
			// certificate header: HQ must know the till's.
			if err := h.Authenticate(ctx, store.ID, store.Tills[0].ID, nil); err != nil {
				t.Fatalf("batch at %d: %v", k, err)
			}
		}
		if k == 1400 {
			// Kill this process mid-upload: its request's context ends
			// while it works; whatever it committed stays, the rest is
			// rolled back. It takes no further request.
			kctx, kill := context.WithCancel(ctx)
			go kill()
			h.Ingest(kctx, store.ID, store.Tills[0].ID, u)
			alive = slices.DeleteFunc(alive, func(j int) bool { return procs[j] == h })
			h = procs[alive[i%len(alive)]] // the relay's retry reaches another
			if err := h.Authenticate(ctx, store.ID, store.Tills[0].ID, nil); err != nil {
				t.Fatal(err)
			}
		}
		res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, u)
		if errors.Is(err, hq.ErrHeadMoved) { // the relay retries once more
			res, err = h.Ingest(ctx, store.ID, store.Tills[0].ID, u)
		}
		if err != nil || len(res.Rejected) > 0 || res.Accepted+res.Duplicates != len(u.Events) {
			t.Fatalf("batch at %d: accepted %d duplicates %d of %d: %v (%d rejected)", k, res.Accepted, res.Duplicates, len(u.Events), err, len(res.Rejected))
		}
		last = h
	}
	if n, err := last.Count(ctx, store.ID); err != nil || n != 3000 {
		t.Fatalf("the database holds %d events (%v), want 3000", n, err)
	}
	checkFold(t, last, store.ID, w.State)
	checkFold(t, newHQ(t, b.open(t, dsn)), store.ID, w.State)
}
