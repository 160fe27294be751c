package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
)

func TestTillRuntimeLimitsYieldToTheUser(t *testing.T) {
	oldLimit, oldGC := debug.SetMemoryLimit(-1), debug.SetGCPercent(100)
	defer func() { debug.SetMemoryLimit(oldLimit); debug.SetGCPercent(oldGC) }()

	for _, tc := range []struct {
		name      string
		env       map[string]string
		wantLimit int64
		wantGC    int
	}{
		{"nothing set", nil, tillMemoryLimit, tillGCPercent},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, math.MaxInt64, tillGCPercent},
		{"GOGC set", map[string]string{"GOGC": "200"}, tillMemoryLimit, 100},
		{"both set", map[string]string{"GOMEMLIMIT": "off", "GOGC": "off"}, math.MaxInt64, 100},
	} {
		debug.SetMemoryLimit(math.MaxInt64) // as the runtime leaves them when
		debug.SetGCPercent(100)             // the variables hold what it parsed
		setTillRuntimeLimits(func(k string) string { return tc.env[k] })
		if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
			t.Errorf("%s: memory limit %d, want %d", tc.name, got, tc.wantLimit)
		}
		if got := debug.SetGCPercent(100); got != tc.wantGC {
			t.Errorf("%s: GOGC %d, want %d", tc.name, got, tc.wantGC)
		}
	}
}

func TestLimitFollowsABigLiveHeap(t *testing.T) {
	for _, tc := range []struct {
		live, floor uint64
		want        int64
	}{
		{0, 0, tillMemoryLimit},
		{10 << 20, 10 << 20, tillMemoryLimit},
		// A heap the till keeps grows by GOGC's half.
		{100 << 20, 100 << 20, 158 << 20},
		// A burst over it (a catch-up) by a quarter: the collector runs
		// more often instead of the limit following the burst by half.
		{20 << 20, 12 << 20, 33 << 20},
		{200 << 20, 100 << 20, 258 << 20},
		// Never under what the kept heap needs.
		{104 << 20, 100 << 20, 158 << 20},
		// A floor above the live heap (not from liveFloor) counts as live.
		{10 << 20, 100 << 20, tillMemoryLimit},
	} {
		if got := limitFor(tc.live, tc.floor); got != tc.want {
			t.Errorf("live heap %d MiB, kept %d MiB: limit %d, want %d", tc.live>>20, tc.floor>>20, got, tc.want)
		}
	}
}

// TestLiveFloorIsTheSmallestOfTheLastMinute: the heap a till keeps is the
// smallest live heap of the last liveWindow samples, so a burst is told
// from growth that stays.
func TestLiveFloorIsTheSmallestOfTheLastMinute(t *testing.T) {
	var w liveFloor
	if got := w.add(20); got != 20 {
		t.Fatalf("first sample: floor %d, want 20", got)
	}
	if got := w.add(12); got != 12 {
		t.Fatalf("floor %d, want 12", got)
	}
	for i := range liveWindow - 1 {
		if got := w.add(30); got != 12 {
			t.Fatalf("sample %d of a burst: floor %d, want 12 (the last minute's smallest)", i, got)
		}
	}
	if got := w.add(30); got != 30 {
		t.Fatalf("a minute after: floor %d, want 30 (the heap stayed: the till keeps it)", got)
	}
}

// TestHeapOwner: an allocation is charged to the innermost frame outside
// the standard library: a sort the test calls is the test's (tillmesh's).
func TestHeapOwner(t *testing.T) {
	var pcs [32]uintptr
	var stack []uintptr
	sort.Slice([]int{2, 1}, func(i, j int) bool {
		stack = pcs[:runtime.Callers(1, pcs[:])]
		return i < j
	})
	if got := heapOwner(stack); got != "tillmesh other" {
		t.Errorf("heapOwner of a stack through sort from this test = %q, want %q", got, "tillmesh other")
	}
	var b strings.Builder
	memReport(&b)
	if !strings.Contains(b.String(), "Go heap in use by who allocated it") {
		t.Errorf("memory report without the heap by owner:\n%s", b.String())
	}
}
