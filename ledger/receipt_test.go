package ledger_test

import (
	"math/rand/v2"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// refNumbers is the reference numbering: each till's receipt events
// counted in chain order, by till and seq (0: no number).
func refNumbers(evs []*ledger.Event) map[ledger.TillID]map[uint64]uint64 {
	byTill := map[ledger.TillID][]*ledger.Event{}
	for _, ev := range evs {
		byTill[ev.Till] = append(byTill[ev.Till], ev)
	}
	out := map[ledger.TillID]map[uint64]uint64{}
	for t, list := range byTill {
		chain := make([]*ledger.Event, len(list)+1)
		for _, ev := range list {
			chain[ev.Seq] = ev
		}
		m := map[uint64]uint64{}
		var n uint64
		for seq := 1; seq < len(chain); seq++ {
			switch chain[seq].Kind() {
			case ledger.KindSale, ledger.KindRefund, ledger.KindVoid:
				n++
				m[uint64(seq)] = n
			}
		}
		out[t] = m
	}
	return out
}

// Receipt numbers count only sales, refunds and voids, in each till's
// chain order: 1..N without gaps whatever shift, cash, stock or cleared
// cart events lie between, the same in any order of arrival, and the same
// after a restart from a checkpoint.
func TestPropertyReceiptNumbersGapless(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 23))
	for round := range 20 {
		evs := history(rng, 1+rng.IntN(3), 100+rng.IntN(200))
		want := refNumbers(evs)
		shuffled := append([]*ledger.Event(nil), evs...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		s := ledger.NewState(store)
		got := map[ledger.TillID]map[uint64]uint64{}
		for _, ev := range shuffled {
			res, err := s.Apply(ev)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if len(res.Numbers) != len(res.Applied) {
				t.Fatalf("round %d: %d numbers for %d applied events", round, len(res.Numbers), len(res.Applied))
			}
			for i, a := range res.Applied {
				if got[a.Till] == nil {
					got[a.Till] = map[uint64]uint64{}
				}
				if res.Numbers[i] > 0 {
					got[a.Till][a.Seq] = res.Numbers[i]
				}
			}
		}
		for till, m := range want {
			if s.Receipts(till) != uint64(len(m)) {
				t.Errorf("round %d: till %s: %d receipts counted, want %d", round, till.Short(), s.Receipts(till), len(m))
			}
			head, _, _ := s.Head(till)
			for seq := uint64(1); seq <= head; seq++ {
				n, ok := s.ReceiptNumber(till, seq)
				if n != m[seq] || ok != (m[seq] > 0) || got[till][seq] != m[seq] {
					t.Fatalf("round %d: till %s seq %d: number %d %v (applied as %d), want %d", round, till.Short(), seq, n, ok, got[till][seq], m[seq])
				}
				if ok {
					if back, ok := s.ReceiptSeq(till, n); !ok || back != seq {
						t.Fatalf("round %d: receipt %d of till %s is seq %d %v, want %d", round, n, till.Short(), back, ok, seq)
					}
				}
			}
			if _, ok := s.ReceiptSeq(till, uint64(len(m))+1); ok {
				t.Fatalf("round %d: a receipt number past the last", round)
			}
		}
		// A checkpoint taken part way keeps each till's count: the events
		// after it take the numbers they would have taken without it.
		k := rng.IntN(len(evs) + 1)
		idx := ledger.NewMemIndex()
		part := ledger.NewStateWith(store, idx)
		for _, ev := range evs[:k] {
			idx.Add(ev)
			part.Apply(ev)
		}
		b, _, err := part.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		restored, err := ledger.RestoreState(store, b, idx)
		if err != nil {
			t.Fatalf("round %d: restore: %v", round, err)
		}
		for _, ev := range evs[k:] {
			idx.Add(ev)
			res, err := restored.Apply(ev)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range res.Applied {
				if res.Numbers[i] != want[a.Till][a.Seq] {
					t.Fatalf("round %d: after a checkpoint at %d, till %s seq %d took number %d, want %d", round, k, a.Till.Short(), a.Seq, res.Numbers[i], want[a.Till][a.Seq])
				}
			}
		}
		for till, m := range want {
			if restored.Receipts(till) != uint64(len(m)) {
				t.Errorf("round %d: restored till %s counts %d receipts, want %d", round, till.Short(), restored.Receipts(till), len(m))
			}
		}
	}
}

func TestParseReceiptRef(t *testing.T) {
	for in, want := range map[string]ledger.ReceiptRef{
		"2-17": {Till: 2, N: 17}, "RCN2-17": {Till: 2, N: 17}, "rcn2-17": {Till: 2, N: 17},
		"RCT2-17": {Till: 2, N: 17, Legacy: true}, " 12-1 ": {Till: 12, N: 1},
	} {
		got, err := ledger.ParseReceiptRef(in)
		if err != nil || got != want {
			t.Errorf("ParseReceiptRef(%q) = %+v %v, want %+v", in, got, err, want)
		}
		if !want.Legacy {
			if back, err := ledger.ParseReceiptRef(ledger.ReceiptCode(want.Till, want.N)); err != nil || back != want {
				t.Errorf("ReceiptCode(%+v) reads back as %+v %v", want, back, err)
			}
		}
	}
	for _, bad := range []string{"", "2", "2-", "-3", "0-1", "1-0", "RCN", "RCX1-2", "1-2-3", "4294967296-1"} {
		if _, err := ledger.ParseReceiptRef(bad); err == nil {
			t.Errorf("ParseReceiptRef(%q) accepted", bad)
		}
	}
}

// A cleared cart counts per cashier in every report that holds it: the
// till's, its open shift's and the store's, and merged reports add up.
func TestCartClearedInReports(t *testing.T) {
	till := ledgertest.NewTill(store, 1, 1)
	s := ledger.NewState(store)
	apply := func(b ledger.Body) {
		t.Helper()
		ev, err := till.Next(b, now, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	line := ledger.Line{SKU: "A1", Name: "Tea", Qty: 2, UnitPrice: 250}
	apply(&ledger.ShiftOpen{Currency: "EUR", Float: 1000, Staff: "1"})
	apply(&ledger.CartCleared{Currency: "EUR", Lines: []ledger.Line{line}, Total: 500, Staff: "2", Reason: "customer left"})
	apply(&ledger.CartCleared{Currency: "EUR", Lines: []ledger.Line{line, line}, Total: 1000, Staff: "2"})
	apply(&ledger.CartCleared{Currency: "EUR", Lines: []ledger.Line{line}, Total: 500, Staff: "3"})
	want := map[string]ledger.ClearedCarts{"2": {Count: 2, Value: 1500}, "3": {Count: 1, Value: 500}}
	sh := s.Fold().OpenShift(till.ID)
	for name, r := range map[string]ledger.Report{"till": s.Fold().TillReport(till.ID), "shift": sh.Report, "store": s.Fold().StoreReport()} {
		if r.Cleared != 3 || r.ClearedValue != 2000 || len(r.ClearedBy) != 2 || r.ClearedBy["2"] != want["2"] || r.ClearedBy["3"] != want["3"] {
			t.Errorf("%s report: cleared %d worth %d, by %+v", name, r.Cleared, r.ClearedValue, r.ClearedBy)
		}
		if r.Sales != 0 || r.Total != 0 || r.CashExpected != 1000 {
			t.Errorf("%s report: a cleared cart moved money: %+v", name, r)
		}
	}
	if n := s.Receipts(till.ID); n != 0 {
		t.Errorf("cleared carts took %d receipt numbers", n)
	}
	for _, bad := range []*ledger.CartCleared{
		{Currency: "EUR", Total: 0, Staff: "2"},
		{Currency: "EUR", Lines: []ledger.Line{line}, Total: -1, Staff: "2"},
		{Currency: "EUR", Lines: []ledger.Line{{SKU: "A1", Qty: 0, UnitPrice: 1}}, Staff: "2"},
		{Currency: "EUR", Lines: []ledger.Line{line}, Total: 500},
		{Currency: "eur", Lines: []ledger.Line{line}, Total: 500, Staff: "2"},
	} {
		if _, err := till.Next(bad, now, ""); err == nil {
			t.Errorf("cart_cleared %+v signed", bad)
		}
	}
}

// FuzzParseReceiptRef: whatever a person types or a scanner sends is
// refused or read as a reference that formats back to itself.
func FuzzParseReceiptRef(f *testing.F) {
	for _, s := range []string{"2-17", "RCN2-17", "rct1-5", " 3-4 ", "0-1", "1-2-3", "RCN", "4294967295-18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ledger.ParseReceiptRef(s)
		if err != nil {
			return
		}
		if r.Till == 0 || r.N == 0 {
			t.Fatalf("%q read as %+v", s, r)
		}
		back, err := ledger.ParseReceiptRef(ledger.ReceiptNo(r.Till, r.N))
		if err != nil || back.Till != r.Till || back.N != r.N || back.Legacy {
			t.Fatalf("%q read as %+v, formatted back as %+v %v", s, r, back, err)
		}
	})
}
