package ledgerdb_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// TestRefuseTakesEventsOutOfTheFolds: a revoked till's events above the
// revocation's seq, chained or held above a gap, leave the chain and the
// folds at once, stay out after a reopen, are counted as refused, and
// come back no more from peers; its events up to that seq and every other
// till's stay.
func TestRefuseTakesEventsOutOfTheFolds(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	peer := ledgertest.NewTill(store, 2, 2)
	other := ledgertest.NewTill(store, 3, 3)
	var evs []*ledger.Event
	for i := range 10 {
		evs = append(evs, peer.MustNext(ledgertest.Sale3(), now+int64(i)))
	}
	held := make([]*ledger.Event, 0, 2)
	for i := range 2 { // seq 12 and 13, held above the gap at 11
		if i == 0 {
			peer.MustNext(ledgertest.Sale3(), now+20)
		}
		held = append(held, peer.MustNext(ledgertest.Sale3(), now+21+int64(i)))
	}
	kept := other.MustNext(ledgertest.Sale3(), now)
	if _, err := db.Insert(t.Context(), append(append(evs, held...), kept)); err != nil {
		t.Fatal(err)
	}
	sales := func(db interface{ View(func(*ledger.State)) }) (n int) {
		db.View(func(s *ledger.State) { n = s.Fold().StoreReport().Sales })
		return n
	}
	if got := sales(db); got != 11 {
		t.Fatalf("before: %d sales in the fold, want 11", got)
	}
	moved, err := db.Refuse(peer.ID, 4)
	if err != nil || moved != 8 {
		t.Fatalf("Refuse moved %d (%v), want 8 (seq 5-10, 12, 13)", moved, err)
	}
	check := func(when string) {
		t.Helper()
		if got := sales(db); got != 5 {
			t.Errorf("%s: %d sales in the fold, want 5 (till 2 up to seq 4, and till 3)", when, got)
		}
		if v := db.Vector(); v[peer.ID] != 4 || v[other.ID] != 1 {
			t.Errorf("%s: vector %v", when, v)
		}
		if n, err := db.Refused(peer.ID); err != nil || n != 8 {
			t.Errorf("%s: %d refused (%v), want 8", when, n, err)
		}
	}
	check("after Refuse")
	if again, err := db.Refuse(peer.ID, 4); err != nil || again != 0 {
		t.Errorf("Refuse again moved %d (%v)", again, err)
	}
	res, err := db.Insert(t.Context(), evs[4:])
	if err != nil || res.Refused != 6 || len(res.Applied) != 0 {
		t.Errorf("the refused events offered again: %+v %v", res, err)
	}
	check("after the refused events came again")
	db.Close()
	db = open(t, dir)
	defer db.Close()
	check("after a reopen")

	// Re-issued with a later seq: what was set aside up to it comes back.
	if _, err := db.Refuse(peer.ID, 7); err != nil {
		t.Fatal(err)
	}
	if got := sales(db); got != 8 {
		t.Errorf("after a later revocation: %d sales in the fold, want 8 (till 2 up to seq 7, and till 3)", got)
	}
	if n, _ := db.Refused(peer.ID); n != 5 {
		t.Errorf("after a later revocation: %d refused, want 5 (seq 8-10, 12, 13)", n)
	}
}
