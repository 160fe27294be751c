package hq_test

import (
	"context"
	"sync"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// A chain's worth of work for one benchmark iteration: 10 tills of one
// store, 5,000 three-line sales each, uploaded as a relay does, 1,000
// events a batch (100 of each till).
const (
	benchTills   = 10
	benchPerTill = 5000
	benchBatch   = 100 // per till
)

var (
	benchOnce    sync.Once
	benchStore   *hqtest.Store
	benchBatches []*hqapi.Upload
)

func benchData() (*hqtest.Store, []*hqapi.Upload) {
	benchOnce.Do(func() {
		benchStore = hqtest.NewStore(200, benchTills)
		chains := make([][]*ledger.Event, benchTills)
		for i, t := range benchStore.Tills {
			for k := range benchPerTill {
				chains[i] = append(chains[i], t.MustNext(ledgertest.Sale3(), day0+int64(k)*10_000))
			}
		}
		for k := 0; k < benchPerTill; k += benchBatch {
			u := &hqapi.Upload{Fence: 1}
			if k == 0 {
				u.Certs = benchStore.EncodedCerts()
			}
			for i := range chains {
				for _, ev := range chains[i][k : k+benchBatch] {
					u.Events = append(u.Events, ev.Bytes())
				}
			}
			benchBatches = append(benchBatches, u)
		}
	})
	return benchStore, benchBatches
}

// BenchmarkIngest measures HQ's ingest of verified events: decode, check
// certificates, authenticate runs (newest signature plus hash chain),
// store durably, fold into the reports. events/s is the figure.
func BenchmarkIngest(b *testing.B) {
	store, batches := benchData()
	for _, be := range backends {
		for _, all := range []bool{false, true} {
			name := be.name
			if all {
				name += "/every-signature"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				total := 0
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					cfg := hq.DefaultConfig()
					cfg.Storage, cfg.Logger, cfg.VerifyEverySignature = be.open(b, be.place(b)), quiet(), all
					h, err := hq.New(ctx, cfg)
					if err != nil {
						b.Fatal(err)
					}
					if err := h.RegisterStore(ctx, store.ID, store.Name, store.CAPublic()); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					for _, u := range batches {
						res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, u)
						if err != nil || res.Accepted != len(u.Events) {
							b.Fatalf("ingest: accepted %d of %d: %v %+v", res.Accepted, len(u.Events), err, res.Rejected)
						}
						total += res.Accepted
					}
					b.StopTimer()
					cfg.Storage.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
