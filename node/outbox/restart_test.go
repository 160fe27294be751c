package outbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/outboxtest"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// messenger is a service without idempotency keys (Telegram): it counts
// every message it takes. stop, when set, is called after the message
// numbered stopAt was taken: the till stops right then.
type messenger struct {
	mu     sync.Mutex
	got    map[ledger.EventID]int
	n      int
	stopAt int
	stop   func()
}

func (m *messenger) Name() string                          { return "telegram" }
func (m *messenger) Noun() string                          { return "messages" }
func (m *messenger) Prepare(context.Context) (bool, error) { return true, nil }
func (m *messenger) Wants(ev *ledger.Event) bool           { _, ok := ev.Body.(*ledger.Sale); return ok }
func (m *messenger) Window() int                           { return 1 }
func (m *messenger) Send(ctx context.Context, it outbox.Item) (outbox.Result, error) {
	if err := ctx.Err(); err != nil {
		return outbox.Result{}, err // the request never left
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got[it.Event.ID()]++
	m.n++
	if m.n == m.stopAt && m.stop != nil {
		m.stop()
	}
	return outbox.Result{Ref: "msg"}, nil
}

// TestStopRecordsWhatWasAnswered: a till stops (its context ends) right
// after the messenger took a message, before the group of results was
// due to be written. The result is still recorded, so the restarted
// till sends each message once: a restart used to send the last group
// again (the write ran under the ended context and failed).
func TestStopRecordsWhatWasAnswered(t *testing.T) {
	l := outboxtest.NewMemLedger(2)
	for i := range 10 {
		l.Append(i%2, ledgertest.Sale3(), int64(1000+i))
	}
	st := outboxtest.NewMemStore()
	m := &messenger{got: map[ledger.EventID]int{}, stopAt: 4}
	runTill := func(ctx context.Context) (*outbox.Outbox, <-chan struct{}) {
		cfg := testConfig(m, l)
		cfg.Store, cfg.FlushEvery = st, time.Hour // the same store at each start; results wait for a full group
		return run(t, ctx, cfg)
	}
	ctx, cancel := context.WithCancel(t.Context())
	m.stop = cancel
	_, done := runTill(ctx)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the till did not stop")
	}
	m.mu.Lock()
	m.stop = nil
	sentBefore := m.n
	m.mu.Unlock()
	if sentBefore != 4 {
		t.Fatalf("%d messages before the stop, want 4", sentBefore)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	o2, done2 := runTill(ctx2) // the restarted till
	defer func() { cancel2(); <-done2 }()
	testkit.WaitFor(t, "every message", 10*time.Second, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.got) == 10
	})
	testkit.WaitFor(t, "nothing pending", 10*time.Second, func() bool { s := o2.Status()[0]; return s.Counted && s.Pending == 0 })
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, n := range m.got {
		if n != 1 {
			t.Fatalf("message for %s sent %d times (%d messages in all)", id.String()[:12], n, m.n)
		}
	}
}
