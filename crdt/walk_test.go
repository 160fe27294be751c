package crdt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// failingMerge arms a merge hook that fails the merge of the first DAG
// node writing to sku's stock: go-ds-crdt then stops that branch's walk
// half way, with the nodes above marked processed and the head not moved.
type failingMerge struct {
	sku     string
	armed   atomic.Bool
	once    sync.Once
	entered chan struct{}
	release chan struct{} // nil: fail at once
}

func (f *failingMerge) hook(key string) error {
	if !f.armed.Load() || !strings.Contains(key, "/stock/"+f.sku+"/") {
		return nil
	}
	f.armed.Store(false)
	f.once.Do(func() { close(f.entered) })
	if f.release != nil {
		<-f.release
	}
	return errors.New("test: merge interrupted")
}

// interruptedWalk builds two replicas that share a first write, cuts b
// off, writes a chain of five stock movements at a (SKUs S1..S5) and
// heals, with b's merge of S2 failing once. It returns when b's walk has
// reached S2.
func interruptedWalk(t *testing.T, f *failingMerge) (a, b *replica) {
	t.Helper()
	o := replicaOpts{config: func(c *Config) { c.mergeHook = f.hook }}
	rs := mesh(t, 2, o)
	a, b = rs[0], rs[1]
	ctx := t.Context()
	if err := a.s.PutSetting(ctx, "name", []byte("Main St")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "first write replicated", func() bool { return caughtUp(a, b) }, a, b)
	isolate(b)
	for i := 1; i <= 5; i++ {
		if err := a.s.ApplyMovements(ctx, uint64(i), map[string]int64{fmt.Sprintf("S%d", i): -int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	f.armed.Store(true)
	heal(t, b, a)
	select {
	case <-f.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("b never merged S2")
	}
	return a, b
}

// allStock waits until r reads every S1..S5 slot as a wrote it.
func allStock(t *testing.T, r *replica, timeout time.Duration) {
	t.Helper()
	ctx := t.Context()
	var missing []string
	eventually(t, timeout, "every movement merged", func() bool {
		missing = missing[:0]
		for i := 1; i <= 5; i++ {
			sku := fmt.Sprintf("S%d", i)
			if total, _, err := r.s.Stock(ctx, sku); err != nil || total != -int64(i) {
				missing = append(missing, fmt.Sprintf("%s=%d", sku, total))
			}
		}
		if len(missing) > 0 {
			t.Logf("%s still lacks %v", r.name, missing)
		}
		return len(missing) == 0
	}, r)
}

// TestInterruptedWalkHealsAtRuntime: a merge that fails half way down a
// branch leaves the branch's upper nodes marked processed while the head
// stays where it was, so go-ds-crdt's own repair (which walks from the
// heads) never finds the rest and re-announcements are skipped as known.
// The Store hands the announcement back once and repairs.
func TestInterruptedWalkHealsAtRuntime(t *testing.T) {
	f := &failingMerge{sku: "S2", entered: make(chan struct{})}
	_, b := interruptedWalk(t, f)
	allStock(t, b, 20*time.Second)
}

// TestInterruptedWalkHealsAfterRestart: the same half-merged branch,
// left by a Close (or kill -9) in the middle of the walk, is finished
// after the restart.
func TestInterruptedWalkHealsAfterRestart(t *testing.T) {
	f := &failingMerge{sku: "S2", entered: make(chan struct{}), release: make(chan struct{})}
	_, b := interruptedWalk(t, f)
	// Close while b's walk is stuck in S2's merge; the merge then fails.
	closed := make(chan error, 1)
	go func() { closed <- b.s.Close() }()
	<-b.s.bcast.drain
	close(f.release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	if v, err := b.d.Has(context.Background(), b.s.openKey); err != nil || v {
		t.Fatalf("open marker after Close: %v %v", v, err)
	}
	b.start(t, replicaOpts{})
	allStock(t, b, 20*time.Second)
}
