package ledgerdb_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

// numbering reads every till's receipt numbers from db and checks them
// against the chain: sales, refunds and voids numbered 1..N in chain
// order, nothing else numbered, each number finding its event again. It
// returns each till's numbers by seq.
func numbering(t *testing.T, db *ledgerdb.DB) map[ledger.TillID]map[uint64]uint64 {
	t.Helper()
	out := map[ledger.TillID]map[uint64]uint64{}
	var tills []ledger.TillID
	db.View(func(s *ledger.State) { tills = s.Tills() })
	for _, till := range tills {
		m := map[uint64]uint64{}
		var want uint64
		err := db.Range(till, 1, func(ev *ledger.Event) bool {
			var n, back uint64
			var ok, okBack bool
			db.View(func(s *ledger.State) {
				n, ok = s.ReceiptNumber(till, ev.Seq)
				back, okBack = s.ReceiptSeq(till, n)
			})
			if ledger.IsReceiptKind(ev.Kind()) {
				want++
				if !ok || n != want || !okBack || back != ev.Seq {
					t.Fatalf("till %s seq %d (%s): number %d %v, want %d; number %d finds seq %d %v", till.Short(), ev.Seq, ev.Kind(), n, ok, want, n, back, okBack)
				}
				m[ev.Seq] = n
			} else if ok {
				t.Fatalf("till %s seq %d (%s) has receipt number %d", till.Short(), ev.Seq, ev.Kind(), n)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		var count uint64
		db.View(func(s *ledger.State) { count = s.Receipts(till) })
		if count != want {
			t.Fatalf("till %s counts %d receipts, its chain holds %d", till.Short(), count, want)
		}
		out[till] = m
	}
	return out
}

// Two tills interleave shift opens, cash movements, stock events and
// cleared carts with sales, refunds and voids: each till's receipts are
// numbered 1..N without gaps, on this till's own chain (written with the
// event) and on a peer's (written after Insert applies it, some held above
// a gap first); the same after a power cut and a start from the
// checkpoint and its tail, and after a start with no checkpoint and no
// number records at all.
func TestReceiptNumbersGaplessPerTill(t *testing.T) {
	dir := t.TempDir()
	cfg := ledgerdb.DefaultConfig(dir, store)
	cfg.Logger, cfg.Ballast, cfg.CheckpointEvery = quiet(), 0, 7
	db, err := ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := ledgertest.Key(1)
	peer := ledgertest.NewTill(store, 2, 2)
	var mine, theirs []ledger.EventID
	var late []*ledger.Event // the peer's events delivered out of order
	other := func(i int) ledger.Body {
		switch i % 5 {
		case 0:
			return &ledger.CashIn{Currency: "EUR", Amount: 500, Reason: "float", Staff: "1"}
		case 1:
			return &ledger.StockReceive{Lines: []ledger.StockLine{{SKU: "A1", Qty: 5}}, Staff: "1"}
		case 2:
			return &ledger.CashOut{Currency: "EUR", Amount: 200, Reason: "bank", Staff: "1"}
		case 3:
			return &ledger.CartCleared{Currency: "EUR", Lines: ledgertest.Sale3().Lines, Total: 100, Staff: "2"}
		}
		return &ledger.NoSale{Staff: "1"}
	}
	if _, _, err := db.Append(t.Context(), key, &ledger.ShiftOpen{Currency: "EUR", Float: 1000, Staff: "1"}, "", now); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		var body ledger.Body = ledgertest.Sale3()
		switch {
		case i%4 == 1:
			body = other(i)
		case i%6 == 5 && len(theirs) > 0:
			// Refund a line of the peer's sale here; void our own.
			var lines []ledger.RefundLine
			db.View(func(s *ledger.State) {
				lines, err = s.Fold().RefundLines(theirs[len(theirs)-1], []ledger.Pick{{Line: 0, Qty: 1}})
			})
			if err == nil {
				body = &ledger.Refund{Sale: theirs[len(theirs)-1], Currency: "EUR", Staff: "1", Lines: lines,
					Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}
			}
		case i%9 == 8:
			db.View(func(s *ledger.State) {
				var v *ledger.Void
				if v, err = s.Fold().VoidOf(mine[len(mine)-1]); err == nil {
					v.Manager = "9"
					body = v
				}
			})
		}
		ev, _, err := db.Append(t.Context(), key, body, "", now+int64(i))
		if err != nil {
			t.Fatalf("append %d (%s): %v", i, body.Kind(), err)
		}
		if ev.Kind() == ledger.KindSale {
			mine = append(mine, ev.ID())
		}
		// The peer: a sale or another event; every third run arrives
		// out of order, held until the gap fills.
		var pb ledger.Body = ledgertest.Sale3()
		if i%3 == 2 {
			pb = other(i + 1)
		}
		pev := peer.MustNext(pb, now+int64(i))
		if pev.Kind() == ledger.KindSale {
			theirs = append(theirs, pev.ID())
		}
		late = append([]*ledger.Event{pev}, late...)
		if i%3 == 0 {
			if _, err := db.Insert(t.Context(), late); err != nil {
				t.Fatal(err)
			}
			late = nil
		}
	}
	if _, err := db.Insert(t.Context(), late); err != nil {
		t.Fatal(err)
	}
	want := numbering(t, db)
	if len(want) != 2 || len(want[ledger.TillOf(key)]) < 20 || len(want[peer.ID]) < 20 {
		t.Fatalf("numbers %v", want)
	}

	// A power cut: the copy starts from its checkpoint and the tail.
	crashed := filepath.Join(t.TempDir(), "crashed")
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cfg.Dir = crashed
	got, err := ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Replayed(); n == 0 || n > 2*cfg.CheckpointEvery {
		t.Errorf("start applied %d events, want the tail above the checkpoint", n)
	}
	sameNumbers(t, "after a start from the checkpoint", numbering(t, got), want)
	got.Close()

	// No checkpoint and no number records (a ledger of the release before
	// receipt numbers): every event is applied and numbered again.
	bdb, err := badger.Open(badger.DefaultOptions(crashed).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.DropPrefix([]byte("k/state"), []byte{'n'}, []byte{'o'})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	sameNumbers(t, "after a start without checkpoint or number records", numbering(t, again), want)
}

func sameNumbers(t *testing.T, when string, got, want map[ledger.TillID]map[uint64]uint64) {
	t.Helper()
	for till, m := range want {
		if len(got[till]) != len(m) {
			t.Fatalf("%s: till %s has %d numbers, want %d", when, till.Short(), len(got[till]), len(m))
		}
		for seq, n := range m {
			if got[till][seq] != n {
				t.Fatalf("%s: till %s seq %d has number %d, want %d", when, till.Short(), seq, got[till][seq], n)
			}
		}
	}
}

// A revocation takes a till's events above its seq out of the chain: its
// receipt numbers above them are gone too (a lookup finds nothing), the
// count falls back, and a revocation re-issued later gives them back.
func TestRefuseTakesReceiptNumbersOut(t *testing.T) {
	db := open(t, t.TempDir())
	peer := ledgertest.NewTill(store, 2, 2)
	var evs []*ledger.Event
	for i := range 12 {
		var body ledger.Body = ledgertest.Sale3()
		if i%3 == 1 {
			body = &ledger.CashIn{Currency: "EUR", Amount: 100, Reason: "change", Staff: "1"}
		}
		evs = append(evs, peer.MustNext(body, now+int64(i)))
	}
	if _, err := db.Insert(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	count := func() (n uint64) {
		db.View(func(s *ledger.State) { n = s.Receipts(peer.ID) })
		return n
	}
	if n := count(); n != 8 {
		t.Fatalf("%d receipts, want 8", n)
	}
	if _, err := db.Refuse(peer.ID, 6); err != nil { // seqs 1..6: 4 sales kept
		t.Fatal(err)
	}
	numbering(t, db)
	if n := count(); n != 4 {
		t.Fatalf("after the revocation: %d receipts, want 4", n)
	}
	db.View(func(s *ledger.State) {
		if seq, ok := s.ReceiptSeq(peer.ID, 5); ok {
			t.Errorf("receipt 5 (refused) finds seq %d", seq)
		}
		if n, ok := s.ReceiptNumber(peer.ID, 7); ok {
			t.Errorf("refused seq 7 has number %d", n)
		}
	})
	if _, err := db.Refuse(peer.ID, 12); err != nil {
		t.Fatal(err)
	}
	if got := numbering(t, db); count() != 8 || got[peer.ID][12] != 8 {
		t.Fatalf("after the revocation moved to seq 12: %d receipts, numbers %v", count(), got[peer.ID])
	}
}
