package sim

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// seeds runs cfg over n seeds from first, in parallel on every core, and
// returns the failures and a summary.
func seeds(t *testing.T, first uint64, n int, cfg Config) (fails []error, sum Result) {
	t.Helper()
	var next atomic.Uint64
	next.Store(first)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1) - 1
				if seed >= first+uint64(n) {
					return
				}
				res, err := Run(seed, cfg)
				mu.Lock()
				if err != nil {
					fails = append(fails, err)
				}
				sum.Events += res.Events
				sum.Delivered += res.Delivered
				sum.Dropped += res.Dropped
				sum.Retries += res.Retries
				sum.Anomalies += res.Anomalies
				sum.Partitions += res.Partitions
				sum.Crashes += res.Crashes
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return fails, sum
}

func TestSeeds(t *testing.T) {
	n := 3000
	switch {
	case testing.Short():
		n = 300
	case raceEnabled:
		// The simulator runs one goroutine per seed and shares nothing
		// but the ledger package between seeds: the detector needs seeds
		// running side by side, not many. `make sim` sweeps all 3,000
		// without it (1,000 here took 52 s under -race, 100 take 5).
		n = 100
	}
	const first = 1
	fails, sum := seeds(t, first, n, DefaultConfig())
	t.Logf("seeds %d..%d: %d events, %d messages delivered, %d lost, %d retries, %d partitions, %d crashes, %d concurrent over-refunds",
		first, first+uint64(n)-1, sum.Events, sum.Delivered, sum.Dropped, sum.Retries, sum.Partitions, sum.Crashes, sum.Anomalies)
	for i, err := range fails {
		if i == 5 {
			t.Errorf("... and %d more failing seeds", len(fails)-5)
			break
		}
		t.Errorf("%v (replay: sim.Run(seed, sim.DefaultConfig()))", err)
	}
}

// TestBugsAreCaught breaks one rule at a time and requires the checks to
// notice within a few hundred seeds: checks that pass a broken model
// prove nothing.
func TestBugsAreCaught(t *testing.T) {
	for _, tt := range []struct {
		name string
		bug  Bug
	}{
		{"counter merge adds instead of keeping the newer slot", BugCounterAdds},
		{"a till refunds without checking what it already refunded", BugRefundUnchecked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Bug = tt.bug
			fails, _ := seeds(t, 1, 200, cfg)
			if len(fails) == 0 {
				t.Fatal("200 seeds and no check failed")
			}
			t.Logf("%d of 200 seeds caught it, e.g. %v", len(fails), fails[0])
		})
	}
}

func TestReplaysFromSeed(t *testing.T) {
	const seed = 42
	a, errA := Run(seed, DefaultConfig())
	b, errB := Run(seed, DefaultConfig())
	if a != b || (errA == nil) != (errB == nil) {
		t.Fatalf("seed %d ran twice differently: %+v (%v) and %+v (%v)", seed, a, errA, b, errB)
	}
	if a.Events < 20 || a.Delivered == 0 || a.Dropped == 0 || a.Retries == 0 {
		t.Fatalf("seed %d exercised too little: %+v", seed, a)
	}
}

func TestConfigChecked(t *testing.T) {
	for _, cfg := range []Config{{Tills: 1, Steps: 10, SKUs: 2}, {Tills: 3, Steps: 10, SKUs: 0}, {Tills: 3, Steps: 0, SKUs: 2}} {
		if _, err := Run(1, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}
