package crdt

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkCatchUp measures how fast a replica that was cut off catches up
// after another replica wrote catchUpBatches single-SKU batches (one DAG
// node each, a 2,000-deep chain), and the memory of the three replicas
// afterwards. Run with -benchtime=1x; set-up is not timed.
//
//	go test -run '^$' -bench CatchUp -benchtime=1x ./crdt/
func BenchmarkCatchUp(b *testing.B) {
	const catchUpBatches = 2000
	for _, store := range []string{"memory", "badger"} {
		b.Run(store, func(b *testing.B) {
			o := replicaOpts{badger: store == "badger"}
			var total time.Duration
			var writeRate float64
			for range b.N {
				b.StopTimer()
				rs := mesh(b, 3, o)
				a, c := rs[0], rs[2]
				isolate(c)
				start := time.Now()
				for i := range catchUpBatches {
					if err := a.s.ApplyMovements(b.Context(), uint64(i+1), map[string]int64{"SKU": -1}); err != nil {
						b.Fatal(err)
					}
				}
				writeRate = catchUpBatches / time.Since(start).Seconds()
				eventually(b, time.Minute, "b has a's writes", func() bool { return caughtUp(a, rs[1]) })

				b.StartTimer()
				start = time.Now()
				heal(b, c, a)
				eventually(b, 2*time.Minute, "c caught up", func() bool { return caughtUp(a, c) })
				total += time.Since(start)
				b.StopTimer()

				if got, _, _ := c.s.Stock(b.Context(), "SKU"); got != -catchUpBatches {
					b.Fatalf("c stock %d, want %d", got, -catchUpBatches)
				}
				st := c.s.Stats()
				b.ReportMetric(float64(st.FetchRounds), "rounds")
			}
			perOp := total / time.Duration(b.N)
			b.ReportMetric(catchUpBatches/perOp.Seconds(), "nodes/s")
			b.ReportMetric(float64(perOp.Milliseconds()), "catchup-ms")
			b.ReportMetric(writeRate, "writes/s")
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
			if rss := rssMB(); rss > 0 {
				b.ReportMetric(rss, "rss-MB")
			}
		})
	}
}

// rssMB reads this process's resident set size from /proc, or 0.
func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}
