package ledger_test

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

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
	cpu := cpuTimer()
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
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
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

// BenchmarkVerifyAll is full verification of every event like
// BenchmarkVerify (decode, canonical check, signature, body rules), with
// the signatures checked in batches (VerifyAll), 1,000 events from 4
// tills per op. Events/s per core = the events/s metric (GOMAXPROCS 1).
func BenchmarkVerifyAll(b *testing.B) {
	var raws [][]byte
	for seed := byte(1); seed <= 4; seed++ {
		till := ledgertest.NewTill(store, seed, uint32(seed))
		for i := range 250 {
			raws = append(raws, till.MustNext(ledgertest.Sale3(), now+int64(i)).Bytes())
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(raws), func(i, j int) { raws[i], raws[j] = raws[j], raws[i] })
	evs := make([]*ledger.Event, len(raws))
	cpu := cpuTimer()
	for b.Loop() {
		for i, r := range raws {
			ev, err := ledger.Decode(r)
			if err != nil {
				b.Fatal(err)
			}
			evs[i] = ev
		}
		if errs := ledger.VerifyAll(evs); errs != nil {
			b.Fatal(errs)
		}
	}
	b.ReportMetric(float64(b.N*len(raws))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N*len(raws))/cpu.Seconds(), "events/cpu-s")
}

// cpuTimer measures the process's CPU time (user and system) from now:
// on a machine shared with other work, events per CPU-second is the
// per-core figure, where wall-clock events/s also counts time the
// benchmark waited for a core.
func cpuTimer() interface{ Seconds() float64 } {
	t := cpuTimeNow()
	return cpuSince(t)
}

type cpuSince time.Duration

func (c cpuSince) Seconds() float64 { return (cpuTimeNow() - time.Duration(c)).Seconds() }

func cpuTimeNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
