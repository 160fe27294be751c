package fiscal_test

import (
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// BenchmarkDrainDay drains a store's day of 10,000 receipts (3 tills) to
// the simulator answering each request in 20 ms, after the line comes
// back: the target is under 30 s. Run it with -benchtime 1x; it
// reports the drain's seconds and receipts per second. The outbox state
// is in memory (outboxtest.MemStore): recording results costs one CRDT
// batch per 64 receipts in a till, about 160 batches here.
func BenchmarkDrainDay(b *testing.B) {
	const day = 10_000
	for range b.N {
		b.StopTimer()
		r := newRig(b, 3)
		r.sim.Set(fiscalsim.Faults{Down: true})
		sales := r.sell(9, day)
		o := r.start(16, true, func(c *outbox.Config) { c.Poll = 50 * time.Millisecond })
		testkit.WaitFor(b, "backlog counted", time.Minute, func() bool { return o.fiscal().Pending == day })
		r.sim.Set(fiscalsim.Faults{Delay: fiscalsim.Duration(20 * time.Millisecond)})
		b.StartTimer()
		start := time.Now()
		o.Kick()
		testkit.WaitFor(b, "drained", 5*time.Minute, func() bool {
			st := o.fiscal()
			return r.sim.Stats().Registered == len(sales) && st.Counted && st.Pending == 0
		})
		d := time.Since(start)
		b.StopTimer()
		b.ReportMetric(d.Seconds(), "s/day")
		b.ReportMetric(day/d.Seconds(), "receipts/s")
		if st := r.sim.Stats(); st.Duplicates != 0 {
			b.Fatalf("%d repeated requests", st.Duplicates)
		}
		o.stop()
	}
}
