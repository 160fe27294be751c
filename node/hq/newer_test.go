package hq_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// TestNewerEventsStoredAndCounted: HQ verifies and stores, byte for byte,
// an event of a kind it does not know and a sale with a field it does not
// know; its reports leave the unknown kind out and its store view counts
// it as from a newer version, also after a restart (both backends).
func TestNewerEventsStoredAndCounted(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := hqtest.NewStore(60, 1)
		place := b.place(t)
		st := b.open(t, place)
		h := newHQ(t, st, store)
		till := store.Tills[0]
		s1 := till.MustNext(ledgertest.Sale3(), day0)
		fut, err := till.NextRaw(ledgertest.FutureKind, ledgertest.Future(2), day0+1000, "gc")
		if err != nil {
			t.Fatal(err)
		}
		extra, err := ledgertest.WithFields(ledgertest.Sale3(), map[uint64]any{99: "receipt-no"})
		if err != nil {
			t.Fatal(err)
		}
		s3, err := till.NextRaw(ledger.KindSale, extra, day0+2000, "s3")
		if err != nil {
			t.Fatal(err)
		}
		s4 := till.MustNext(ledgertest.Sale3(), day0+3000)
		evs := []*ledger.Event{s1, fut, s3, s4}
		res, err := h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: 1, Events: raws(evs), Certs: store.EncodedCerts()})
		if err != nil || res.Accepted != 4 || len(res.Rejected) != 0 {
			t.Fatalf("ingest: accepted %d, rejected %+v, %v", res.Accepted, res.Rejected, err)
		}
		check := func(when string) {
			t.Helper()
			v, ok := h.Store(store.ID)
			if !ok || v.Newer[ledgertest.FutureKind] != 1 || !strings.HasPrefix(v.NewerWarning, "1 event from a newer version (kind future_kind)") {
				t.Fatalf("%s: store view newer %v %q", when, v.Newer, v.NewerWarning)
			}
			if rep, _ := h.StoreReport(store.ID); rep.Sales != 3 {
				t.Fatalf("%s: %d sales, want 3", when, rep.Sales)
			}
			for _, ev := range []*ledger.Event{fut, s3} {
				raw, err := st.Event(ctx, ev.ID())
				if err != nil || !bytes.Equal(raw, ev.Bytes()) {
					t.Fatalf("%s: seq %d not stored as signed: %v", when, ev.Seq, err)
				}
			}
		}
		check("after ingest")
		st.Close()
		st = b.open(t, place)
		h = newHQ(t, st)
		check("after a restart")
	})
}
