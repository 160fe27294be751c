package ledgersync_test

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgersync"
)

// calledFrom reports whether a function named name is on the caller's
// stack (the clock below must know it is read by the serving side).
func calledFrom(name string) bool {
	callers := make([]uintptr, 16)
	n := runtime.Callers(2, callers)
	frames := runtime.CallersFrames(callers[:n])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, name) {
			return true
		}
		if !more {
			return false
		}
	}
}

// TestPeerClockCoversItsVector: a peer's answer to a pull carries its
// chain head and its clock, and the puller takes them as "every event
// the peer made before Clock is within Vector" (the outbox's store-wide
// watermark waits on it). Here the serving till records an event, dated
// just before its clock, in the moment between reading its head and its
// clock: the answer must still cover it (read the clock first), and the
// puller must keep the peer's clock as it was sent (PeerState.Clock), not
// its own clock plus a skew read at another moment.
func TestPeerClockCoversItsVector(t *testing.T) {
	at := time.Now().Add(time.Hour).Truncate(time.Millisecond) // the server's clock, ahead of every event so far
	var a *node
	var armed atomic.Bool
	a = newNode(t, 1, func(c *ledgersync.Config) {
		c.Interval = time.Hour // no pulls but the test's
		c.Now = func() time.Time {
			if calledFrom(".(*Syncer).serve") && armed.CompareAndSwap(true, false) {
				// An event recorded while the answer is being made.
				if _, _, err := a.db.Append(t.Context(), a.key, ledgertest.Sale3(), "", at.Add(-time.Millisecond).UnixMilli()); err != nil {
					t.Error(err)
				}
			}
			return at
		}
	})
	b := newNode(t, 2, func(c *ledgersync.Config) { c.Interval = time.Hour })
	a.sell(t, 3)
	connect(t, b, a)
	if err := b.sync.Pull(t.Context(), a.h.ID()); err != nil || !converged(a, b) {
		t.Fatalf("b's first pull: %v, vectors %v and %v", err, a.db.Vector(), b.db.Vector())
	}

	armed.Store(true)
	if err := b.sync.Pull(t.Context(), a.h.ID()); err != nil {
		t.Fatal(err)
	}
	if armed.Load() {
		t.Fatal("the serving side never read its clock")
	}
	till := ledger.TillOf(a.key)
	st := b.sync.Peers()[a.h.ID()]
	if !st.Clock.Equal(at) {
		t.Errorf("b keeps a's clock as %v, a sent %v", st.Clock, at)
	}
	a.db.Range(till, 1, func(ev *ledger.Event) bool {
		if ev.Time.Wall < st.Clock.UnixMilli() && ev.Seq > st.Vector[till] {
			t.Errorf("a's seq %d (at %d) is before the clock a showed (%d) but above the head it showed (%d): the watermark would pass it by",
				ev.Seq, ev.Time.Wall, st.Clock.UnixMilli(), st.Vector[till])
		}
		return true
	})
}
