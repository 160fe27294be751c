package ledger_test

import (
	"math/rand/v2"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

func chain(n int) []*ledger.Event {
	till := ledgertest.NewTill(store, 1, 1)
	evs := make([]*ledger.Event, n)
	for i := range evs {
		evs[i] = till.MustNext(ledgertest.Sale3(), now+int64(i))
	}
	return evs
}

func BenchmarkSign(b *testing.B) {
	till := ledgertest.NewTill(store, 1, 1)
	for b.Loop() {
		till.MustNext(ledgertest.Sale3(), now)
	}
}

func BenchmarkDecode(b *testing.B) {
	raw := chain(1)[0].Bytes()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ledger.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is full verification of one event: decode, canonical
// check, signature and body rules. Events/s per core = 1e9 / ns/op.
func BenchmarkVerify(b *testing.B) {
	evs := chain(1000)
	i := 0
	for b.Loop() {
		ev, err := ledger.Decode(evs[i%len(evs)].Bytes())
		if err != nil {
			b.Fatal(err)
		}
		if err := ev.Verify(); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerifyRun authenticates a 5,000-event catch-up run by its newest
// signature plus the hash chain, decoding each event.
func BenchmarkVerifyRun(b *testing.B) {
	evs := chain(5000)
	raws := make([][]byte, len(evs))
	for i, e := range evs {
		raws[i] = e.Bytes()
	}
	for b.Loop() {
		run := make([]*ledger.Event, len(raws))
		for i, r := range raws {
			ev, err := ledger.Decode(r)
			if err != nil {
				b.Fatal(err)
			}
			run[i] = ev
		}
		if _, err := ledger.VerifyRun(ledger.EventID{}, run); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkFold applies a mixed 10,000-event, 4-till history to a fresh
// State in shuffled order.
func BenchmarkFold(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	evs := history(rng, 4, 10000)
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	for b.Loop() {
		s := ledger.NewState(store)
		for _, e := range evs {
			if _, err := s.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}
