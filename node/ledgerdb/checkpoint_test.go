package ledgerdb_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

// TestStartsFromCheckpointAfterPowerCut appends sales and refunds with a
// checkpoint every 10 events, copies the files while the ledger is open
// (a power cut) and opens the copy: it applies only the events above the
// last checkpoint, and its state is the one a full replay builds, down
// to what remains refundable.
func TestStartsFromCheckpointAfterPowerCut(t *testing.T) {
	dir := t.TempDir()
	cfg := ledgerdb.DefaultConfig(dir, store)
	cfg.Logger, cfg.Ballast, cfg.CheckpointEvery = quiet(), 0, 10
	db, err := ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := ledgertest.Key(1)
	peer := ledgertest.NewTill(store, 2, 2)
	var sales []ledger.EventID
	for i := range 47 { // 47 own and 16 of the peer: 3 above the last checkpoint
		var body ledger.Body = ledgertest.Sale3()
		if i%5 == 4 {
			var lines []ledger.RefundLine
			db.View(func(s *ledger.State) {
				lines, err = s.Fold().RefundLines(sales[len(sales)/2], []ledger.Pick{{Line: 1, Qty: 1}})
			})
			if err == nil {
				body = &ledger.Refund{Sale: sales[len(sales)/2], Currency: "EUR", Staff: "1", Lines: lines,
					Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}
			}
		}
		ev, _, err := db.Append(t.Context(), key, body, "", now+int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind() == ledger.KindSale {
			sales = append(sales, ev.ID())
		}
		// A peer's sale, and a held one above a gap at the end.
		if i%3 == 0 {
			if _, err := db.Insert(t.Context(), []*ledger.Event{peer.MustNext(ledgertest.Sale3(), now+int64(i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	peer.MustNext(ledgertest.Sale3(), now+100) // never delivered: a gap
	held := peer.MustNext(ledgertest.Sale3(), now+101)
	if res, err := db.Insert(t.Context(), []*ledger.Event{held}); err != nil || res.Held != 1 {
		t.Fatalf("held event: %+v %v", res, err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed")
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, db, sales)
	db.Close()

	cfg.Dir = crashed
	got, err := ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Replayed(); n == 0 || n > 2*cfg.CheckpointEvery {
		t.Errorf("start after a power cut applied %d events, want between 1 and %d (the tail above the checkpoint)", n, 2*cfg.CheckpointEvery)
	}
	if s := stateOf(t, got, sales); !reflect.DeepEqual(s, want) {
		t.Fatalf("state from checkpoint and tail:\n%+v\nwant\n%+v", s, want)
	}
	got.Close()

	cfg.FullCheck = true
	full, err := ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	if s := stateOf(t, full, sales); !reflect.DeepEqual(s, want) {
		t.Fatalf("state from every event:\n%+v\nwant\n%+v", s, want)
	}
}

type summary struct {
	Vector     ledger.Vector
	Held       int
	Report     ledger.Report
	Refundable [][]ledger.Remaining
}

func stateOf(t *testing.T, db *ledgerdb.DB, sales []ledger.EventID) summary {
	t.Helper()
	var s summary
	var err error
	db.View(func(st *ledger.State) {
		s.Vector = st.Vector()
		for _, till := range st.Tills() {
			n, _ := st.Held(till)
			s.Held += n
		}
		s.Report = st.Fold().StoreReport()
		for _, id := range sales {
			var r []ledger.Remaining
			if r, err = st.Fold().Refundable(id); err != nil {
				return
			}
			s.Refundable = append(s.Refundable, r)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCheckpointOfAnotherChainIsIgnored stores a ledger, then replaces
// its events with a different history of the same length (as a restore
// of another backup would): the checkpoint no longer matches the stored
// heads, so open applies every event instead of trusting it.
func TestCheckpointOfAnotherChainIsIgnored(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	for i := range 5 {
		if _, _, err := db.Append(t.Context(), ledgertest.Key(1), ledgertest.Sale3(), "", now+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	other := t.TempDir()
	db = open(t, other)
	for i := range 5 {
		s := ledgertest.Sale3()
		s.Staff = "2"
		if _, _, err := db.Append(t.Context(), ledgertest.Key(1), s, "", now+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	var head ledger.EventID
	db.View(func(s *ledger.State) { _, head, _ = s.Head(ledger.TillOf(ledgertest.Key(1))) })
	db.Close()
	// Swap in the first ledger's checkpoint.
	copyCheckpoint(t, dir, other)
	db = open(t, other)
	defer db.Close()
	var got ledger.EventID
	db.View(func(s *ledger.State) { _, got, _ = s.Head(ledger.TillOf(ledgertest.Key(1))) })
	if got != head || db.Replayed() != 5 {
		t.Fatalf("head %s after %d events applied, want %s after 5", got, db.Replayed(), head)
	}
	if _, _, err := db.Append(t.Context(), ledgertest.Key(1), ledgertest.Sale3(), "", now+10); err != nil {
		t.Fatal(err)
	}
}

// copyCheckpoint writes the checkpoint stored in from into to.
func copyCheckpoint(t *testing.T, from, to string) {
	t.Helper()
	var cp []byte
	for i, dir := range []string{from, to} {
		bdb, err := badger.Open(ledgerdb.BadgerOptions(dir, quiet()))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			err = bdb.View(func(txn *badger.Txn) error {
				item, err := txn.Get([]byte("k/state"))
				if err != nil {
					return err
				}
				cp, err = item.ValueCopy(nil)
				return err
			})
		} else {
			err = bdb.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k/state"), cp) })
		}
		if cerr := bdb.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
