package hq_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

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
