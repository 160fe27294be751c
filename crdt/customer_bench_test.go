package crdt

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkCustomerFind measures the till's customer search over 100,000
// customers held in the in-memory index: a mix of scanned cards, phone
// fragments, name fragments and misses, and reports p50/p99 per search,
// the index's heap and how long filling it took.
//
//	go test -run '^$' -bench CustomerFind -benchtime=2000x ./crdt/
func BenchmarkCustomerFind(b *testing.B) {
	const n = 100_000
	seed := uint64(1)
	rng := rand.New(rand.NewPCG(seed, 2))
	first := []string{"Anna", "Ben", "Carla", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas", "Klara", "Lukas", "Mia", "Noah", "Olga", "Paul"}
	last := []string{"Meier", "Schulz", "Müller", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz"}

	cs := make([]Customer, n)
	slots := make([]customerSlot, n)
	for i := range cs {
		c := Customer{
			Number: fmt.Sprintf("%012d", 100_000_000_000+i),
			Name:   first[rng.IntN(len(first))] + " " + last[rng.IntN(len(last))] + fmt.Sprintf(" %d", i),
			Phone:  fmt.Sprintf("+49 171 %07d", rng.IntN(10_000_000)),
			Email:  fmt.Sprintf("c%d@example.com", i),
			Card:   fmt.Sprintf("LOY%08d", i),
		}
		cs[i] = c
		slots[i] = customerSlot{Number: c.Number, Edits: createEdits(c, hlc(int64(1+i)), "till-1")}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	x := newCustomerIndex()
	for _, s := range slots {
		x.applySlot(s.Number, "", s.Edits)
	}
	fill := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	queries := make([]string, 0, 1000)
	for i := range 1000 {
		c := cs[rng.IntN(n)]
		switch i % 5 {
		case 0:
			queries = append(queries, c.Card) // a scanned card
		case 1:
			queries = append(queries, PhoneDigits(c.Phone)[5:]) // phone without prefix
		case 2:
			queries = append(queries, c.Name[:len(c.Name)-2]) // name and most of the suffix
		case 3:
			queries = append(queries, "zz-no-match") // a miss: scans everything
		case 4:
			queries = append(queries, "anna") // many matches
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		q := queries[i%len(queries)]
		t := time.Now()
		got := x.find(q, 20)
		lat = append(lat, time.Since(t))
		if i%5 == 0 && (len(got) == 0 || got[0].Card != q) {
			b.Fatalf("card %q found %+v", q, got)
		}
	}
	b.StopTimer()
	for k := range 5 {
		var kl []time.Duration
		for i := k; i < len(lat); i += 5 {
			kl = append(kl, lat[i])
		}
		if len(kl) < 100 {
			continue
		}
		slices.Sort(kl)
		b.Logf("kind %d: p50 %v p99 %v", k, kl[len(kl)/2], kl[len(kl)*99/100])
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "index-MB")
	b.ReportMetric(float64(fill.Milliseconds()), "fill-ms")
	runtime.KeepAlive(x)
	runtime.KeepAlive(slots)
}

// BenchmarkCustomerIndexRebuild measures a till's start with 100,000
// customers stored: reopening the Store reads every customer slot from
// the datastore and fills the search index. Set-up writes the customers
// 500 to a batch and is not timed.
//
//	go test -run '^$' -bench CustomerIndexRebuild -benchtime=1x ./crdt/
func BenchmarkCustomerIndexRebuild(b *testing.B) {
	const n, batch = 100_000, 500
	o := replicaOpts{badger: true} // as a till: Badger on disk
	r := newReplica(b, "till-a", o)
	ctx := b.Context()
	for i := 0; i < n; i += batch {
		err := r.s.write(ctx, func() ([]op, func(), error) {
			ops := make([]op, 0, batch)
			for j := i; j < i+batch; j++ {
				c := Customer{Number: fmt.Sprintf("%012d", 100_000_000_000+j), Name: fmt.Sprintf("Customer %d", j),
					Phone: fmt.Sprintf("+49 171 %07d", j), Card: fmt.Sprintf("LOY%08d", j)}
				v, err := encodeValue(customerSlot{Number: c.Number, Edits: createEdits(c, hlc(1), r.name)})
				if err != nil {
					return nil, nil, err
				}
				ops = append(ops, op{key: customerSlotKey(c.Number, r.name, r.s.epoch), value: v})
			}
			return ops, nil, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if got, _ := r.s.CustomerCount(); got != n {
		b.Fatalf("%d customers indexed while writing, want %d", got, n)
	}
	var total time.Duration
	for range b.N {
		if err := r.s.Close(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		r.start(b, o)
		total += time.Since(start)
		if got, _ := r.s.CustomerCount(); got != n {
			b.Fatalf("%d customers after the restart, want %d", got, n)
		}
	}
	b.ReportMetric(float64((total / time.Duration(b.N)).Milliseconds()), "open-ms")
}
