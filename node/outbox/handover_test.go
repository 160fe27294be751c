package outbox_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/outboxtest"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// service counts the requests of every side that sends to it.
type service struct {
	mu    sync.Mutex
	calls map[ledger.EventID]int
	total int
}

func (s *service) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.total }

// side is one side's connector "fiscal" on a shared service.
type side struct {
	svc  *service
	name string
	mu   sync.Mutex
	by   map[ledger.EventID]bool
}

func (c *side) Name() string                          { return "fiscal" }
func (c *side) Noun() string                          { return "receipts" }
func (c *side) Prepare(context.Context) (bool, error) { return true, nil }
func (c *side) Wants(ev *ledger.Event) bool           { _, ok := ev.Body.(*ledger.Sale); return ok }
func (c *side) Window() int                           { return 8 }
func (c *side) Send(ctx context.Context, it outbox.Item) (outbox.Result, error) {
	select {
	case <-time.After(time.Millisecond): // a service that takes a moment
	case <-ctx.Done():
		return outbox.Result{}, ctx.Err()
	}
	c.svc.mu.Lock()
	c.svc.calls[it.Event.ID()]++
	c.svc.total++
	c.svc.mu.Unlock()
	c.mu.Lock()
	c.by[it.Event.ID()] = true
	c.mu.Unlock()
	return outbox.Result{Ref: c.name + "-" + it.Event.ID().String()[:16]}, nil
}

// TestHandoverMidDrain: the store drains its backlog; halfway, the
// connector moves to the other side (HQ). The store stands down, hands
// over its cursor and records, and HQ goes on from there with its own
// state. Then it moves back. Every sale is sent exactly once, by one
// side, and the store sends nothing after it handed over.
func TestHandoverMidDrain(t *testing.T) {
	l := outboxtest.NewMemLedger(3)
	for i := range 300 {
		l.Append(i%3, ledgertest.Sale3(), int64(1000+i))
	}
	svc := &service{calls: map[ledger.EventID]int{}}
	var storeActive, hqActive atomic.Bool
	storeActive.Store(true)
	mk := func(c *side, st *outboxtest.MemStore, active *atomic.Bool) *outbox.Outbox {
		cfg := outbox.DefaultConfig()
		cfg.Connectors, cfg.Ledger, cfg.Store = []outbox.Connector{c}, l, st
		cfg.Leader, cfg.Number = func() bool { return true }, l.Number
		cfg.Active = func(string) bool { return active.Load() }
		cfg.Batch, cfg.Poll, cfg.FlushEvery = 40, 5*time.Millisecond, 5*time.Millisecond
		cfg.MinBackoff, cfg.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
		cfg.Logger = testkit.Quiet()
		return start(t, cfg)
	}
	storeSide := &side{svc: svc, name: "store", by: map[ledger.EventID]bool{}}
	hqSide := &side{svc: svc, name: "hq", by: map[ledger.EventID]bool{}}
	stStore, stHQ := outboxtest.NewMemStore(), outboxtest.NewMemStore()
	atStore := mk(storeSide, stStore, &storeActive)
	atHQ := mk(hqSide, stHQ, &hqActive)

	testkit.WaitFor(t, "the store halfway", 10*time.Second, func() bool { return svc.count() >= 100 })
	storeActive.Store(false)
	entries, err := atStore.Handover(t.Context(), "fiscal")
	if err != nil {
		t.Fatal(err)
	}
	stopped := svc.count()
	if err := atHQ.Import(t.Context(), "fiscal", entries); err != nil {
		t.Fatal(err)
	}
	hqActive.Store(true)
	atHQ.Kick()
	for i := range 60 { // the store sells on
		l.Append(i%3, ledgertest.Sale3(), int64(2000+i))
	}
	testkit.WaitFor(t, "HQ drained", 10*time.Second, func() bool { return svc.count() >= 360 && atHQ.Status()[0].Pending == 0 })
	storeSide.mu.Lock()
	if n := len(storeSide.by); n != stopped {
		t.Fatalf("the store sent %d items, %d when it handed over", n, stopped)
	}
	storeSide.mu.Unlock()

	// And back to the store.
	hqActive.Store(false)
	entries, err = atHQ.Handover(t.Context(), "fiscal")
	if err != nil {
		t.Fatal(err)
	}
	if err := atStore.Import(t.Context(), "fiscal", entries); err != nil {
		t.Fatal(err)
	}
	storeActive.Store(true)
	for i := range 30 {
		l.Append(i%3, ledgertest.Sale3(), int64(3000+i))
	}
	atStore.Kick()
	testkit.WaitFor(t, "the store drained", 10*time.Second, func() bool { return svc.count() >= 390 })
	testkit.WaitFor(t, "nothing pending at the store", 10*time.Second, func() bool {
		st := atStore.Status()[0]
		return st.Counted && st.Pending == 0
	})
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.calls) != 390 || svc.total != 390 {
		t.Fatalf("%d items, %d requests: want 390 each", len(svc.calls), svc.total)
	}
	for _, ev := range l.Events() {
		if svc.calls[ev.ID()] != 1 {
			t.Fatalf("event %s sent %d times", ev.ID().String()[:12], svc.calls[ev.ID()])
		}
	}
	if _, err := atStore.Handover(t.Context(), "fiscal"); err == nil {
		t.Fatal("a handover of a connector that runs here")
	}
}

// TestImportRefusesBadEntries: a handover with a record of another
// connector, a garbage record or no cursor stores nothing.
func TestImportRefusesBadEntries(t *testing.T) {
	l := outboxtest.NewMemLedger(1)
	ev := l.Append(0, ledgertest.Sale3(), 1000)
	st := outboxtest.NewMemStore()
	cfg := outbox.DefaultConfig()
	cfg.Connectors, cfg.Ledger, cfg.Store = []outbox.Connector{&side{svc: &service{calls: map[ledger.EventID]int{}}, by: map[ledger.EventID]bool{}}}, l, st
	cfg.Leader, cfg.Number, cfg.Logger = func() bool { return false }, l.Number, testkit.Quiet()
	o, err := outbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := ev.ID().String()
	cur := outboxEntry("fiscal", "cursor", "v1", `{}`)
	good := outboxEntry("fiscal", "item", id, `{"state":"sent","till":"00","seq":1,"at":1}`)
	for name, es := range map[string][]outboxEntryT{
		"other connector": {cur, outboxEntry("telegram", "item", id, `{"state":"sent","at":1}`)},
		"garbage record":  {cur, outboxEntry("fiscal", "item", id, `{"state":"maybe"}`)},
		"no cursor":       {good},
		"bad id":          {cur, outboxEntry("fiscal", "item", "xyz", `{"state":"sent","at":1}`)},
		"unknown kind":    {cur, outboxEntry("fiscal", "ref", "abc", id)},
	} {
		if err := o.Import(t.Context(), "fiscal", es); err == nil {
			t.Errorf("%s: imported", name)
		}
	}
	if n := len(st.Snapshot()); n != 0 {
		t.Fatalf("%d entries stored after refused imports", n)
	}
	if err := o.Import(t.Context(), "fiscal", []outboxEntryT{cur, good}); err != nil {
		t.Fatal(err)
	}
	if rec, _ := o.Record(t.Context(), "fiscal", ev.ID()); rec == nil || rec.State != outbox.Sent {
		t.Fatalf("record after import %+v", rec)
	}
}

type outboxEntryT = crdt.OutboxEntry

func outboxEntry(c, k, id, v string) crdt.OutboxEntry {
	return crdt.OutboxEntry{Connector: c, Kind: k, ID: id, Value: []byte(v)}
}
