package ledger_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// TestCheckpointThenTailEqualsEveryEvent restores a checkpoint taken part
// way through a history, applies the rest (shuffled, so some wait above a
// gap) and checks the result is the State that applied everything: same
// checkpoint bytes, vector, reports, remainders and anomalies.
func TestCheckpointThenTailEqualsEveryEvent(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 17))
	for round := range 20 {
		evs := history(rng, 3, 300)
		// Two tills refund one sale during a partition: an anomaly, and
		// a refund applied before its sale elsewhere (an orphan).
		evs = append(evs, overRefunds(t, evs)...)
		k := rng.IntN(len(evs) + 1)
		tail := append([]*ledger.Event(nil), evs[k:]...)
		rng.Shuffle(len(tail), func(i, j int) { tail[i], tail[j] = tail[j], tail[i] })
		// The reference applies the same events in the same order, with
		// no checkpoint: a refund folded before its sale counts a weighed
		// line as units, so the order is part of the result.
		all := ledger.NewState(store)
		for _, ev := range append(evs[:k:k], tail...) {
			if _, err := all.Apply(ev); err != nil {
				t.Fatal(err)
			}
		}
		idx := ledger.NewMemIndex()
		part := ledger.NewStateWith(store, idx)
		for _, ev := range evs[:k] {
			idx.Add(ev)
			if _, err := part.Apply(ev); err != nil {
				t.Fatal(err)
			}
		}
		b, v, err := part.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v, part.Vector()) {
			t.Fatalf("checkpoint vector %v, state %v", v, part.Vector())
		}
		got, err := ledger.RestoreState(store, b, idx)
		if err != nil {
			t.Fatalf("round %d: restore: %v", round, err)
		}
		for _, ev := range tail {
			idx.Add(ev)
			if _, err := got.Apply(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := got.Check(); err != nil {
			t.Fatal(err)
		}
		want, _, _ := all.Checkpoint()
		have, _, _ := got.Checkpoint()
		if !bytes.Equal(have, want) {
			t.Fatalf("round %d (checkpoint after %d of %d events): restored state differs from the one that applied everything", round, k, len(evs))
		}
		if a, w := got.Fold().Anomalies(), all.Fold().Anomalies(); !reflect.DeepEqual(a, w) || len(w) == 0 {
			t.Fatalf("round %d: anomalies %v, want %v (and some)", round, a, w)
		}
		for _, ev := range evs {
			if ev.Kind() != ledger.KindSale {
				continue
			}
			a, errA := got.Fold().Refundable(ev.ID())
			w, errW := all.Fold().Refundable(ev.ID())
			if !reflect.DeepEqual(a, w) || (errA == nil) != (errW == nil) {
				t.Fatalf("round %d: refundable of %s: %v %v, want %v %v", round, ev.ID(), a, errA, w, errW)
			}
		}
		for _, till := range all.Tills() {
			if a, w := got.Fold().TillReport(till), all.Fold().TillReport(till); !reflect.DeepEqual(a, w) {
				t.Fatalf("round %d: till report %+v, want %+v", round, a, w)
			}
			if a, w := got.Fold().Shifts(till), all.Fold().Shifts(till); !reflect.DeepEqual(a, w) {
				t.Fatalf("round %d: shifts differ", round)
			}
		}
	}
}

// overRefunds makes two tills that never saw each other's refund refund
// one line of the first sale in full each, and a fourth till refund it
// before it appears in that till's chain order: the fold must report the
// over-refund once every event is in.
func overRefunds(t *testing.T, evs []*ledger.Event) []*ledger.Event {
	t.Helper()
	var sale *ledger.Event
	s := ledger.NewState(store)
	for _, ev := range evs {
		s.Apply(ev)
	}
	var lines []ledger.RefundLine
	for _, ev := range evs {
		if ev.Kind() != ledger.KindSale {
			continue
		}
		var err error
		lines, err = s.Fold().RefundLines(ev.ID(), []ledger.Pick{{Line: 0, Qty: ev.Body.(*ledger.Sale).Lines[0].Qty}})
		if err == nil && lines[0].Amount > 0 {
			sale = ev
			break
		}
	}
	if lines == nil || lines[0].Amount <= 0 {
		t.Fatal("no sale left to refund in full")
	}
	var out []*ledger.Event
	for i := range 2 {
		till := ledgertest.NewTill(store, byte(10+i), uint32(10+i))
		out = append(out, till.MustNext(&ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "1", Lines: lines,
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}, now+1e9))
	}
	return out
}

// countingIndex counts the lookups a State makes and can forget
// everything, to show what the State itself holds.
type countingIndex struct {
	*ledger.MemIndex
	sales, settles int
}

func (c *countingIndex) Sale(id ledger.EventID) (*ledger.Event, bool, error) {
	c.sales++
	return c.MemIndex.Sale(id)
}

func (c *countingIndex) Settlements(id ledger.EventID) ([]*ledger.Event, error) {
	c.settles++
	return c.MemIndex.Settlements(id)
}

// TestStateKeepsNoBodies folds 20,000 sales with refunds through a State
// whose events live in an index, and checks that what the State holds
// does not grow with them: its checkpoint (every fold and chain it keeps)
// is no larger than after 2,000; a refund's sale comes from the index;
// and once the index forgets, the State knows no sale at all.
func TestStateKeepsNoBodies(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 5))
	idx := &countingIndex{MemIndex: ledger.NewMemIndex()}
	s := ledger.NewStateWith(store, idx)
	till := ledgertest.NewTill(store, 1, 1)
	var sales []ledger.EventID
	var small int
	for i := range 20_000 {
		// At the top of the loop: a refund that cannot be made skips
		// the rest of its iteration.
		if i == 2_000 {
			b, _, err := s.Checkpoint()
			if err != nil {
				t.Fatalf("checkpoint after 2,000 events: %v", err)
			}
			small = len(b)
		}
		var body ledger.Body = ledgertest.Sale(rng, 3)
		if i%10 == 9 {
			sale := sales[rng.IntN(len(sales))]
			lines, err := s.Fold().RefundLines(sale, []ledger.Pick{{Line: 0, Qty: 1}})
			if err != nil {
				continue // line 0 already refunded in full
			}
			rf := &ledger.Refund{Sale: sale, Currency: "EUR", Staff: "1", Lines: lines}
			if lines[0].Amount > 0 {
				rf.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}
			}
			body = rf
		}
		// Every event in one hour, so the per-hour totals stay one entry.
		ev := till.MustNext(body, now+int64(i))
		if err := s.CheckLocal(ev); err != nil {
			t.Fatal(err)
		}
		idx.Add(ev)
		if _, err := s.Apply(ev); err != nil {
			t.Fatal(err)
		}
		if ev.Kind() == ledger.KindSale {
			sales = append(sales, ev.ID())
		}
	}
	b, _, err := s.Checkpoint()
	if err != nil {
		t.Fatalf("checkpoint after 20,000 events: %v", err)
	}
	t.Logf("state as a checkpoint: %d bytes after 2,000 events, %d after 20,000", small, len(b))
	if len(b) > small+1024 {
		t.Fatalf("state grew from %d to %d bytes between 2,000 and 20,000 events", small, len(b))
	}
	if idx.sales == 0 || idx.settles == 0 {
		t.Fatalf("refunds asked the index for %d sales and %d settlements: the State kept them itself", idx.sales, idx.settles)
	}
	idx.MemIndex = ledger.NewMemIndex()
	if _, err := s.Fold().Refundable(sales[0]); !errors.Is(err, ledger.ErrUnknownSale) {
		t.Fatalf("refundable with an empty index: %v, want ErrUnknownSale: the State kept the sale", err)
	}
	if _, err := s.Apply(till.MustNext(ledgertest.Sale3(), now+1)); err != nil {
		t.Fatalf("a sale after the index forgot: %v", err)
	}
}

// failingIndex fails every lookup.
type failingIndex struct{ ledger.MemIndex }

var errDisk = errors.New("disk on fire")

func (failingIndex) EventID(ledger.TillID, uint64) (ledger.EventID, bool, error) {
	return ledger.EventID{}, false, errDisk
}
func (failingIndex) Sale(ledger.EventID) (*ledger.Event, bool, error) { return nil, false, errDisk }
func (failingIndex) Settlements(ledger.EventID) ([]*ledger.Event, error) {
	return nil, errDisk
}

// TestIndexFailureChangesNothing applies a refund while the index cannot
// answer: Apply fails with ErrIndex, the chain and folds stay as they
// were, and the refund applies once the index answers again.
func TestIndexFailureChangesNothing(t *testing.T) {
	mem := ledger.NewMemIndex()
	var idx ledger.Index = mem
	sw := &switchIndex{Index: idx}
	s := ledger.NewStateWith(store, sw)
	till := ledgertest.NewTill(store, 1, 1)
	sale := till.MustNext(ledgertest.Sale3(), now)
	mem.Add(sale)
	if _, err := s.Apply(sale); err != nil {
		t.Fatal(err)
	}
	lines, err := s.Fold().RefundLines(sale.ID(), []ledger.Pick{{Line: 0, Qty: 1}})
	if err != nil {
		t.Fatal(err)
	}
	rf := till.MustNext(&ledger.Refund{Sale: sale.ID(), Currency: "EUR", Staff: "1", Lines: lines,
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}, now+1)
	mem.Add(rf)
	before, _, _ := s.Checkpoint()
	sw.Index = failingIndex{}
	if _, err := s.Apply(rf); !errors.Is(err, ledger.ErrIndex) || !errors.Is(err, errDisk) {
		t.Fatalf("apply with a failing index: %v, want ErrIndex wrapping the cause", err)
	}
	if after, _, _ := s.Checkpoint(); !bytes.Equal(before, after) {
		t.Fatal("a failed apply changed the state")
	}
	sw.Index = mem
	if res, err := s.Apply(rf); err != nil || len(res.Applied) != 1 {
		t.Fatalf("apply once the index answers: %+v %v", res, err)
	}
	if r := s.Fold().TillReport(till.ID); r.Refunds != 1 {
		t.Fatalf("refunds %d, want 1", r.Refunds)
	}
}

type switchIndex struct{ ledger.Index }

// FuzzRestoreState: any bytes restore to an error or to a State that
// passes Check and checkpoints again without error.
func FuzzRestoreState(f *testing.F) {
	s := ledger.NewState(store)
	till := ledgertest.NewTill(store, 1, 1)
	for i, b := range []ledger.Body{
		&ledger.ShiftOpen{Currency: "EUR", Float: 100, Staff: "1"},
		ledgertest.Sale3(),
		&ledger.StockReceive{Lines: []ledger.StockLine{{SKU: "1001", Qty: 5}}, Staff: "1"},
	} {
		if _, err := s.Apply(till.MustNext(b, now+int64(i))); err != nil {
			f.Fatal(err)
		}
	}
	b, _, err := s.Checkpoint()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ledger.RestoreState(store, b, ledger.NewMemIndex())
		if err != nil {
			return
		}
		if err := st.Check(); err != nil {
			t.Fatalf("restored state fails its check: %v", err)
		}
		if _, _, err := st.Checkpoint(); err != nil {
			t.Fatalf("restored state does not checkpoint: %v", err)
		}
	})
}
