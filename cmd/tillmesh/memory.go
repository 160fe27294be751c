package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A till's own runtime limits. The till's Go heap is mostly Badger's
// memtables and caches (see the Badger options of ledgerdb and crdt) and
// short-lived decoded events; past the soft limit the collector runs more
// often instead of growing the heap. BENCHMARKS.md ("Till footprint") has
// the measurements behind the figures.
const (
	tillMemoryLimit = 30 << 20 // bytes of Go runtime memory (heap, stacks, metadata)
	tillGCPercent   = 50
	// tillBurstPercent is the heap growth allowed over the live heap
	// while it is above the heap the till keeps (a catch-up, a bulk
	// merge): the collector runs about twice as often then, instead of
	// letting the burst's heap grow by half.
	tillBurstPercent = 25
	// liveWindow is how many one-second samples of the live heap decide
	// the heap the till keeps (the smallest of them).
	liveWindow = 60
)

// setTillRuntimeLimits sets the soft memory limit and GC percent of a till
// process, unless the user set GOMEMLIMIT or GOGC, which then win. It
// reports whether it set the memory limit (see followLiveHeap).
func setTillRuntimeLimits(getenv func(string) string) (limit bool) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(tillGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(tillMemoryLimit)
		return true
	}
	return false
}

// followLiveHeap keeps the soft memory limit above what the till must
// hold, and close to it while a burst of work holds more. The ledger
// state grows with history (BENCHMARKS.md, "A year of history"), and a
// live heap above the limit would make the collector run without pause,
// taking up to half the CPU. Every second until ctx ends it sets the limit
// to limitFor(live heap, the smallest live heap of the last minute).
func followLiveHeap(ctx context.Context) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var w liveFloor
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			metrics.Read(s)
			if s[0].Value.Kind() == metrics.KindUint64 {
				live := s[0].Value.Uint64()
				debug.SetMemoryLimit(limitFor(live, w.add(live)))
			}
		}
	}
}

// liveFloor is the smallest of the last liveWindow samples of the live
// heap. The zero value holds none.
type liveFloor struct {
	samples [liveWindow]uint64
	n       int // samples taken
}

// add records a sample and returns the smallest of the window.
func (w *liveFloor) add(live uint64) uint64 {
	w.samples[w.n%liveWindow] = live
	w.n++
	return slices.Min(w.samples[:min(w.n, liveWindow)])
}

// limitFor is the soft memory limit for a live heap of live bytes when
// the till keeps floor bytes (the smallest live heap of the last minute):
// the till's own limit; or once that is too tight, the heap GOGC lets grow
// from what the till keeps, plus 8 MB for stacks and runtime metadata; or,
// while a burst holds more than that, tillBurstPercent over the live heap
// plus the 8 MB. A catch-up (the merge's memtables and table builders, the
// ledger pull's events) then costs the till a quarter of its extra heap in
// headroom, not half (BENCHMARKS.md, "Footprint", seventh pass).
func limitFor(live, floor uint64) int64 {
	l, f := int64(min(live, 1<<40)), int64(min(floor, live, 1<<40))
	return max(tillMemoryLimit, f+f*tillGCPercent/100+8<<20, l+l*tillBurstPercent/100+8<<20)
}

// serveMemReports writes a memory report to path (and a heap profile to
// path+".heap.pprof") each time the process receives SIGUSR1, and the
// report at the process's peak resident set to path+".peak" (its heap
// profile, as of the last collection, to path+".peak.heap.pprof"),
// rewritten whenever the peak grows (sampled every 100 ms), and the heap
// profile of the largest live heap a collection found to
// path+".live.heap.pprof", until ctx ends. "%p" in path is replaced by
// the process ID, so the tills of a testnet run can share one setting.
// For `tillmesh bench` and the testnet harness.
func serveMemReports(ctx context.Context, path string) {
	path = strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid()))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(sig)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var peak int64
		var maxLive uint64
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				_ = writeMemReport(path)
			case <-t.C:
				metrics.Read(live)
				if v := live[0].Value.Uint64(); v > maxLive+256<<10 {
					maxLive = v
					var buf bytes.Buffer
					if pprof.Lookup("heap").WriteTo(&buf, 0) == nil {
						_ = writeFileAtomic(path+".live.heap.pprof", buf.Bytes())
					}
				}
				// A new peak by more than 256 kB: the smaps walk costs
				// about a millisecond, so not on every small step.
				if rss := vmRSS(); rss > peak+256 {
					peak = rss
					var buf bytes.Buffer
					memReport(&buf)
					_ = writeFileAtomic(path+".peak", buf.Bytes())
					buf.Reset()
					if pprof.Lookup("heap").WriteTo(&buf, 0) == nil {
						_ = writeFileAtomic(path+".peak.heap.pprof", buf.Bytes())
					}
				}
			}
		}
	}()
}

// serveCPUProfiles writes the process's CPU profile in windows of span
// until ctx ends: path with "%p" replaced by the process ID and "-<n>"
// appended (path-1, path-2, ...), so the window of an event (a
// partition healing in a testnet run) can be picked from the run's log.
func serveCPUProfiles(ctx context.Context, path string, span time.Duration) {
	path = strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid()))
	go func() {
		for n := 1; ctx.Err() == nil; n++ {
			f, err := os.Create(fmt.Sprintf("%s-%d", path, n))
			if err != nil {
				return
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				_ = f.Close()
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(span):
			}
			pprof.StopCPUProfile()
			_ = f.Close()
		}
	}()
}

// vmRSS is this process's resident set in kB (0 if unknown).
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()) >> 10
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write memory report: %w", err)
	}
	return os.Rename(tmp, path)
}

// writeMemReport writes the report atomically: a reader polling for the
// file never sees half of it.
func writeMemReport(path string) error {
	var buf bytes.Buffer
	memReport(&buf)
	if f, err := os.Create(path + ".heap.pprof"); err == nil {
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		_ = f.Close()
	}
	return writeFileAtomic(path, buf.Bytes())
}

// memReport writes where this process's memory is: the kernel's view
// (resident pages by mapping: anonymous memory, the binary, Badger's
// memory-mapped files) and the Go runtime's (heap, stacks, metadata).
func memReport(w io.Writer) {
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		for _, k := range []string{"VmHWM:", "VmRSS:", "RssAnon:", "RssFile:"} {
			if strings.HasPrefix(line, k) {
				fmt.Fprintf(w, "%-9s %s\n", k, strings.TrimSpace(strings.TrimPrefix(line, k)))
			}
		}
	}
	fmt.Fprintln(w, "resident by mapping (kB):")
	for _, g := range smapsByKind() {
		fmt.Fprintf(w, "  %-28s %8d\n", g.kind, g.kB)
	}
	names := []string{
		"/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/unused:bytes",
		"/memory/classes/heap/free:bytes",
		"/memory/classes/heap/released:bytes",
		"/memory/classes/heap/stacks:bytes",
		"/memory/classes/metadata/other:bytes",
		"/memory/classes/metadata/mspan/inuse:bytes",
		"/memory/classes/metadata/mcache/inuse:bytes",
		"/memory/classes/os-stacks:bytes",
		"/memory/classes/other:bytes",
		"/memory/classes/profiling/buckets:bytes",
		"/memory/classes/total:bytes",
		"/gc/heap/goal:bytes",
		"/gc/gomemlimit:bytes",
		"/gc/gogc:percent",
		"/gc/cycles/total:gc-cycles",
		"/cpu/classes/gc/total:cpu-seconds",
		"/cpu/classes/total:cpu-seconds",
		"/sched/goroutines:goroutines",
	}
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	metrics.Read(samples)
	fmt.Fprintln(w, "Go heap in use by who allocated it (sampled heap profile, as of the last GC):")
	for _, o := range heapByOwner() {
		fmt.Fprintf(w, "  %-28s %8d kB\n", o.kind, o.kB)
	}
	fmt.Fprintln(w, "Go runtime:")
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindFloat64 {
			fmt.Fprintf(w, "  %-44s %8.2f\n", s.Name, s.Value.Float64())
			continue
		}
		if s.Value.Kind() != metrics.KindUint64 {
			continue
		}
		v := s.Value.Uint64()
		if strings.HasSuffix(s.Name, ":bytes") {
			fmt.Fprintf(w, "  %-44s %8d kB\n", s.Name, v>>10)
		} else {
			fmt.Fprintf(w, "  %-44s %8d\n", s.Name, v)
		}
	}
}

// heapByOwner sums the in-use heap of the runtime's heap profile by the
// library that allocated it: the innermost stack frame outside the Go
// standard library decides (a bufio buffer libp2p made is libp2p's).
func heapByOwner() []mapKind {
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, false)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		if n, ok = runtime.MemProfile(recs, false); ok {
			recs = recs[:n]
			break
		}
	}
	rate := float64(runtime.MemProfileRate)
	sums := map[string]float64{}
	for _, r := range recs {
		count, bytes := r.InUseObjects(), r.InUseBytes()
		if count == 0 || bytes == 0 {
			continue
		}
		// Unsample as pprof does: an object of size s is sampled with
		// probability 1-exp(-s/rate).
		scaled := float64(bytes)
		if rate > 1 {
			scaled /= 1 - math.Exp(-float64(bytes)/float64(count)/rate)
		}
		sums[heapOwner(r.Stack())] += scaled
	}
	out := make([]mapKind, 0, len(sums))
	for k, v := range sums {
		out = append(out, mapKind{k, int64(v) >> 10})
	}
	slices.SortFunc(out, func(a, b mapKind) int { return int(b.kB - a.kB) })
	return out
}

// heapOwners maps import path prefixes to the parts of a till.
var heapOwners = []struct{ prefix, owner string }{
	{"github.com/dgraph-io/", "Badger (memtables, tables, caches)"},
	{"github.com/ipfs/go-ds-badger", "Badger (memtables, tables, caches)"},
	{"github.com/libp2p/go-libp2p-pubsub", "gossipsub"},
	{"github.com/libp2p/", "libp2p"},
	{"github.com/multiformats/", "libp2p"},
	{"github.com/ipfs/", "go-ds-crdt, DAG"},
	{"github.com/ipld/", "go-ds-crdt, DAG"},
	{"github.com/tillmesh/tillmesh/crdt", "tillmesh crdt"},
	{"github.com/tillmesh/tillmesh/node/ledgerdb", "tillmesh ledger"},
	{"github.com/tillmesh/tillmesh/ledger", "tillmesh ledger"},
	{"github.com/tillmesh/tillmesh/node/ledgersync", "tillmesh ledger sync"},
	{"github.com/tillmesh/tillmesh/", "tillmesh other"},
	{"github.com/fxamacker/cbor", "CBOR"},
}

func heapOwner(stack []uintptr) string {
	frames := runtime.CallersFrames(stack)
	for {
		f, more := frames.Next()
		fn := f.Function
		if i := strings.IndexByte(fn, '/'); i > 0 && strings.Contains(fn[:i], ".") {
			for _, o := range heapOwners {
				if strings.HasPrefix(fn, o.prefix) {
					return o.owner
				}
			}
			parts := strings.SplitN(fn, "/", 4)
			if len(parts) > 3 {
				parts = parts[:3]
			}
			last := parts[len(parts)-1]
			if i := strings.IndexByte(last, '.'); i > 0 && len(parts) == 3 {
				parts[2] = last[:i] // a function of the module's root package
			}
			return strings.Join(parts, "/")
		}
		if !more {
			return "Go standard library"
		}
	}
}

type mapKind struct {
	kind string
	kB   int64
}

// smapsByKind sums the resident set of /proc/self/smaps by what is
// mapped.
func smapsByKind() []mapKind {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil
	}
	defer f.Close()
	exe, _ := os.Executable()
	sums := map[string]int64{}
	kind := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") { // a mapping's header
			name := ""
			if len(fields) >= 6 {
				name = fields[5]
			}
			kind = mappingKind(name, exe)
			continue
		}
		if fields[0] == "Rss:" && len(fields) >= 2 {
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			sums[kind] += v
		}
	}
	out := make([]mapKind, 0, len(sums))
	for k, v := range sums {
		out = append(out, mapKind{k, v})
	}
	slices.SortFunc(out, func(a, b mapKind) int { return int(b.kB - a.kB) })
	return out
}

func mappingKind(name, exe string) string {
	switch {
	case name == "":
		return "anonymous (Go heap, stacks)"
	case name == exe:
		return "binary (code, data)"
	case strings.HasPrefix(name, "["):
		return name
	}
	dir := filepath.Base(filepath.Dir(name))
	switch ext := filepath.Ext(name); ext {
	case ".sst", ".vlog", ".mem":
		return "badger " + dir + " " + ext
	}
	return "other files"
}
