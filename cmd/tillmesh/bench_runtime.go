package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"
)

// runtimeSample is what the Go runtime counted up to a moment: what a
// slow answer may have waited for (the collector, a core).
type runtimeSample struct {
	cycles, gcCPU, assistCPU, totalCPU float64
	pauses, latencies                  *metrics.Float64Histogram
	heapGoal                           uint64
}

var runtimeMetrics = []string{
	"/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/gc/mark/assist:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
	"/sched/pauses/total/gc:seconds",
	"/sched/latencies:seconds",
	"/gc/heap/goal:bytes",
}

func readRuntime() runtimeSample {
	s := make([]metrics.Sample, len(runtimeMetrics))
	for i, name := range runtimeMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	f := func(i int) float64 {
		switch s[i].Value.Kind() {
		case metrics.KindFloat64:
			return s[i].Value.Float64()
		case metrics.KindUint64:
			return float64(s[i].Value.Uint64())
		}
		return 0
	}
	h := func(i int) *metrics.Float64Histogram {
		if s[i].Value.Kind() != metrics.KindFloat64Histogram {
			return &metrics.Float64Histogram{}
		}
		return s[i].Value.Float64Histogram()
	}
	var goal uint64
	if s[6].Value.Kind() == metrics.KindUint64 {
		goal = s[6].Value.Uint64()
	}
	return runtimeSample{cycles: f(0), gcCPU: f(1), assistCPU: f(2), totalCPU: f(3), pauses: h(4), latencies: h(5), heapGoal: goal}
}

// since says what the runtime did between s0 and s: collections, the
// CPU they took, their stop-the-world pauses, and how long goroutines
// waited for a core once runnable (the scheduler's latency).
func (s runtimeSample) since(s0 runtimeSample) string {
	gcShare := 0.0
	if cpu := s.totalCPU - s0.totalCPU; cpu > 0 {
		gcShare = 100 * (s.gcCPU - s0.gcCPU) / cpu
	}
	p := histDelta(s.pauses, s0.pauses)
	l := histDelta(s.latencies, s0.latencies)
	return fmt.Sprintf("%.0f collections, GC %.1f s of CPU (%.0f%% of the process's; mark assists %.1f s), "+
		"GC pauses p99 %v max %v, waiting for a core once runnable p99 %v max %v, heap goal %d MB",
		s.cycles-s0.cycles, s.gcCPU-s0.gcCPU, gcShare, s.assistCPU-s0.assistCPU,
		p.quantile(0.99), p.quantile(1), l.quantile(0.99), l.quantile(1), s.heapGoal>>20)
}

// hist is the difference of two readings of one runtime histogram.
type hist struct {
	counts  []uint64
	buckets []float64
}

func histDelta(h, h0 *metrics.Float64Histogram) hist {
	d := hist{counts: append([]uint64(nil), h.Counts...), buckets: h.Buckets}
	if len(h0.Counts) == len(d.counts) {
		for i := range d.counts {
			d.counts[i] -= h0.Counts[i]
		}
	}
	return d
}

// quantile is the upper bound of the bucket that holds quantile q (the
// histogram's resolution), rounded for printing; 0 with no samples.
func (h hist) quantile(q float64) time.Duration {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank && c > 0 {
			up := h.buckets[i+1]
			if math.IsInf(up, 1) {
				up = h.buckets[i]
			}
			d := time.Duration(up * float64(time.Second))
			return d.Round(time.Microsecond)
		}
	}
	return 0
}

// slowTracer keeps the last seconds of an execution trace in memory (a
// flight recorder) and writes them out when a query was slow, so the
// trace shows what the process did while the answer waited.
type slowTracer struct {
	fr    *trace.FlightRecorder
	path  string
	over  time.Duration
	limit int

	mu      sync.Mutex
	written []string
}

// startSlowTracer starts the flight recorder; nil, nil when path is empty.
func startSlowTracer(path string, over time.Duration, limit int) (*slowTracer, error) {
	if path == "" {
		return nil, nil
	}
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 5 * time.Second, MaxBytes: 64 << 20})
	if err := fr.Start(); err != nil {
		return nil, fmt.Errorf("execution trace: %w", err)
	}
	return &slowTracer{fr: fr, path: path, over: over, limit: limit}, nil
}

// observe writes a snapshot if took is over the threshold and fewer than
// the limit were written.
func (t *slowTracer) observe(took time.Duration, what string) error {
	if t == nil || took <= t.over {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.written) >= t.limit {
		return nil
	}
	name := fmt.Sprintf("%s.%d", t.path, len(t.written)+1)
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := t.fr.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("execution trace %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	t.written = append(t.written, fmt.Sprintf("%s (%s took %v)", name, what, took.Round(time.Millisecond)))
	return nil
}

// stop stops the recorder and returns what was written.
func (t *slowTracer) stop() []string {
	if t == nil {
		return nil
	}
	t.fr.Stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.written
}

// writeHeapProfile writes the live heap, after a collection, to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	return f.Close()
}
