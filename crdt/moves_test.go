package crdt

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A till selling fast sends its movements in few DAG nodes, reads its own
// movements at once, and its peers end with the same stock.
func TestQueuedMovementsShareANode(t *testing.T) {
	o := replicaOpts{config: func(c *Config) { c.MoveInterval = time.Hour }}
	rs := mesh(t, 2, o)
	a, b := rs[0], rs[1]
	ctx := t.Context()
	const n = 300
	// Queued from goroutines released together, as concurrent sales
	// queue them (each under the till's sale lock, in seq order; here in
	// any order: a slot keeps the highest seq and the sum of deltas).
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			<-start
			for i := w; i < n; i += 3 {
				d := map[string]int64{"S": -1}
				if i%2 == 0 {
					d["T"] = 2
				}
				if err := a.s.QueueMovements(uint64(i+1), d); err != nil {
					t.Errorf("queue %d: %v", i+1, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	// The first node went out at once; the rest wait for the interval
	// (an hour) or for a read, which writes them now.
	total, slots, err := a.s.Stock(ctx, "S")
	if err != nil || total != -n || slots["till-a"] != -n {
		t.Fatalf("a: Stock(S) = %d %v %v, want %d at once", total, slots, err, -n)
	}
	if got, err := a.s.OwnSlot(ctx, "T"); err != nil || got != n {
		t.Fatalf("a: OwnSlot(T) = %d %v, want %d", got, err, n)
	}
	if _, h := a.s.Heads(); h > 2 {
		t.Errorf("a: height %d after %d queued events, want at most 2 nodes", h, n)
	}
	eventually(t, 20*time.Second, "b holds a's movements", func() bool {
		st, err := b.s.AllStock(ctx)
		return err == nil && st["S"] == -n && st["T"] == n
	}, a, b)
}

// Without reads, queued movements go out at most once per MoveInterval:
// a quiet till's movement goes at once, and a burst shares nodes.
func TestQueuedMovementsPaced(t *testing.T) {
	o := replicaOpts{config: func(c *Config) { c.MoveInterval = 100 * time.Millisecond }}
	rs := mesh(t, 2, o)
	a, b := rs[0], rs[1]
	ctx := t.Context()
	const n = 200
	for i := range n {
		if err := a.s.QueueMovements(uint64(i+1), map[string]int64{fmt.Sprintf("K%d", i%7): 1}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "b holds a's burst", func() bool {
		st, err := b.s.AllStock(ctx)
		if err != nil {
			return false
		}
		var sum int64
		for _, v := range st {
			sum += v
		}
		return sum == n
	}, a, b)
	// One node at once, the rest once the interval has passed (a few
	// more if the loop above was descheduled for a whole interval).
	if _, h := a.s.Heads(); h > 10 {
		t.Errorf("a: height %d after a burst of %d, want a few nodes", h, n)
	}
}

// Movements still queued when the Store closes are not written: the
// mesh is stopping, and the till mends them from its ledger at its next
// start (node.repairStock; TestStockRepairedAfterAQuickStop).
func TestQueuedMovementsAtCloseLeftForRepair(t *testing.T) {
	o := replicaOpts{badger: true, config: func(c *Config) { c.MoveInterval = time.Hour }}
	r := newReplica(t, "till-a", o)
	ctx := t.Context()
	if err := r.s.ApplyMovements(ctx, 1, map[string]int64{"S": -1}); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 50; i++ {
		if err := r.s.QueueMovements(uint64(i), map[string]int64{"S": -1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.s.Close(); err != nil {
		t.Fatal(err)
	}
	r.start(t, o)
	if got, err := r.s.OwnSlot(ctx, "S"); err != nil || got != -1 {
		t.Fatalf("OwnSlot(S) after reopening = %d %v, want -1 (the queued 49 left for the repair)", got, err)
	}
	if err := r.s.SetSlot(ctx, "S", 50, -50); err != nil {
		t.Fatal(err)
	}
	if got, err := r.s.OwnSlot(ctx, "S"); err != nil || got != -50 {
		t.Fatalf("OwnSlot(S) after the repair's SetSlot = %d %v, want -50", got, err)
	}
}

// A till reads its own queued movements at once, whichever goroutine
// queued them and however the writer's batches fall.
func TestQueuedMovementsReadBackAtOnce(t *testing.T) {
	o := replicaOpts{config: func(c *Config) { c.MoveInterval = 20 * time.Millisecond }}
	r := newReplica(t, "till-a", o)
	ctx := t.Context()
	var seq atomic.Uint64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			<-start
			sku := fmt.Sprintf("G%d", g)
			for i := range 40 {
				if err := r.s.QueueMovements(seq.Add(1), map[string]int64{sku: -1}); err != nil {
					t.Errorf("queue: %v", err)
					return
				}
				if got, err := r.s.OwnSlot(ctx, sku); err != nil || got != -int64(i+1) {
					t.Errorf("%s: OwnSlot = %d %v right after queueing movement %d, want %d", sku, got, err, i+1, -(i + 1))
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
}
