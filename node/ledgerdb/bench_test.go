package ledgerdb_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// BenchmarkAppend is the durable append of a 3-line sale: sign, check,
// one fsynced Badger transaction with its idempotency key. Run it with
// -benchtime=10000x for the figure in BENCHMARKS.md; it reports p50 and
// p99 latency per sale.
func BenchmarkAppend(b *testing.B) {
	db := open(&testing.T{}, b.TempDir())
	defer db.Close()
	key := ledgertest.Key(1)
	lat := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, _, err := db.Append(b.Context(), key, ledgertest.Sale3(), "", now+int64(i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkInsertRun stores a 5,000-event run from a peer: verification by
// newest signature plus hash chain, one batched write.
func BenchmarkInsertRun(b *testing.B) {
	peer := ledgertest.NewTill(store, 2, 2)
	evs := make([]*ledger.Event, 5000)
	for i := range evs {
		evs[i] = peer.MustNext(ledgertest.Sale3(), now+int64(i))
	}
	for b.Loop() {
		b.StopTimer()
		db := open(&testing.T{}, b.TempDir())
		b.StartTimer()
		if _, err := db.Insert(b.Context(), evs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkScanChain reads a till's chain of 50,000 events two ways:
// decoded (Range), as the relay did to upload them, and as the stored
// bytes (RangeRaw), as the relay's upload and a pull's answer do now.
func BenchmarkScanChain(b *testing.B) {
	peer := ledgertest.NewTill(store, 2, 2)
	evs := make([]*ledger.Event, 50_000)
	for i := range evs {
		evs[i] = peer.MustNext(ledgertest.Sale3(), now+int64(i))
	}
	db := open(&testing.T{}, b.TempDir())
	defer db.Close()
	if _, err := db.Insert(b.Context(), evs); err != nil {
		b.Fatal(err)
	}
	till := evs[0].Till
	b.Run("decoded", func(b *testing.B) {
		for b.Loop() {
			n := 0
			if err := db.Range(till, 1, func(*ledger.Event) bool { n++; return true }); err != nil || n != len(evs) {
				b.Fatal(n, err)
			}
		}
		b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			n := 0
			if err := db.RangeRaw(till, 1, func(uint64, []byte) bool { n++; return true }); err != nil || n != len(evs) {
				b.Fatal(n, err)
			}
		}
		b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	})
}
