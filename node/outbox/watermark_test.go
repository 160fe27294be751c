package outbox_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/outboxtest"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestWatermarkHoldsLaterItems: till 2 made a sale at 1005 that has not
// reached the sending till (1); till 1's sale at 1010 waits for it,
// although it is here, until till 2's sale arrives and its clock shows
// it has nothing older on the way; then both go, in store-wide order. A
// till that stays behind holds the outbox back at most Hold.
func TestWatermarkHoldsLaterItems(t *testing.T) {
	l := outboxtest.NewMemLedger(2)
	a := l.Append(0, ledgertest.Sale3(), 1000)
	b := l.Sign(1, ledgertest.Sale3(), 1005) // on its way
	c := l.Append(0, ledgertest.Sale3(), 1010)
	till2 := l.Tills[1].ID

	var mu sync.Mutex
	heard := outbox.Heard{Till: till2, Seq: 0, Clock: time.UnixMilli(1003)}
	now := time.Unix(1_700_000_000, 0)
	setHeard := func(h outbox.Heard) { mu.Lock(); heard = h; mu.Unlock() }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	f := &flaky{window: 1, tries: map[ledger.EventID]int{}}
	cfg := testConfig(f, l)
	cfg.Heard = func() []outbox.Heard { mu.Lock(); defer mu.Unlock(); return []outbox.Heard{heard} }
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg.Hold = 10 * time.Second
	o := start(t, cfg)

	// The round notes the wait before it sends the sale at 1000: wait for
	// both, then check nothing else went.
	testkit.WaitFor(t, "the sale at 1000 sent and the one at 1010 waiting for till 2", 10*time.Second, func() bool {
		st := o.Status()[0]
		return st.WaitingFor == 2 && st.Sent == 1
	})
	if got := f.sent(); len(got) != 1 || got[0] != a.ID() {
		t.Fatalf("sent %d items before till 2's sale came, want only the one at 1000", len(got))
	}

	l.Add(b)
	setHeard(outbox.Heard{Till: till2, Seq: 1, Clock: time.UnixMilli(1012)})
	o.Kick()
	testkit.WaitFor(t, "all three sent", 10*time.Second, func() bool { return o.Status()[0].Sent == 3 })
	want := []ledger.EventID{a.ID(), b.ID(), c.ID()}
	for i, id := range f.sent() {
		if id != want[i] {
			t.Fatalf("send %d was %s, want %s (store-wide order)", i, id.String()[:8], want[i].String()[:8])
		}
	}

	// Till 2 goes quiet (still listed, its clock stuck at 1012): till
	// 1's next sale waits Hold, then goes.
	l.Append(0, ledgertest.Sale3(), 1020)
	o.Kick()
	testkit.WaitFor(t, "the sale at 1020 waits for till 2", 10*time.Second, func() bool {
		return o.Status()[0].WaitingFor == 2
	})
	if n := o.Status()[0].Sent; n != 3 {
		t.Fatalf("sent %d, want 3 while within Hold", n)
	}
	advance(11 * time.Second)
	o.Kick()
	testkit.WaitFor(t, "the sale at 1020 sent after Hold", 10*time.Second, func() bool { return o.Status()[0].Sent == 4 })
}
