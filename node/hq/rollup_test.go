package hq_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
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

		// Every upload stored its rollup with its events: a start, as
		// after a crash (no WriteRollups), folds none of them.
		st.Close()
		st = b.open(t, place)
		r, err := st.Rollup(ctx, store.ID)
		if err != nil || r.Vector.Total() != 2400 {
			t.Fatalf("rollup covers %d events (%v), want the 2,400 uploaded", r.Vector.Total(), err)
		}
		h3 := newHQ(t, st)
		checkFold(t, h3, store.ID, ref)
		if s := h3.Started(); s.FromRollup != 1 || s.Folded != 0 {
			t.Errorf("start: %+v, want the store from its rollup and no event folded", s)
		}
		upload(h3, evs[2400:], false)
		st.Close()
		st = b.open(t, place)
		h4 := newHQ(t, st)
		checkFold(t, h4, store.ID, w.State)
		if s := h4.Started(); s.Folded != 0 {
			t.Errorf("start after more uploads folded %d events, want 0", s.Folded)
		}
		// The events span several business days, one record each.
		if r, _ := st.Rollup(ctx, store.ID); r.Vector.Total() != 3000 || len(r.Days) < 2 {
			t.Fatalf("rollup covers %d events in %d days, want 3000 in several", r.Vector.Total(), len(r.Days))
		}
		// A rollup whose head or a day does not decode is not used:
		// every event is folded.
		for _, bad := range []hq.Rollup{
			{Version: 2, Vector: ledger.Vector{store.Tills[0].ID: 5}, Body: []byte("{"), Replace: true},
			{Version: 2, Vector: ledger.Vector{store.Tills[0].ID: 5}, Body: []byte(`{"location":"UTC"}`),
				Days: []hq.RollupDay{{Day: "2026-01-01", Body: []byte("[")}}},
		} {
			gen, err := st.RollupGen(ctx, store.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.PutRollup(ctx, store.ID, bad); !errors.Is(err, hq.ErrRollupMoved) {
				t.Fatalf("a rollup written over generation 0 at %d: %v, want ErrRollupMoved", gen, err)
			}
			bad.Gen = gen
			if err := st.PutRollup(ctx, store.ID, bad); err != nil {
				t.Fatal(err)
			}
			st.Close()
			st = b.open(t, place)
			h5 := newHQ(t, st)
			checkFold(t, h5, store.ID, w.State)
			if s := h5.Started(); s.Folded != 3000 {
				t.Errorf("start over a rollup that does not decode folded %d events, want all 3000", s.Folded)
			}
		}
		st.Close()
	})
}

// A store's business day changes: its folds are refolded and the stored
// day records replaced, so a start uses them and folds nothing.
func TestRollupDaysReplacedWithBusinessDay(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		store := hqtest.NewStore(64, 2)
		place := b.place(t)
		st := b.open(t, place)
		h := newHQ(t, st, store)
		w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(9, 9)))
		evs := w.Sales(600, day0, 7*61_000)
		if _, err := h.Ingest(t.Context(), store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts(), Events: raws(evs)}); err != nil {
			t.Fatal(err)
		}
		if err := h.SetBusinessDay(t.Context(), store.ID, hq.DayRule{TimeZone: "Pacific/Kiritimati", DayEnd: "04:30"}); err != nil {
			t.Fatal(err)
		}
		st.Close()
		st = b.open(t, place)
		h2 := newHQ(t, st)
		checkFold(t, h2, store.ID, w.State)
		if s := h2.Started(); s.FromRollup != 1 || s.Folded != 0 {
			t.Errorf("start after the business day changed: %+v, want the store from its rollup, nothing folded", s)
		}
		st.Close()
	})
}

// Three HQ processes on one PostgreSQL database take a store's uploads
// behind a load balancer: each round, the batches of the store's three
// tills race through the three processes at once (goroutines released
// together), each process taking another till each round, so each holds
// folds behind the others'. One process is held in its transaction
// while the others commit the same business days, then let go (a stale
// writer); later it is killed in the middle of an upload and the relay
// sends the batch again to another. Nothing is lost or counted twice:
// the database holds each event once, its rollup covers every event, and
// a process started afterwards reports exactly the fold of the store's
// ledger without folding an event.
func TestThreeHQProcessesOneKilledMidUpload(t *testing.T) {
	b := backends[1] // postgres
	dsn := b.place(t)
	store := hqtest.NewStore(70, 3)
	g := &gatedStorage{Storage: b.open(t, dsn), held: make(chan string), release: make(chan struct{})}
	// All three start before the store is registered (at the first):
	// the others learn it, and the certificates the first verified, from
	// the database when a relay's request names them.
	procs := []*hq.HQ{newHQ(t, g), newHQ(t, b.open(t, dsn)), newHQ(t, b.open(t, dsn))}
	if err := procs[0].RegisterStore(t.Context(), store.ID, store.Name, store.CAPublic()); err != nil {
		t.Fatal(err)
	}
	const rounds, per = 8, 40
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(11, 12)))
	// 4 business days; each round's batches fall in the same hours.
	evs := w.Sales(3*rounds*per, day0, 300_000)
	batches := tillBatches(store, evs, per)
	batch := func(till, round int) []*ledger.Event { return batches[till][round] }
	ctx := t.Context()
	// The relay's first contact brings the certificates; the HTTP API
	// authenticates every request first, with no certificate header, so
	// each process must find them in the database.
	if _, err := procs[0].Ingest(ctx, store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts()}); err != nil {
		t.Fatal(err)
	}
	send := func(ctx context.Context, h *hq.HQ, till int, part []*ledger.Event) error {
		if err := h.Authenticate(ctx, store.ID, store.Tills[till].ID, nil); err != nil {
			return err
		}
		res, err := h.Ingest(ctx, store.ID, store.Tills[till].ID, &hqapi.Upload{Fence: 1, Events: raws(part)})
		if err == nil && (len(res.Rejected) > 0 || res.Accepted+res.Duplicates != len(part)) {
			err = fmt.Errorf("accepted %d, duplicates %d of %d, %d rejected", res.Accepted, res.Duplicates, len(part), len(res.Rejected))
		}
		return err
	}
	alive := []*hq.HQ{procs[0], procs[1], procs[2]}
	const stale, killed = 2, 5 // the rounds in which procs[0] is held in its transaction
	for r := range rounds {
		kctx, kill := context.WithCancel(ctx)
		go0 := make(chan struct{})
		done := make([]chan error, 3)
		heldTill := -1
		for i := range 3 {
			h := alive[(i+r)%len(alive)]
			c := ctx
			if h == procs[0] && (r == stale || r == killed) {
				heldTill, c = i, kctx
				g.armAppend.Store(true)
			}
			done[i] = make(chan error, 1)
			go func() {
				<-go0
				var err error
				// The relay retries what failed: a write another process
				// made meanwhile (ErrRollupMoved, ErrHeadMoved: 503 to a
				// relay) as long as it takes, anything else a few times.
				for try, conflicts := 0, 0; try < 3 && conflicts < 100; try++ {
					if err = send(c, h, i, batch(i, r)); err == nil || c.Err() != nil {
						break
					}
					if errors.Is(err, hq.ErrRollupMoved) || errors.Is(err, hq.ErrHeadMoved) {
						try, conflicts = try-1, conflicts+1
					}
				}
				done[i] <- err
			}()
		}
		close(go0)
		if heldTill >= 0 {
			select {
			case what := <-g.held:
				if what != "append" {
					t.Fatalf("round %d: held in its %s", r, what)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: the first process's upload of till %d not held in its transaction", r, heldTill)
			}
			// The other tills' batches of the round, over the same
			// hours, commit through the other processes meanwhile.
			for i := range 3 {
				if i != heldTill {
					if err := <-done[i]; err != nil {
						t.Fatalf("round %d, till %d: %v", r, i, err)
					}
					done[i] <- nil
				}
			}
			if r == killed {
				kill() // dies before it commits: its transaction never ends
			}
			g.release <- struct{}{}
		}
		for i := range 3 {
			err := <-done[i]
			if i == heldTill && r == killed {
				if err == nil {
					t.Fatalf("round %d: the killed process's upload committed", r)
				}
				// The relay's retry reaches another process.
				alive = alive[1:]
				err = send(ctx, alive[r%len(alive)], i, batch(i, r))
			}
			if err != nil {
				t.Fatalf("round %d, till %d: %v", r, i, err)
			}
		}
		kill()
	}
	if n, err := alive[0].Count(ctx, store.ID); err != nil || n != uint64(len(evs)) {
		t.Fatalf("the database holds %d events (%v), want %d", n, err, len(evs))
	}
	h := newHQ(t, b.open(t, dsn))
	checkFold(t, h, store.ID, w.State)
	if s := h.Started(); s.FromRollup != 1 || s.Folded != 0 {
		t.Errorf("start after the race: %+v, want the store from its rollup and no event folded", s)
	}
}

// tillBatches splits a store's events by till into rounds of per events.
func tillBatches(store *hqtest.Store, evs []*ledger.Event, per int) [][][]*ledger.Event {
	out := make([][][]*ledger.Event, len(store.Tills))
	for i, t := range store.Tills {
		var mine []*ledger.Event
		for _, ev := range evs {
			if ev.Till == t.ID {
				mine = append(mine, ev)
			}
		}
		for k := 0; k+per <= len(mine); k += per {
			out[i] = append(out[i], mine[k:k+per])
		}
	}
	return out
}

// A store's tills reach HQ in any order: a refund taken at one till can
// be folded before the sale it refunds, uploaded later from another. Its
// weighed lines count as units until the sale arrives, then as the
// ledger counts them; the figures equal the fold of the store's ledger
// whatever the order, across a start in the middle too (the refunds
// waiting for their sale are in the rollup).
func TestFiguresWhateverTheTillsUploadOrder(t *testing.T) {
	b := backends[0] // badger
	place := b.place(t)
	st := b.open(t, place)
	store := hqtest.NewStore(70, 3)
	h := newHQ(t, st, store)
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(11, 12)))
	batches := tillBatches(store, w.Sales(960, day0, 300_000), 40)
	if _, err := h.Ingest(t.Context(), store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts()}); err != nil {
		t.Fatal(err)
	}
	for r := range batches[0] {
		if r == 4 {
			st.Close()
			st = b.open(t, place)
			h = newHQ(t, st)
		}
		for _, i := range []int{2, 1, 0} { // the newest till's refunds first
			if _, err := h.Ingest(t.Context(), store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Events: raws(batches[i][r])}); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkFold(t, h, store.ID, w.State)
}

// gatedStorage holds the next Event and the next Append call, once
// armed, until the test releases it, telling the test which it holds.
type gatedStorage struct {
	hq.Storage
	armEvent, armAppend atomic.Bool
	held                chan string
	release             chan struct{}
	appended            chan ledger.StoreID // if not nil, told the store of every Append
}

func (g *gatedStorage) hold(armed *atomic.Bool, what string) {
	if armed.CompareAndSwap(true, false) {
		g.held <- what
		<-g.release
	}
}

func (g *gatedStorage) Event(ctx context.Context, id ledger.EventID) ([]byte, error) {
	g.hold(&g.armEvent, "fold")
	return g.Storage.Event(ctx, id)
}

func (g *gatedStorage) Append(ctx context.Context, store ledger.StoreID, evs []*ledger.Event, heads []hq.HeadUpdate, roll *hq.Rollup) error {
	if g.appended != nil {
		g.appended <- store
	}
	g.hold(&g.armAppend, "append")
	return g.Storage.Append(ctx, store, evs, heads, roll)
}

// TestViewsReadCommittedFoldsWithoutWaiting: while an upload is held in
// its fold (looking up the refunded sale) and then in its transaction,
// the chain report answers at once with what is committed, without the
// upload's refund; once the upload is stored, the report has it.
func TestViewsReadCommittedFoldsWithoutWaiting(t *testing.T) {
	ctx := t.Context()
	store := hqtest.NewStore(41, 2)
	bst, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedStorage{Storage: closeOnce(t, bst), held: make(chan string), release: make(chan struct{})}
	h := newHQ(t, g, store)
	t1, t2 := store.Tills[0], store.Tills[1]
	sale := t1.MustNext(ledgertest.Sale3(), day0)
	if res, err := h.Ingest(ctx, store.ID, t1.ID, &hqapi.Upload{Fence: 1, Events: raws([]*ledger.Event{sale}), Certs: store.EncodedCerts()}); err != nil || res.Accepted != 1 {
		t.Fatalf("upload the sale: %+v %v", res, err)
	}
	refund := t2.MustNext(&ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "2",
		Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 119, Tax: 8, Rate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 119}}, Offline: &ledger.OfflineSpend{Owner: t1.ID, Approver: "3"}}, day0+1)
	g.armEvent.Store(true)
	g.armAppend.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := h.Ingest(ctx, store.ID, t1.ID, &hqapi.Upload{Fence: 1, Events: raws([]*ledger.Event{refund})})
		done <- err
	}()
	held := func(want string) {
		t.Helper()
		select {
		case got := <-g.held:
			if got != want {
				t.Fatalf("upload held in its %s, want its %s", got, want)
			}
		case err := <-done:
			t.Fatalf("upload ended (%v) before it was held in its %s", err, want)
		case <-time.After(30 * time.Second):
			t.Fatalf("upload not held in its %s within 30 s", want)
		}
	}
	report := func(when string, refunds int) {
		t.Helper()
		got := make(chan hq.Report, 1)
		go func() { got <- h.Report(hq.Query{}) }()
		select {
		case rep := <-got:
			if rep.Total.Sales != 1 || rep.Total.Refunds != refunds {
				t.Fatalf("%s: report has %d sales, %d refunds; want 1, %d", when, rep.Total.Sales, rep.Total.Refunds, refunds)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the report waited for the upload", when)
		}
	}
	held("fold")
	report("upload held in its fold", 0)
	g.release <- struct{}{}
	held("append")
	report("upload held in its transaction", 0)
	g.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	report("upload stored", 1)

	// A range of ten years reads the days held in it (binary search
	// over the store's sorted days), not ten years of days: the same
	// figures; a range holding no day, or turned round, is empty.
	if rep := h.Report(hq.Query{From: "2016-01-01", To: "2026-12-31"}); rep.Total.Sales != 1 || rep.Total.Refunds != 1 || len(rep.Days) != 1 {
		t.Fatalf("ten years: %d sales, %d refunds, %d days; want 1, 1, 1", rep.Total.Sales, rep.Total.Refunds, len(rep.Days))
	}
	for _, q := range []hq.Query{{From: "1990-01-01", To: "1999-12-31"}, {From: "2026-12-31", To: "2016-01-01"}} {
		if rep := h.Report(q); rep.Total.Sales != 0 || len(rep.Days) != 0 || len(rep.Hours) != 0 {
			t.Fatalf("%s..%s: %+v, want nothing", q.From, q.To, rep.Total)
		}
	}
}

// With one ingest worker, an upload held in its fold keeps the one CPU
// slot: another store's upload, sent meanwhile, waits for it and
// reaches storage only after the held one (uploads of other stores
// otherwise run in parallel); both are stored.
func TestIngestWorkersBoundTheFolds(t *testing.T) {
	ctx := t.Context()
	a, b := hqtest.NewStore(42, 2), hqtest.NewStore(43, 1)
	bst, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedStorage{Storage: closeOnce(t, bst), held: make(chan string), release: make(chan struct{})}
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger, cfg.IngestWorkers = g, quiet(), 1
	h, err := hq.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*hqtest.Store{a, b} {
		if err := h.RegisterStore(ctx, s.ID, s.Name, s.CAPublic()); err != nil {
			t.Fatal(err)
		}
	}
	t1, t2 := a.Tills[0], a.Tills[1]
	sale := t1.MustNext(ledgertest.Sale3(), day0)
	if _, err := h.Ingest(ctx, a.ID, t1.ID, &hqapi.Upload{Fence: 1, Events: raws([]*ledger.Event{sale}), Certs: a.EncodedCerts()}); err != nil {
		t.Fatal(err)
	}
	refund := t2.MustNext(&ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "2",
		Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 119, Tax: 8, Rate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 119}}, Offline: &ledger.OfflineSpend{Owner: t1.ID, Approver: "3"}}, day0+1)
	g.appended = make(chan ledger.StoreID, 2)
	g.armEvent.Store(true)
	errs := make(chan error, 2)
	go func() {
		_, err := h.Ingest(ctx, a.ID, t1.ID, &hqapi.Upload{Fence: 1, Events: raws([]*ledger.Event{refund})})
		errs <- err
	}()
	select {
	case what := <-g.held:
		if what != "fold" {
			t.Fatalf("held in its %s, want its fold", what)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("upload not held in its fold within 30 s")
	}
	go func() {
		ev := b.Tills[0].MustNext(ledgertest.Sale3(), day0)
		_, err := h.Ingest(ctx, b.ID, b.Tills[0].ID, &hqapi.Upload{Fence: 1, Events: raws([]*ledger.Event{ev}), Certs: b.EncodedCerts()})
		errs <- err
	}()
	// The second must not reach storage while the first holds the slot
	// (a bounded look: it never passes a store that waits for the slot).
	select {
	case got := <-g.appended:
		t.Fatalf("store %s's upload reached storage while the held one had the only slot", got)
	case <-time.After(300 * time.Millisecond):
	}
	g.release <- struct{}{}
	for i, want := range []ledger.StoreID{a.ID, b.ID} {
		select {
		case got := <-g.appended:
			if got != want {
				t.Fatalf("append %d is store %s's, want %s's: the second upload did not wait for the slot", i+1, got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("append %d not reached within 30 s", i+1)
		}
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
