package outbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/outboxtest"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// flaky is a connector whose service gives a bad answer to the first
// tries of one item.
type flaky struct {
	window int
	failID ledger.EventID
	fails  int

	mu    sync.Mutex
	tries map[ledger.EventID]int
	calls []ledger.EventID // every Send, in order
}

func (f *flaky) Name() string                          { return "flaky" }
func (f *flaky) Noun() string                          { return "items" }
func (f *flaky) Prepare(context.Context) (bool, error) { return true, nil }
func (f *flaky) Wants(ev *ledger.Event) bool           { _, ok := ev.Body.(*ledger.Sale); return ok }
func (f *flaky) Window() int                           { return f.window }
func (f *flaky) sent() []ledger.EventID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ledger.EventID(nil), f.calls...)
}
func (f *flaky) Send(_ context.Context, it outbox.Item) (outbox.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := it.Event.ID()
	f.calls = append(f.calls, id)
	f.tries[id]++
	if id == f.failID && f.tries[id] <= f.fails {
		return outbox.Result{}, errors.New("garbage")
	}
	return outbox.Result{}, nil
}

// TestWindowOneHoldsBackWhatFollowsAFailure: in order means no item goes
// out before the one ahead of it was accepted, however it failed.
func TestWindowOneHoldsBackWhatFollowsAFailure(t *testing.T) {
	l := outboxtest.NewMemLedger(2)
	var sales []*ledger.Event
	for i := range 10 {
		sales = append(sales, l.Append(i%2, ledgertest.Sale3(), int64(1000+i)))
	}
	f := &flaky{window: 1, failID: sales[3].ID(), fails: 2, tries: map[ledger.EventID]int{}}
	o := start(t, testConfig(f, l))
	testkit.WaitFor(t, "all sent", 10*time.Second, func() bool { return o.Status()[0].Sent == 10 })
	calls := f.sent()
	want := []ledger.EventID{}
	for i, ev := range sales {
		want = append(want, ev.ID())
		if i == 3 {
			want = append(want, ev.ID(), ev.ID()) // two bad answers, then accepted
		}
	}
	if len(calls) != len(want) {
		t.Fatalf("%d sends, want %d", len(calls), len(want))
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("send %d was %s, want %s", i, calls[i].String()[:8], want[i].String()[:8])
		}
	}
}

// perTillFlaky is flaky with each till's items in the till's order.
type perTillFlaky struct{ *flaky }

func (perTillFlaky) PerTill() bool { return true }

// TestPerTillOrder: a service that needs each till's receipts in order
// (PerTiller) gets them so, tills in parallel; a bad answer for one item
// holds back that till's later items until it is accepted, and not the
// other tills'.
func TestPerTillOrder(t *testing.T) {
	l := outboxtest.NewMemLedger(3)
	var sales []*ledger.Event
	for i := range 60 {
		sales = append(sales, l.Append(i%3, ledgertest.Sale3(), int64(1000+i)))
	}
	f := perTillFlaky{&flaky{window: 4, failID: sales[4].ID(), fails: 3, tries: map[ledger.EventID]int{}}}
	cfg := testConfig(f, l)
	cfg.Batch = 7
	o := start(t, cfg)
	testkit.WaitFor(t, "all sent", 10*time.Second, func() bool { return o.Status()[0].Sent == 60 })
	seq := map[ledger.EventID]*ledger.Event{}
	for _, ev := range sales {
		seq[ev.ID()] = ev
	}
	last := map[ledger.TillID]uint64{}
	failedAt := -1
	for i, id := range f.sent() {
		ev := seq[id]
		if id == sales[4].ID() && failedAt < 0 {
			failedAt = i
		}
		if ev.Seq < last[ev.Till] || (ev.Seq == last[ev.Till] && id != sales[4].ID()) {
			t.Fatalf("send %d: till %s seq %d after seq %d", i, ev.Till.Short(), ev.Seq, last[ev.Till])
		}
		last[ev.Till] = ev.Seq
	}
	// The other tills went on while the failing one waited.
	others := 0
	for _, id := range f.sent()[failedAt:] {
		if seq[id].Till != sales[4].Till {
			others++
		}
	}
	if others == 0 {
		t.Fatal("the other tills waited for the failing till")
	}
}
