package hq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

func revocationFile(t *testing.T, s *hqtest.Store, i int, after uint64) []byte {
	t.Helper()
	r := &ledger.Revocation{Store: s.ID, Till: s.Tills[i].ID, Number: uint32(i + 1), AfterSeq: after, Reason: "stolen", Issued: day0}
	if err := r.Sign(s.CA); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRevocation: HQ keeps a revocation signed by the store CA, refuses
// the till's requests and its events after AfterSeq (what it signed
// before stays), sends it down to the store, and keeps it across a
// restart; bad revocations change nothing.
func TestRevocation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store, other := hqtest.NewStore(30, 2), hqtest.NewStore(40, 2)
		place := b.place(t)
		st := b.open(t, place)
		h := newHQ(t, st, store)
		w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(5, 6)))
		evs := w.Sales(4, day0, 60_000) // till 1 seq 1, till 2 seq 1, till 1 seq 2, till 2 seq 2
		res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Events: raws(evs[:2]), Certs: store.EncodedCerts()})
		if err != nil || res.Accepted != 2 {
			t.Fatalf("first upload: %+v %v", res, err)
		}

		// Another store's CA, and a till HQ has no certificate of.
		if _, err := h.Revoke(ctx, store.ID, revocationFile(t, other, 1, 1), "admin"); !errors.Is(err, hq.ErrInvalid) || !strings.Contains(err.Error(), "not this store") {
			t.Errorf("another store's revocation: %v", err)
		}
		forged := revocationFile(t, store, 1, 1)
		forged = []byte(strings.Replace(string(forged), `"after_seq":1`, `"after_seq":9`, 1))
		if _, err := h.Revoke(ctx, store.ID, forged, "admin"); !errors.Is(err, hq.ErrInvalid) || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("altered revocation: %v", err)
		}
		third := hqtest.NewStore(30, 3) // same CA and store: a third till HQ never saw
		if _, err := h.Revoke(ctx, store.ID, revocationFile(t, third, 2, 0), "admin"); !errors.Is(err, hq.ErrInvalid) || !strings.Contains(err.Error(), "no certificate at HQ") {
			t.Errorf("unknown till: %v", err)
		}
		if err := h.Authenticate(ctx, store.ID, store.Tills[1].ID, nil); err != nil {
			t.Fatalf("bad revocations changed something: %v", err)
		}

		if _, err := h.Revoke(ctx, store.ID, revocationFile(t, store, 1, 1), "admin"); err != nil {
			t.Fatal(err)
		}
		check := func(h *hq.HQ) {
			t.Helper()
			if err := h.Authenticate(ctx, store.ID, store.Tills[1].ID, nil); !errors.Is(err, hq.ErrUnenrolled) {
				t.Errorf("revoked till authenticates: %v", err)
			}
			res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Events: raws(evs)})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rejected) != 1 || res.Rejected[0].Index != 3 || res.Rejected[0].Code != hqapi.CodeUnenrolled {
				t.Errorf("upload after the revocation: %+v", res)
			}
			if n, _ := h.Count(ctx, store.ID); n != 3 {
				t.Errorf("HQ holds %d events, want 3 (till 2's seq 1 stays)", n)
			}
			v, _ := h.Store(store.ID)
			for _, tv := range v.Tills {
				if tv.Revoked != (tv.Number == 2) || (tv.Revoked && tv.RevokedAfter != 1) {
					t.Errorf("store view: till %d revoked %v after %d", tv.Number, tv.Revoked, tv.RevokedAfter)
				}
			}
		}
		check(h)
		cs, err := h.ChangesFor(ctx, store.ID, 0, 100)
		if err != nil || len(cs.Changes) != 1 || cs.Changes[0].Kind != hqapi.KindRevocation {
			t.Errorf("downlink: %+v %v", cs, err)
		}
		st.Close()
		h2 := newHQ(t, b.open(t, place))
		check(h2)
	})
}

// TestRevocationTakesStoredEventsOutOfReports: HQ already holds a till's
// events above the AfterSeq of a revocation that arrives later. They stay
// stored as evidence, but leave the store's reports and stock at once and
// after a restart, and the store view counts them.
func TestRevocationTakesStoredEventsOutOfReports(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(50, 2)
		place := b.place(t)
		st := b.open(t, place)
		h := newHQ(t, st, store)
		w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(7, 8)))
		evs := w.Sales(8, day0, 60_000) // tills 1 and 2 in turn, seq 1-4 each
		if res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Events: raws(evs), Certs: store.EncodedCerts()}); err != nil || res.Accepted != 8 {
			t.Fatalf("upload: %+v %v", res, err)
		}
		kept := ledger.NewState(store.ID)
		for _, ev := range evs {
			if ev.Till == store.Tills[1].ID && ev.Seq > 1 {
				continue
			}
			if _, err := kept.Apply(ev); err != nil {
				t.Fatal(err)
			}
		}
		if rep, _ := h.StoreReport(store.ID); rep.Events != 8 {
			t.Fatalf("before the revocation HQ counts %d events, want 8", rep.Events)
		}
		if _, err := h.Revoke(ctx, store.ID, revocationFile(t, store, 1, 1), "admin"); err != nil {
			t.Fatal(err)
		}
		check := func(h *hq.HQ) {
			t.Helper()
			f := kept.Fold()
			if got, w := mustReport(t, h, store.ID), f.StoreReport(); !reflect.DeepEqual(got, w) {
				t.Errorf("store report:\n got %+v\nwant %+v", got, w)
			}
			rep := h.Report(hq.Query{Store: &store.ID, TopN: 1000})
			if w := f.TopProducts(1000); !reflect.DeepEqual(rep.Products, w) {
				t.Errorf("products:\n got %+v\nwant %+v", rep.Products, w)
			}
			stock, err := h.Stock(ctx, &store.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range stock {
				if s.Qty != f.StockTotal(s.SKU) {
					t.Errorf("stock of %s: %d, want %d", s.SKU, s.Qty, f.StockTotal(s.SKU))
				}
			}
			if n, _ := h.Count(ctx, store.ID); n != 8 {
				t.Errorf("HQ holds %d events, want all 8 kept as evidence", n)
			}
			v, _ := h.Store(store.ID)
			for _, tv := range v.Tills {
				if want := map[uint32]int{1: 0, 2: 3}[tv.Number]; tv.Refused != want {
					t.Errorf("till %d: %d events refused, want %d", tv.Number, tv.Refused, want)
				}
			}
		}
		check(h)
		st.Close()
		check(newHQ(t, b.open(t, place)))
	})
}

func mustReport(t *testing.T, h *hq.HQ, id ledger.StoreID) ledger.Report {
	t.Helper()
	r, ok := h.StoreReport(id)
	if !ok {
		t.Fatal("store unknown at HQ")
	}
	return r
}

// TestRevocationAcrossProcesses: two HQ processes on one PostgreSQL. A
// till revoked through one is revoked at the other before it takes
// another upload: the till's later events uploaded there are refused,
// its requests too, and the events above the revocation that the other
// process had already counted leave its folds; both chain reports, and
// a third process started afterwards, equal the fold without them.
func TestRevocationAcrossProcesses(t *testing.T) {
	b := backends[1]
	if b.name != "postgres" {
		t.Fatal("backends[1] is not postgres")
	}
	ctx := t.Context()
	store := hqtest.NewStore(60, 2)
	place := b.place(t)
	a := newHQ(t, b.open(t, place), store)
	other := newHQ(t, b.open(t, place)) // loads the store a registered
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(9, 10)))
	evs := w.Sales(12, day0, 60_000) // tills 1 and 2 in turn, seq 1-6 each
	if res, err := other.Ingest(ctx, store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Events: raws(evs[:8]), Certs: store.EncodedCerts()}); err != nil || res.Accepted != 8 {
		t.Fatalf("upload through the other process: %+v %v", res, err)
	}
	all, kept := ledger.NewState(store.ID), ledger.NewState(store.ID)
	for _, ev := range evs {
		if _, err := all.Apply(ev); err != nil {
			t.Fatal(err)
		}
		if ev.Till == store.Tills[1].ID && ev.Seq > 1 {
			continue
		}
		if _, err := kept.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	// a counts the other's upload (its chain report reads the rollup).
	before := ledger.NewState(store.ID)
	for _, ev := range evs[:8] {
		before.Apply(ev)
	}
	chainReaches(t, "the revoking process before the revocation", a, before.Fold().StoreReport())

	if _, err := a.Revoke(ctx, store.ID, revocationFile(t, store, 1, 1), "admin"); err != nil {
		t.Fatal(err)
	}
	// The other process's chain report leaves out the events above the
	// revocation it had counted, before it takes any request.
	keptBefore := ledger.NewState(store.ID)
	for _, ev := range evs[:8] {
		if ev.Till != store.Tills[1].ID || ev.Seq == 1 {
			keptBefore.Apply(ev)
		}
	}
	chainReaches(t, "the other process, which took no request since the revocation", other, keptBefore.Fold().StoreReport())
	if err := other.Authenticate(ctx, store.ID, store.Tills[1].ID, nil); !errors.Is(err, hq.ErrUnenrolled) {
		t.Errorf("the revoked till authenticates at the other process: %v", err)
	}
	res, err := other.Ingest(ctx, store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Events: raws(evs[8:])})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || len(res.Rejected) != 2 {
		t.Fatalf("the revoked till's later events at the other process: %+v", res)
	}
	for _, r := range res.Rejected {
		if r.Till != store.Tills[1].ID || r.Code != hqapi.CodeUnenrolled {
			t.Errorf("rejected %+v, want the revoked till's, unenrolled", r)
		}
	}
	want := kept.Fold().StoreReport()
	if got := mustReport(t, other, store.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("the other process's store report counts the refused events:\n got %+v\nwant %+v", got, want)
	}
	if n, _ := other.Count(ctx, store.ID); n != 10 {
		t.Errorf("HQ holds %d events, want 10 (the 3 above the revocation uploaded before it stay as evidence)", n)
	}
	ra := chainReaches(t, "the revoking process", a, want)
	rb := chainReaches(t, "the other process", other, want)
	if !reflect.DeepEqual(ra.Report.Products, rb.Report.Products) || !reflect.DeepEqual(ra.Report.Stores, rb.Report.Stores) {
		t.Errorf("the two processes' chain reports differ:\n%+v\n%+v", ra.Report.Stores, rb.Report.Stores)
	}
	if w := kept.Fold().TopProducts(20); !reflect.DeepEqual(ra.Report.Products, w) {
		t.Errorf("chain report products:\n got %+v\nwant %+v", ra.Report.Products, w)
	}
	if reflect.DeepEqual(want, all.Fold().StoreReport()) {
		t.Fatal("the test's refused events change nothing in the report")
	}
	third := newHQ(t, b.open(t, place))
	chainReaches(t, "a process started after", third, want)
}

// chainReaches asks h's chain report until its totals equal want.
func chainReaches(t *testing.T, name string, h *hq.HQ, want ledger.Report) hq.ServedReport {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := h.ChainReport(t.Context(), hq.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(s.Report.Total, want) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the chain report did not reach the fold within 20 s:\n got %+v\nwant %+v", name, s.Report.Total, want)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not a wait for an event
	}
}

// TestPostgresRevocationsOnAnOlderSchema: a database the previous
// release wrote (no hq_changes_revocations index) with a revocation in
// it opens with the index made, and the revocation is read through it
// and taken at start.
func TestPostgresRevocationsOnAnOlderSchema(t *testing.T) {
	ctx := t.Context()
	dsn := postgresDSN(t)
	store := hqtest.NewStore(61, 2)
	st := backends[1].open(t, dsn)
	h := newHQ(t, st, store)
	if res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts()}); err != nil || len(res.CertErrors) > 0 {
		t.Fatalf("certificates: %+v %v", res, err)
	}
	if _, err := h.Revoke(ctx, store.ID, revocationFile(t, store, 1, 0), "admin"); err != nil {
		t.Fatal(err)
	}
	h.StopRefreshes()
	st.Close()
	if err := pgExec(ctx, dsn, "DROP INDEX hq_changes_revocations"); err != nil {
		t.Fatal(err)
	}
	st2 := backends[1].open(t, dsn)
	if err := pgExec(ctx, dsn, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'hq_changes_revocations') THEN
			RAISE EXCEPTION 'no index hq_changes_revocations';
		END IF; END $$`); err != nil {
		t.Fatalf("opened on the older schema: %v", err)
	}
	cs, err := st2.(hq.RevocationReader).Revocations(ctx, &store.ID)
	if err != nil || len(cs) != 1 || cs[0].Kind != hqapi.KindRevocation {
		t.Fatalf("revocations read: %+v %v", cs, err)
	}
	if all, err := st2.(hq.RevocationReader).Revocations(ctx, nil); err != nil || len(all) != 1 {
		t.Fatalf("every store's revocations: %+v %v", all, err)
	}
	h2 := newHQ(t, st2)
	if err := h2.Authenticate(ctx, store.ID, store.Tills[1].ID, nil); !errors.Is(err, hq.ErrUnenrolled) {
		t.Errorf("the revoked till authenticates after the upgrade: %v", err)
	}
}

// TestRevocationRacesUploadsAcrossProcesses: a store's events uploaded
// in batches, each through one of two HQ processes on one PostgreSQL
// chosen at random, while a till is revoked through one of them at a
// random point. No event of the revoked till above its revocation is
// accepted after it, none is counted by either process (nor by a third
// started afterwards), and nothing else is refused or counted twice.
func TestRevocationRacesUploadsAcrossProcesses(t *testing.T) {
	b := backends[1]
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 17))
	ctx := t.Context()
	store := hqtest.NewStore(62, 3)
	place := b.place(t)
	procs := []*hq.HQ{newHQ(t, b.open(t, place), store)}
	procs = append(procs, newHQ(t, b.open(t, place)))
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(seed, 18)))
	evs := w.Sales(300, day0, 60_000) // tills 1, 2, 3 in turn, seq 1-100 each
	const after = 20
	revoked := store.Tills[1].ID
	kept := ledger.NewState(store.ID)
	for _, ev := range evs {
		if ev.Till == revoked && ev.Seq > after {
			continue
		}
		if _, err := kept.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	const batch = 10
	at := 6 + rng.IntN(20) // after batch at: till 2's seq 20 is in batch 6
	by := rng.IntN(2)
	t.Logf("revoked through process %d after batch %d", by, at)
	uploaded := make(chan struct{})
	revokedAt := make(chan struct{})
	go func() {
		defer close(revokedAt)
		<-uploaded
		if _, err := procs[by].Revoke(ctx, store.ID, revocationFile(t, store, 1, after), "admin"); err != nil {
			t.Error(err)
		}
	}()
	var done bool
	for k := 0; k*batch < len(evs); k++ {
		part := evs[k*batch : min((k+1)*batch, len(evs))]
		// The certificates each time: a process that took none of the
		// store's uploads holds none.
		u := &hqapi.Upload{Fence: 1, Events: raws(part), Certs: store.EncodedCerts()}
		res, err := procs[rng.IntN(2)].Ingest(ctx, store.ID, store.Tills[0].ID, u)
		if err != nil {
			t.Fatalf("batch %d: %v", k, err)
		}
		select {
		case <-revokedAt:
			done = true
		default:
		}
		for _, r := range res.Rejected {
			ev := part[r.Index]
			if ev.Till != revoked || ev.Seq <= after || r.Code != hqapi.CodeUnenrolled {
				t.Fatalf("batch %d: refused %+v (till %s seq %d)", k, r, ev.Till.Short(), ev.Seq)
			}
		}
		var above int
		for _, ev := range part {
			if ev.Till == revoked && ev.Seq > after {
				above++
			}
		}
		if done && len(res.Rejected) != above {
			t.Fatalf("batch %d after the revocation: %d of the revoked till's events above it refused, want %d", k, len(res.Rejected), above)
		}
		if k == at {
			close(uploaded)
		}
	}
	<-revokedAt
	want := kept.Fold().StoreReport()
	for i, h := range append(procs, newHQ(t, b.open(t, place))) {
		chainReaches(t, fmt.Sprintf("process %d", i), h, want)
	}
}

// failingRevocations is shared storage whose revocation reads fail.
type failingRevocations struct{ hq.Storage }

func (failingRevocations) Exclusive() bool { return false }

func (failingRevocations) Revocations(context.Context, *ledger.StoreID) ([]hqapi.Change, error) {
	return nil, errors.New("connection reset")
}

// TestRevocationsUnreadRefuseForNow: on shared storage that cannot read
// the revocations, an upload stores nothing and a till's request is
// refused with an error that is not a revoked till's, and both go
// through once the reads work.
func TestRevocationsUnreadRefuseForNow(t *testing.T) {
	b := backends[1]
	ctx := t.Context()
	store := hqtest.NewStore(63, 1)
	place := b.place(t)
	newHQ(t, b.open(t, place), store) // registers it
	h := newHQ(t, failingRevocations{b.open(t, place)})
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(11, 12)))
	evs := w.Sales(3, day0, 60_000)
	u := &hqapi.Upload{Fence: 1, Events: raws(evs), Certs: store.EncodedCerts()}
	if res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, u); err == nil || !strings.Contains(err.Error(), "read revocations: connection reset") {
		t.Fatalf("upload while revocations cannot be read: %+v %v", res, err)
	}
	if n, _ := h.Count(ctx, store.ID); n != 0 {
		t.Fatalf("%d events stored while revocations could not be read", n)
	}
	if err := h.Authenticate(ctx, store.ID, store.Tills[0].ID, store.Certs[0]); err == nil || errors.Is(err, hq.ErrUnenrolled) {
		t.Fatalf("a request while revocations cannot be read: %v", err)
	}
	ok := newHQ(t, b.open(t, place))
	if res, err := ok.Ingest(ctx, store.ID, store.Tills[0].ID, u); err != nil || res.Accepted != 3 {
		t.Fatalf("the same upload once revocations are read: %+v %v", res, err)
	}
}
