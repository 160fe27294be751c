package fiscal_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/fiscal"
	"github.com/tillmesh/tillmesh/node/outbox/outboxtest"
	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// rig is a store's ledger, its replicated outbox state and a fiscal
// simulator.
type rig struct {
	t     testing.TB
	led   *outboxtest.MemLedger
	store *outboxtest.MemStore
	sim   *fiscalsim.Sim
	url   string
	now   int64
}

func newRig(t testing.TB, tills int) *rig {
	sim := fiscalsim.NewSim()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	sim.SetBase(srv.URL)
	return &rig{t: t, led: outboxtest.NewMemLedger(tills), store: outboxtest.NewMemStore(), sim: sim, url: srv.URL,
		now: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC).UnixMilli()}
}

// sell appends n sales round-robin over the tills (and a shift open now
// and then, which is not fiscal).
func (r *rig) sell(seed uint64, n int) []*ledger.Event {
	rnd := rand.New(rand.NewPCG(seed, 1))
	var out []*ledger.Event
	for i := range n {
		r.now += 1000
		till := i % len(r.led.Tills)
		if i%7 == 3 {
			r.led.Append(till, &ledger.ShiftOpen{Currency: "EUR", Staff: "1"}, r.now)
		}
		out = append(out, r.led.Append(till, ledgertest.Sale(rnd, 4), r.now))
	}
	return out
}

type box struct {
	*outbox.Outbox
	leader atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *rig) start(window int, leader bool, tweak func(*outbox.Config)) *box {
	p, err := fiscal.NewHTTP(r.url, "", nil)
	if err != nil {
		r.t.Fatal(err)
	}
	b := &box{done: make(chan struct{})}
	b.leader.Store(leader)
	cfg := outbox.DefaultConfig()
	cfg.Connectors = []outbox.Connector{fiscal.NewWithProvider(p, fiscal.Settings{URL: r.url, TIN: "123456789"}, window)}
	cfg.Ledger, cfg.Store, cfg.Number = r.led, r.store, r.led.Number
	cfg.Leader = b.leader.Load
	cfg.MinBackoff, cfg.MaxBackoff, cfg.MaxAttempts = 5*time.Millisecond, 50*time.Millisecond, 3
	cfg.Poll, cfg.Timeout = 20*time.Millisecond, 2*time.Second
	cfg.Logger = testkit.Quiet()
	if tweak != nil {
		tweak(&cfg)
	}
	if b.Outbox, err = outbox.New(cfg); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(r.t.Context())
	b.cancel = cancel
	go func() {
		defer close(b.done)
		b.Run(ctx)
	}()
	r.t.Cleanup(func() { cancel(); <-b.done })
	return b
}

func (b *box) stop() { b.cancel(); <-b.done }

func (b *box) fiscal() outbox.Status { return b.Status()[0] }

// registeredOnce checks that every sale is registered exactly once at the
// simulator and recorded with the simulator's fiscal number.
func (r *rig) registeredOnce(sales []*ledger.Event, o *outbox.Outbox) {
	r.t.Helper()
	numbers := map[string]string{}
	for _, ev := range sales {
		reg, ok := r.sim.Get(ev.ID().String())
		if !ok {
			r.t.Fatalf("sale %d-%d never registered", r.led.Number(ev.Till), ev.Seq)
		}
		if other, dup := numbers[reg.Number]; dup {
			r.t.Fatalf("fiscal number %s given to %s and %s", reg.Number, other, ev.ID())
		}
		numbers[reg.Number] = ev.ID().String()
		rec, err := o.Record(r.t.Context(), "fiscal", ev.ID())
		if err != nil || rec == nil || rec.State != outbox.Sent || rec.Ref != reg.Number || rec.Sign != reg.Sign {
			r.t.Fatalf("sale %s: record %+v (err %v), want sent with %s", ev.ID(), rec, err, reg.Number)
		}
		if !strings.Contains(rec.URL, "/check?n="+reg.Number) {
			r.t.Fatalf("verification URL %q", rec.URL)
		}
	}
	if st := r.sim.Stats(); st.Registered != len(sales) {
		r.t.Fatalf("simulator registered %d, want %d (stats %+v)", st.Registered, len(sales), st)
	}
}

func TestDrainOnceInParallel(t *testing.T) {
	r := newRig(t, 3)
	sales := r.sell(1, 300)
	b := r.start(8, true, nil)
	testkit.WaitFor(t, "every sale registered", 20*time.Second, func() bool { return r.sim.Stats().Registered >= len(sales) })
	testkit.WaitFor(t, "backlog empty", 10*time.Second, func() bool { st := b.fiscal(); return st.Pending == 0 && st.Counted })
	r.registeredOnce(sales, b.Outbox)
	if st := r.sim.Stats(); st.Duplicates != 0 {
		t.Fatalf("duplicates %d with one healthy relay", st.Duplicates)
	}
	if got := b.fiscal().Line; got != "fiscal: all sent" {
		t.Fatalf("line %q", got)
	}
	// Results are recorded in groups, not one store write per receipt.
	if w := r.store.Writes.Load(); w > int64(len(sales))/4 {
		t.Fatalf("%d store writes for %d receipts", w, len(sales))
	}
}

func TestInOrderWithWindowOne(t *testing.T) {
	r := newRig(t, 3)
	sales := r.sell(2, 60)
	r.start(1, true, nil)
	testkit.WaitFor(t, "every sale registered", 20*time.Second, func() bool { return r.sim.Stats().Registered >= len(sales) })
	order := r.sim.Order()
	for i, ev := range sales { // sell made them in time order
		if order[i] != ev.ID().String() {
			t.Fatalf("registration %d is %s, want %s", i, order[i][:12], ev.ID().String()[:12])
		}
	}
}

func TestOfflineBacklogThenDrain(t *testing.T) {
	r := newRig(t, 2)
	r.sim.Set(fiscalsim.Faults{Down: true})
	sales := r.sell(3, 40)
	b := r.start(4, true, nil)
	testkit.WaitFor(t, "backlog counted", 10*time.Second, func() bool { return b.fiscal().Pending == len(sales) })
	st := b.fiscal()
	if st.Reachable || st.Dead != 0 || !strings.HasPrefix(st.Line, "fiscal: 40 receipts pending, oldest ") {
		t.Fatalf("status while down: %+v", st)
	}
	if r.sim.Stats().Registered != 0 {
		t.Fatal("registered while down")
	}
	r.sim.Set(fiscalsim.Faults{})
	b.Kick()
	testkit.WaitFor(t, "drained", 20*time.Second, func() bool {
		st := b.fiscal()
		return st.Counted && st.Pending == 0 && r.sim.Stats().Registered == len(sales)
	})
	r.registeredOnce(sales, b.Outbox)
}

// TestFailoverMidDrain kills the sending till while it drains a backlog
// (its store writes fail from then on, as a dead till's would) and lets
// a second till take over from the replicated state: every receipt is
// registered exactly once; requests repeated for receipts whose result
// the dead till had not recorded are answered from their idempotency key.
func TestFailoverMidDrain(t *testing.T) {
	r := newRig(t, 3)
	r.sim.Set(fiscalsim.Faults{Delay: fiscalsim.Duration(2 * time.Millisecond)})
	sales := r.sell(4, 400)
	deadStore := &failing{MemStore: r.store}
	a := r.start(8, true, func(c *outbox.Config) { c.Store = deadStore })
	testkit.WaitFor(t, "a third registered", 20*time.Second, func() bool { return r.sim.Stats().Registered >= len(sales)/3 })
	deadStore.dead.Store(true)
	a.leader.Store(false)
	a.stop()
	mid := r.sim.Stats().Registered
	if mid >= len(sales) {
		t.Fatalf("the first till drained everything (%d) before it died; make the backlog longer", mid)
	}
	b := r.start(8, true, nil)
	testkit.WaitFor(t, "drained by the second till", 20*time.Second, func() bool {
		st := b.fiscal()
		return r.sim.Stats().Registered == len(sales) && st.Counted && st.Pending == 0
	})
	r.registeredOnce(sales, b.Outbox)
	st := r.sim.Stats()
	// At most the results the dead till had not recorded are asked for
	// again: its in-flight window plus one unflushed group.
	if st.Duplicates > 8+64 {
		t.Fatalf("%d repeated requests after the failover, want at most %d", st.Duplicates, 8+64)
	}
	t.Logf("registered %d before the failover; %d repeated requests answered from the idempotency key", mid, st.Duplicates)
}

type failing struct {
	*outboxtest.MemStore
	dead atomic.Bool
}

func (f *failing) PutOutbox(ctx context.Context, e []crdt.OutboxEntry) error {
	if f.dead.Load() {
		return fmt.Errorf("till is dead")
	}
	return f.MemStore.PutOutbox(ctx, e)
}

// badCase is one way a fiscal service answers badly.
func TestBadAnswers(t *testing.T) {
	cases := []struct {
		name   string
		faults fiscalsim.Faults
		code   string // the dead letter's code
		reason string // in the dead letter's reason
	}{
		{"garbage", fiscalsim.Faults{Garbage: true}, "gave_up", "not its JSON"},
		{"error body with 200", fiscalsim.Faults{ErrorBody: true}, "internal", "cash register not activated"},
		{"broken-off answer", fiscalsim.Faults{BreakOff: true}, "gave_up", "broke off"},
		{"rejected with a code", fiscalsim.Faults{RejectPercent: 100, RejectCode: "tin_mismatch"}, "tin_mismatch", "refused"},
		{"wrong token", fiscalsim.Faults{Token: "right"}, "unauthorized", "wrong or missing API token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, 1)
			r.sim.Set(c.faults)
			sales := r.sell(5, 3)
			b := r.start(1, true, func(cfg *outbox.Config) { cfg.Timeout = 300 * time.Millisecond })
			testkit.WaitFor(t, "dead letters", 20*time.Second, func() bool { return b.fiscal().Dead == len(sales) })
			dl, err := b.DeadLetters(t.Context())
			if err != nil || len(dl) != len(sales) {
				t.Fatalf("dead letters %v, %v", dl, err)
			}
			for _, d := range dl {
				if d.Code != c.code || !strings.Contains(d.Reason, c.reason) || d.Receipt == "" {
					t.Fatalf("dead letter %+v, want code %q and reason with %q", d, c.code, c.reason)
				}
			}
			if st := b.fiscal(); st.Pending != 0 || !strings.Contains(st.Line, "3 in the dead-letter list") {
				t.Fatalf("status %+v", st)
			}
			// The service is fixed; a manager retries each: registered once.
			r.sim.Set(fiscalsim.Faults{})
			for _, d := range dl {
				if err := b.Retry(t.Context(), "fiscal", d.EventID); err != nil {
					t.Fatal(err)
				}
			}
			testkit.WaitFor(t, "retried", 20*time.Second, func() bool { return b.fiscal().Dead == 0 })
			r.registeredOnce(sales, b.Outbox)
		})
	}
}

func TestDuplicateFiscalNumber(t *testing.T) {
	r := newRig(t, 1)
	r.sim.Set(fiscalsim.Faults{SameNumber: true})
	sales := r.sell(6, 3)
	b := r.start(1, true, nil)
	testkit.WaitFor(t, "two dead letters", 20*time.Second, func() bool { return b.fiscal().Dead == 2 })
	first, _ := b.Record(t.Context(), "fiscal", sales[0].ID())
	if first == nil || first.State != outbox.Sent {
		t.Fatalf("first receipt %+v", first)
	}
	dl, _ := b.DeadLetters(t.Context())
	for _, d := range dl {
		if d.Code != "duplicate_ref" || !strings.Contains(d.Reason, first.Ref) {
			t.Fatalf("dead letter %+v", d)
		}
	}
}

func TestRetryRefusesWhatIsNotDead(t *testing.T) {
	r := newRig(t, 1)
	sales := r.sell(7, 1)
	b := r.start(1, true, nil)
	testkit.WaitFor(t, "sent", 10*time.Second, func() bool { return r.sim.Stats().Registered == 1 })
	for _, id := range []string{sales[0].ID().String(), "zz", strings.Repeat("0", 64)} {
		if err := b.Retry(t.Context(), "fiscal", id); err == nil {
			t.Fatalf("retry of %q accepted", id)
		}
	}
	if err := b.Retry(t.Context(), "nope", sales[0].ID().String()); err == nil {
		t.Fatal("retry at an unknown connector accepted")
	}
	before := r.store.Snapshot()
	if after := r.store.Snapshot(); len(after) != len(before) {
		t.Fatal("a refused retry changed the store")
	}
}

// TestPerTillOrder: a service that refuses a terminal's receipt older
// than one it registered (fiscalsim InOrder) gets each till's receipts in
// the till's order with Settings.PerTill, tills in parallel: nothing
// refused, every receipt once; out of order it would refuse some.
func TestPerTillOrder(t *testing.T) {
	r := newRig(t, 3)
	r.sim.Set(fiscalsim.Faults{InOrder: true, Delay: fiscalsim.Duration(time.Millisecond)})
	sales := r.sell(3, 150)
	b := r.start(16, true, func(c *outbox.Config) {
		p, err := fiscal.NewHTTP(r.url, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Connectors = []outbox.Connector{fiscal.NewWithProvider(p, fiscal.Settings{URL: r.url, TIN: "123456789", PerTill: true}, 16)}
	})
	testkit.WaitFor(t, "every sale registered", 20*time.Second, func() bool { return r.sim.Stats().Registered >= len(sales) })
	testkit.WaitFor(t, "backlog empty", 10*time.Second, func() bool { st := b.fiscal(); return st.Pending == 0 && st.Counted })
	r.registeredOnce(sales, b.Outbox)
	if st := r.sim.Stats(); st.Rejected != 0 || st.Duplicates != 0 {
		t.Fatalf("simulator %+v: want nothing refused or repeated", st)
	}
	bySeq := map[string]*ledger.Event{}
	for _, ev := range sales {
		bySeq[ev.ID().String()] = ev
	}
	last := map[ledger.TillID]uint64{}
	for i, id := range r.sim.Order() {
		ev := bySeq[id]
		if ev.Seq <= last[ev.Till] {
			t.Fatalf("registration %d: till %d seq %d after seq %d", i, r.led.Number(ev.Till), ev.Seq, last[ev.Till])
		}
		last[ev.Till] = ev.Seq
	}
}
