package crdt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	blockstore "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	dscrdt "github.com/ipfs/go-ds-crdt"
	"github.com/libp2p/go-libp2p/core/peer"
)

// failingMerge arms a merge hook that fails the merge of the first DAG
// node writing to sku's stock: go-ds-crdt then stops that branch's walk
// half way, with the nodes above marked processed and the head not moved.
type failingMerge struct {
	sku     string
	armed   atomic.Bool
	failed  atomic.Bool  // the armed failure happened
	more    atomic.Int32 // merges of sku to fail after the first
	once    sync.Once
	entered chan struct{}
	release chan struct{} // nil: fail at once
}

func (f *failingMerge) hook(key string) error {
	if !strings.Contains(key, "/stock/"+f.sku+"/") {
		return nil
	}
	if !f.armed.Load() {
		if f.failed.Load() && f.more.Add(-1) >= 0 {
			return errors.New("test: merge interrupted again")
		}
		return nil
	}
	f.armed.Store(false)
	f.failed.Store(true)
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

// TestInterruptedWalkHealsWhenTheRepairFails: the merge fails in the
// walk, again in the walk of the announcement handed back, and in the
// repair that follows; the failed repair is tried again within seconds,
// not after go-ds-crdt's RepairInterval (minutes), until it merges.
func TestInterruptedWalkHealsWhenTheRepairFails(t *testing.T) {
	f := &failingMerge{sku: "S2", entered: make(chan struct{})}
	f.more.Store(2)
	_, b := interruptedWalk(t, f)
	allStock(t, b, 30*time.Second)
	if n := f.more.Load(); n >= 0 {
		t.Fatalf("%d of the planned failures did not happen: the test no longer fails a repair", n+1)
	}
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

// TestCoalesce: queued announcements merge per origin peer, newest heads
// first, with repeats dropped and the union capped; retries stay apart.
func TestCoalesce(t *testing.T) {
	cs := testCIDs(t, 300)
	p1, p2 := peer.ID("p1"), peer.ID("p2")
	ann := func(from peer.ID, again bool, heads ...cid.Cid) announcement {
		data, err := encodeHeads(heads)
		if err != nil {
			t.Fatal(err)
		}
		return announcement{data: data, heads: heads, from: []peer.ID{from}, again: again}
	}
	got := coalesce([]announcement{
		ann(p1, false, cs[0]),
		ann(p2, false, cs[10]),
		ann(p1, false, cs[1], cs[0]),
		ann(p1, true, cs[5]),
		ann(p1, false, cs[2]),
	})
	if len(got) != 3 {
		t.Fatalf("got %d announcements, want p1, p2 and the retry", len(got))
	}
	want := [][]cid.Cid{{cs[2], cs[1], cs[0]}, {cs[10]}, {cs[5]}}
	for i, a := range got {
		if !slices.Equal(a.heads, want[i]) {
			t.Errorf("announcement %d heads %v, want %v", i, a.heads, want[i])
		}
		decoded, err := decodeHeads(a.data)
		if err != nil || !slices.Equal(decoded, a.heads) {
			t.Errorf("announcement %d data decodes to %v, %v; want its heads", i, decoded, err)
		}
	}
	if !got[2].again {
		t.Error("the retry lost its flag")
	}

	// A burst of one-head announcements from one peer: the newest
	// maxAnnouncedHeads survive, newest first.
	var burst []announcement
	for _, c := range cs {
		burst = append(burst, ann(p1, false, c))
	}
	got = coalesce(burst)
	if len(got) != 1 || len(got[0].heads) != maxAnnouncedHeads || got[0].heads[0] != cs[len(cs)-1] {
		t.Fatalf("burst coalesced to %d announcements, first with %d heads", len(got), len(got[0].heads))
	}
}

// TestAnnounceTo: a node that learns a peer is behind pushes it our heads
// directly, and the peer takes it in; a closed Store refuses.
func TestAnnounceTo(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	if err := a.s.PutSetting(ctx, "name", []byte("Main St")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "replicated", func() bool { return caughtUp(a, b) }, a, b)
	before := b.s.Stats().Pushes
	if err := a.s.AnnounceTo(b.h.ID()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "b took the push", func() bool { return b.s.Stats().Pushes > before }, b)
	if err := a.s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.s.AnnounceTo(b.h.ID()); !errors.Is(err, ErrClosed) {
		t.Fatalf("AnnounceTo after Close = %v, want ErrClosed", err)
	}
}

// TestFinishedWalkRecordLeavesNoExtraHead: a walk record left by a stop
// right after the walk finished, of a head that later nodes built on, does
// not come back as a second head at start (heads would differ from the
// peers' until the next local write).
func TestFinishedWalkRecordLeavesNoExtraHead(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	if err := a.s.ApplyMovements(ctx, 1, map[string]int64{"S1": -1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "first write merged", func() bool { return caughtUp(a, b) }, a, b)
	first, _ := b.s.Heads()
	if err := a.s.ApplyMovements(ctx, 2, map[string]int64{"S2": -1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "second write merged", func() bool { return caughtUp(a, b) }, a, b)
	if err := b.s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, h := range first {
		if err := b.d.Put(ctx, walkKey(b.s.walkNS, h), nil); err != nil {
			t.Fatal(err)
		}
	}
	logs := &captureHandler{}
	b.start(t, replicaOpts{logger: newCaptureLogger(logs)})
	eventually(t, 30*time.Second, "start-up repair", func() bool { return !b.s.Dirty(ctx) }, b)
	if !sameHeads(a, b) {
		ha, _ := a.s.Heads()
		hb, _ := b.s.Heads()
		t.Fatalf("heads differ after restart: a %v, b %v", ha, hb)
	}
	if logs.contains("finishing inventory merges") {
		t.Error("restored a head the current heads lead to")
	}
}

// TestOrphanedLocalWriteRepublished: a till killed after go-ds-crdt
// merged its own write but before the heads moved keeps the value while
// no head leads to its block, so peers never get it. After an unclean
// shutdown the Store writes its slots again.
func TestOrphanedLocalWriteRepublished(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	if err := a.s.ApplyMovements(ctx, 1, map[string]int64{"S1": -1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "first write merged", func() bool { return caughtUp(a, b) }, a, b)
	oldHeads, oldHeight := a.s.Heads()
	key, epoch := a.s.ownKey("S1"), a.s.Epoch()
	if err := a.s.Close(); err != nil {
		t.Fatal(err)
	}

	// The orphan: write S1's next value with go-ds-crdt offline, then put
	// the heads back as they were, as a kill between merge and head
	// update leaves them.
	ns := ds.NewKey(DefaultConfig().Namespace)
	crdtNS := ns.ChildString("c")
	bstore := blockstore.NewBlockstore(namespace.Wrap(a.d, ns.ChildString("blocks")), blockstore.NoPrefix())
	bserv := blockservice.New(bstore, nil)
	offline, err := dscrdt.New(a.d, crdtNS, merkledag.NewDAGService(bserv), nil, dscrdt.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := offline.Put(ctx, key, encodeSlot(Slot{Seq: 2, Total: -3})); err != nil {
		t.Fatal(err)
	}
	newHeads := offline.InternalStats(ctx).Heads
	if err := offline.Close(); err != nil {
		t.Fatal(err)
	}
	for _, h := range newHeads {
		if err := a.d.Delete(ctx, headKey(crdtNS, h)); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range oldHeads {
		if err := a.d.Put(ctx, headKey(crdtNS, h), binary.AppendUvarint(nil, oldHeight)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.d.Put(ctx, a.s.openKey, nil); err != nil { // the process died
		t.Fatal(err)
	}

	a.start(t, replicaOpts{})
	if a.s.Epoch() != epoch {
		t.Fatal("epoch changed")
	}
	if total, _, _ := a.s.Stock(ctx, "S1"); total != -3 {
		t.Fatalf("a's own S1 = %d, want -3", total)
	}
	eventually(t, 20*time.Second, "b sees a's last write", func() bool {
		total, _, _ := b.s.Stock(ctx, "S1")
		return total == -3
	}, a, b)
}
