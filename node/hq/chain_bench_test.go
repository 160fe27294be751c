package hq_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// The chain benchmarks of issue 15, kept short for a shared machine:
// -chain.stores stores of 3 tills, -chain.events events each (sales with
// refunds, voids, shifts, cash and deliveries, ~1.6 min apart: several
// business days), uploaded as relays do. The scale is 300 stores
// x 10,000 events (3M); the figures here are measured smaller and scale
// with the event count (restart) or the stores x days held (queries).
var (
	chainStores = flag.Int("chain.stores", 30, "stores in the chain benchmarks")
	chainEvents = flag.Int("chain.events", 5000, "events per store in the chain benchmarks")
)

// chainHQ fills a Badger HQ with the chain and returns where it is.
func chainHQ(b *testing.B) (place string, events int) {
	b.Helper()
	ctx := context.Background()
	if *chainStores < 1 || *chainStores > 64 {
		b.Fatalf("-chain.stores %d: want 1..64", *chainStores)
	}
	place = backends[0].place(b)
	st := backends[0].open(b, place)
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger = st, quiet()
	h, err := hq.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for i := range *chainStores {
		s := hqtest.NewStore(byte(4*i), 3) // seeds 4 apart: up to 64 stores
		if err := h.RegisterStore(ctx, s.ID, s.Name, s.CAPublic()); err != nil {
			b.Fatal(err)
		}
		w := hqtest.NewWorkload(s, rand.New(rand.NewPCG(uint64(i), 15)))
		evs := w.Sales(*chainEvents, day0, 97_000)
		for k := 0; k < len(evs); k += 1000 {
			u := &hqapi.Upload{Fence: 1, Events: raws(evs[k:min(k+1000, len(evs))])}
			if k == 0 {
				u.Certs = s.EncodedCerts()
			}
			res, err := h.Ingest(ctx, s.ID, s.Tills[0].ID, u)
			if err != nil || len(res.Rejected) > 0 {
				b.Fatalf("store %d: %v %+v", i, err, res.Rejected)
			}
			events += res.Accepted
		}
	}
	st.Close()
	return place, events
}

// BenchmarkChainRestart measures HQ's start on a filled Badger store
// until it can serve: first without rollups (every event folded:
// first-fold-ms), then, timed, from the rollups that start wrote plus
// the events above them (none here).
func BenchmarkChainRestart(b *testing.B) {
	place, events := chainHQ(b)
	ctx := context.Background()
	st := backends[0].open(b, place)
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger = st, quiet()
	t0 := time.Now()
	if _, err := hq.New(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	first := time.Since(t0)
	st.Close()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st := backends[0].open(b, place)
		cfg := hq.DefaultConfig()
		cfg.Storage, cfg.Logger = st, quiet()
		b.StartTimer()
		if _, err := hq.New(ctx, cfg); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/start")
	b.ReportMetric(float64(first.Milliseconds()), "first-fold-ms")
	b.ReportMetric(float64(events), "events")
}

// BenchmarkChainQueries measures the dashboard's queries over the whole
// chain (report of every store, one store's report, transfers, the stock
// snapshot a relay fetches), each asked 200 times; p99 is the figure.
func BenchmarkChainQueries(b *testing.B) {
	place, events := chainHQ(b)
	ctx := context.Background()
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger = backends[0].open(b, place), quiet()
	h, err := hq.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	one := hqtest.NewStore(0, 3).ID
	queries := []struct {
		name string
		f    func()
	}{
		{"report-all", func() { h.Report(hq.Query{TopN: 20}) }},
		{"report-store", func() { h.Report(hq.Query{Store: &one, TopN: 20}) }},
		{"transfers", func() { h.Transfers("") }},
		{"stock-snapshot", func() { h.StockSnapshot(one) }},
	}
	b.ResetTimer()
	for range b.N {
		for _, q := range queries {
			var d []time.Duration
			for range 200 {
				t0 := time.Now()
				q.f()
				d = append(d, time.Since(t0))
			}
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, q.name+"-p99-ms")
		}
	}
	b.ReportMetric(float64(events), "events")
}

var (
	chainMemStores = flag.Int("chain.mem-stores", 300, "stores in BenchmarkChainReportMemory")
	chainMemEvents = flag.Int("chain.mem-events", 1000, "events per store in BenchmarkChainReportMemory")
)

// BenchmarkChainReportMemory measures the heap the materialized chain
// report keeps (chainreport.go: up to 8 query shapes, each the report
// and its JSON, plain and gzip-compressed). The chain is `tillmesh bench
// chain`'s: -chain.mem-stores stores of 3 tills, -chain.mem-events events
// each (its workload) over one 12-hour day, uploaded in batches of 1000.
// 8 shapes get an answer each (the dashboard's report, the charts', one
// day's, other product counts); the heap in use after a GC is read with
// them and after they are dropped, in 5 rounds. Metrics: heap bytes per
// kept answer (median, min, max of the rounds) and an answer's JSON
// (uncompressed; the kept answer holds the report, its JSON and its
// gzip). Run it with -benchtime=1x: the setup is inside the timed run.
func BenchmarkChainReportMemory(b *testing.B) {
	ctx := context.Background()
	st := backends[0].open(b, backends[0].place(b))
	h := newHQ(b, st)
	stores, perStore := *chainMemStores, *chainMemEvents
	start := day0 + (7 * time.Hour).Milliseconds()
	step := max((12*time.Hour).Milliseconds()/int64(perStore), 1)
	err := hqtest.EachStore(stores, func(i int) error {
		s := hqtest.ChainStore(i, 3)
		if err := h.RegisterStore(ctx, s.ID, s.Name, s.CAPublic()); err != nil {
			return err
		}
		w := hqtest.NewWorkload(s, rand.New(rand.NewPCG(1, uint64(i))))
		evs := make([]*ledger.Event, 0, perStore)
		for k := range perStore {
			evs = append(evs, w.Next(k%3, start+int64(k)*step))
		}
		for k := 0; k < len(evs); k += 1000 {
			u := &hqapi.Upload{Fence: 1, Events: raws(evs[k:min(k+1000, len(evs))])}
			if k == 0 {
				u.Certs = s.EncodedCerts()
			}
			if res, err := h.Ingest(ctx, s.ID, s.Tills[0].ID, u); err != nil || len(res.Rejected) > 0 {
				return fmt.Errorf("store %d: %v %+v", i, err, res.Rejected)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	day := time.UnixMilli(start).UTC().Format(time.DateOnly)
	shapes := []hq.Query{
		{TopN: 20}, {TopN: 1}, {From: day, To: day, TopN: 20}, {From: day, To: day, TopN: 1},
		{TopN: 100}, {From: day, To: day, TopN: 100}, {From: day, TopN: 20}, {To: day, TopN: 20},
	}
	heap := func() uint64 {
		waitIdle(b, h)
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// Each round materializes the 8 shapes (computed anew) and weighs
	// the heap with them and after dropping them, back to back, so that
	// what the storage allocates meanwhile weighs little; the median
	// round is the figure.
	var per []float64
	var jsonBytes int
	for range 5 {
		jsonBytes = 0
		for _, q := range shapes {
			s, err := h.ChainReport(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			body, err := json.Marshal(s.Report)
			if err != nil {
				b.Fatal(err)
			}
			jsonBytes += len(body)
		}
		if n := h.ChainStats().Shapes; n != len(shapes) {
			b.Fatalf("%d shapes keep an answer, want %d", n, len(shapes))
		}
		with := heap()
		h.DropChainAnswers()
		without := heap()
		per = append(per, (float64(with)-float64(without))/float64(len(shapes)))
	}
	slices.Sort(per)
	b.Logf("heap bytes per kept answer, 5 rounds: %.0f", per)
	b.ReportMetric(per[len(per)/2], "heap-B/answer")
	b.ReportMetric(per[0], "heap-B/answer-min")
	b.ReportMetric(per[len(per)-1], "heap-B/answer-max")
	b.ReportMetric(float64(jsonBytes)/float64(len(shapes)), "json-B/answer")
	b.ReportMetric(float64(stores*perStore), "events")
}
