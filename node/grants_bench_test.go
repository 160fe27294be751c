package node_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// BenchmarkGrantRoundTrip: a till asks the sale's till for a refund
// grant over the mesh on loopback (the owner computes the lines and
// fsyncs the grant before it answers). Reports p50 and p99 per grant.
//
//	go test -run XXX -bench GrantRoundTrip -benchtime 2000x ./node/
func BenchmarkGrantRoundTrip(b *testing.B) {
	s := newStore(b, 2)
	a := s.start(b, s.tills[0])
	c := s.start(b, s.tills[1], a.addr())
	seed(b, a, 5)
	waitFor(b, "peers", func() bool { return len(c.Host().Certificates()) == 1 && len(a.Host().Certificates()) == 1 })
	sale, _, err := a.Sell(b.Context(), ui.SaleRequest{IdempotencyKey: "big", Lines: []ui.SaleLine{{SKU: "10001", Qty: 100_000}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 10_000_000_000}}})
	if err != nil {
		b.Fatal(err)
	}
	waitFor(b, "the sale at till 2", func() bool { return c.DB().Vector()[a.ID()] >= sale.Seq })
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := c.AskRefundGrant(b.Context(), sale.ID(), 0, 1, fmt.Sprintf("bench-%d", i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
