package outbox_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/outboxtest"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// away is a service that does not answer while down is set.
type away struct {
	down  atomic.Bool
	mu    sync.Mutex
	tries int
	sent  int
}

func (a *away) Name() string                          { return "away" }
func (a *away) Noun() string                          { return "items" }
func (a *away) Prepare(context.Context) (bool, error) { return true, nil }
func (a *away) Wants(ev *ledger.Event) bool           { _, ok := ev.Body.(*ledger.Sale); return ok }
func (a *away) Window() int                           { return 1 }
func (a *away) Send(context.Context, outbox.Item) (outbox.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tries++
	if a.down.Load() {
		return outbox.Result{}, outbox.ErrUnreachable
	}
	a.sent++
	return outbox.Result{}, nil
}

func (a *away) counts() (tries, sent int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tries, a.sent
}

// TestLineBackEndsTheBackoff: a service found away is not asked again
// before its backoff ends (an hour here), even when the ledger grows;
// once the node says the line is back, the outbox tries at once and
// sends everything. While the service is still away, LineBack costs one
// try and the backoff is set again.
func TestLineBackEndsTheBackoff(t *testing.T) {
	l := outboxtest.NewMemLedger(1)
	l.Append(0, ledgertest.Sale3(), 1000)
	a := &away{}
	a.down.Store(true)
	cfg := testConfig(a, l)
	cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour
	o := start(t, cfg)
	testkit.WaitFor(t, "the first try", 10*time.Second, func() bool { n, _ := a.counts(); return n == 1 })
	l.Append(0, ledgertest.Sale3(), 1001)
	o.Kick()
	o.LineBack() // still away: one more try, then the hour again
	testkit.WaitFor(t, "a try after LineBack", 10*time.Second, func() bool { n, _ := a.counts(); return n == 2 })
	o.Kick()
	if s := o.Status()[0]; s.Reachable || s.Sent != 0 {
		t.Fatalf("status %+v while the service is away", s)
	}
	a.down.Store(false)
	o.Kick() // the ledger grew: not a reason to try within the backoff
	o.LineBack()
	testkit.WaitFor(t, "both sent after the line came back", 10*time.Second, func() bool { return o.Status()[0].Sent == 2 })
	if n, sent := a.counts(); n != 4 || sent != 2 {
		t.Fatalf("%d tries, %d sent; want 4 tries (2 while away), 2 sent", n, sent)
	}
}
