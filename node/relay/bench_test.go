package relay_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/node/relay"
)

// One store's day: 3 tills, 10,000 events (sales mostly, with refunds,
// voids, cash and stock movements), about 30 KB of CBOR per 100 events.
var (
	dayOnce  sync.Once
	dayStore *hqtest.Store
	dayEvs   []*ledger.Event
)

func storeDay() (*hqtest.Store, []*ledger.Event) {
	dayOnce.Do(func() {
		dayStore = hqtest.NewStore(150, 3)
		w := hqtest.NewWorkload(dayStore, rand.New(rand.NewPCG(21, 22)))
		dayEvs = w.Sales(10_000, day0, 8_640)
	})
	return dayStore, dayEvs
}

// BenchmarkRelayDrain measures the time for a relay to drain a store's
// day of backlog into HQ (embedded storage, over loopback HTTP), from the
// moment it holds the lease: every event read from the till's ledger,
// batched, signed, posted, verified and stored at HQ.
func BenchmarkRelayDrain(b *testing.B) {
	store, evs := storeDay()
	for _, batch := range []int{250, 1000} {
		b.Run("batch="+itoa(batch), func(b *testing.B) {
			var total int
			var drain time.Duration
			for range b.N {
				b.StopTimer()
				srv := newHQServer(b, store)
				m := newMesh(b, store, srv, func(c *relay.Config) { c.Batch = batch; c.Poll = 20 * time.Millisecond })
				m.record(b, evs)
				m.start(b)
				waitFor(b, "the relay", 10*time.Second, func() bool { return len(m.leaders()) == 1 })
				start := time.Now()
				b.StartTimer()
				want := m.tills[0].db.Vector()
				waitFor(b, "the drain", 60*time.Second, func() bool { return srv.Vector(store.ID).Equal(want) })
				b.StopTimer()
				drain += time.Since(start)
				total += len(evs)
				for _, tl := range m.tills {
					tl.kill()
				}
			}
			b.ReportMetric(float64(total)/drain.Seconds(), "events/s")
			b.ReportMetric(float64(drain.Milliseconds())/float64(b.N), "ms/day-of-store")
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
