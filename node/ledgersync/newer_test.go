package ledgersync_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// TestNewerEventsReplicateByteForByte: till A holds events a newer version
// wrote (an event of kind future_kind with fields this version cannot
// read, and a sale with an extra field). B gets them by gossip, C (which
// joins later, connected to B only) by delta sync from B. Every till stores
// them byte for byte, verifies them, chains later sales on them, and
// counts the unknown kind instead of folding it.
func TestNewerEventsReplicateByteForByte(t *testing.T) {
	a, b, c := newNode(t, 1), newNode(t, 2), newNode(t, 3)
	connect(t, a, b)
	a.sell(t, 2)
	tillA := ledger.TillOf(a.key)

	var seq uint64
	var prev ledger.EventID
	var at ledger.HLC
	a.db.View(func(s *ledger.State) { seq, prev, at = s.Head(tillA) })
	at = at.Next(time.Now().UnixMilli())
	fut, futRaw, err := ledgertest.SignRaw(a.key, store, seq+1, prev, at, ledgertest.FutureKind, ledgertest.Future(1), "gc-1")
	if err != nil {
		t.Fatal(err)
	}
	extra, err := ledgertest.WithFields(ledgertest.Sale3(), map[uint64]any{99: "receipt-no-7"})
	if err != nil {
		t.Fatal(err)
	}
	sale, saleRaw, err := ledgertest.SignRaw(a.key, store, seq+2, fut.ID(), at.Next(at.Wall+1), ledger.KindSale, extra, "s-x")
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.db.Insert(t.Context(), []*ledger.Event{fut, sale})
	if err != nil || len(res.Applied) != 2 {
		t.Fatalf("insert newer events on A: %+v %v", res, err)
	}
	for _, ev := range []*ledger.Event{fut, sale} {
		if err := a.sync.Publish(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	a.sell(t, 1) // this version chains its own sale on them

	waitFor(t, "A's 5 events on B", func() bool { return b.db.Vector()[tillA] == 5 })
	// C joins afterwards, through B only: it catches up by delta sync.
	connect(t, c, b)
	waitFor(t, "A's 5 events on C", func() bool { return c.db.Vector()[tillA] == 5 })
	for _, n := range []*node{a, b, c} {
		got, err := n.db.Get(tillA, seq+1)
		if err != nil || !bytes.Equal(got.Bytes(), futRaw) || got.Kind() != ledgertest.FutureKind {
			t.Fatalf("future_kind event on %s: %v", n.h.ID(), err)
		}
		got, err = n.db.Get(tillA, seq+2)
		if err != nil || !bytes.Equal(got.Bytes(), saleRaw) || !got.NewerFields() {
			t.Fatalf("sale with a newer field on %s: %v", n.h.ID(), err)
		}
		n.db.View(func(s *ledger.State) {
			if nw := s.Fold().Newer(); nw[ledgertest.FutureKind] != 1 {
				t.Errorf("%s counts newer %v, want one future_kind", n.h.ID(), nw)
			}
			if r := s.Fold().StoreReport(); r.Sales != 4 {
				t.Errorf("%s: %d sales, want 4", n.h.ID(), r.Sales)
			}
		})
	}
}
