package backoff_test

import (
	"go/build"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ui/backoff"
)

var (
	t0    = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	tight = backoff.Rule{Free: 3, Base: time.Second, Max: 5 * time.Minute}
)

// TestReserveUnderBurst releases 200 goroutines together against one
// key: only Free of them may get a ticket, however they interleave.
func TestReserveUnderBurst(t *testing.T) {
	l := backoff.New(15*time.Minute, 1000)
	var got atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if tk, _ := l.Reserve(t0, backoff.Key{Name: "staff:1|c", Rule: tight}); tk != nil {
				got.Add(1)
				tk.Failure()
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := got.Load(); n != 3 {
		t.Fatalf("%d checks in a burst of 200, want 3", n)
	}
	if w := l.Wait("staff:1|c", t0); w != time.Second {
		t.Fatalf("wait after the burst %v, want 1s", w)
	}
}

func TestDoublingAndCeiling(t *testing.T) {
	l := backoff.New(15*time.Minute, 1000)
	k := backoff.Key{Name: "k", Rule: backoff.Rule{Free: 2, Base: time.Second, Max: 4 * time.Second}}
	now := t0
	var waits []time.Duration
	for range 6 {
		tk, w := l.Reserve(now, k)
		if tk == nil {
			t.Fatalf("refused after waiting: %v", w)
		}
		tk.Failure()
		waits = append(waits, l.Wait("k", now))
		now = now.Add(l.Wait("k", now))
	}
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}

func TestSuccessClearsOneKeyAndRefundsTheOther(t *testing.T) {
	l := backoff.New(15*time.Minute, 1000)
	pair := backoff.Key{Name: "pair", Rule: tight}
	ceil := backoff.Key{Name: "ceil", Rule: backoff.Rule{Free: 3, Base: time.Second, Max: 10 * time.Second}}
	for range 2 {
		tk, _ := l.Reserve(t0, pair, ceil)
		tk.Failure()
	}
	tk, _ := l.Reserve(t0, pair, ceil) // the third: would start a wait
	tk.Success("pair")
	if n := l.Count("pair", t0); n != 0 {
		t.Fatalf("pair count %d after success, want 0", n)
	}
	if n, w := l.Count("ceil", t0), l.Wait("ceil", t0); n != 2 || w != 0 {
		t.Fatalf("ceiling after a success: count %d wait %v, want 2 and 0", n, w)
	}
	tk, _ = l.Reserve(t0, ceil)
	tk.Cancel()
	if n := l.Count("ceil", t0); n != 2 {
		t.Fatalf("count %d after a cancelled check, want 2", n)
	}
}

func TestForgetsQuietKeysAndBoundsMemory(t *testing.T) {
	l := backoff.New(time.Minute, 100)
	k := backoff.Key{Name: "k", Rule: tight}
	for range 3 {
		tk, _ := l.Reserve(t0, k)
		tk.Failure()
	}
	if n := l.Count("k", t0.Add(2*time.Minute)); n != 0 {
		t.Fatalf("count %d after a quiet spell, want 0", n)
	}
	for i := range 1000 {
		tk, _ := l.Reserve(t0, backoff.Key{Name: string(rune('a'+i%26)) + string(rune(i)), Rule: tight})
		if tk != nil {
			tk.Failure()
		}
	}
	// Internal size is not exported; a flood of keys must not panic and
	// fresh keys still get checks.
	if tk, _ := l.Reserve(t0, backoff.Key{Name: "fresh", Rule: tight}); tk == nil {
		t.Fatal("a fresh key was refused after a flood")
	}
}

func TestImports(t *testing.T) {
	pkg, err := build.Default.Import("github.com/tillmesh/tillmesh/ui/backoff", ".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, ".") {
			t.Errorf("backoff imports %s: only the standard library is allowed", imp)
		}
	}
}
