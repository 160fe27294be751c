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
		live uint64
		want int64
	}{
		{0, tillMemoryLimit},
		{10 << 20, tillMemoryLimit},
		{100 << 20, 158 << 20},
	} {
		if got := limitFor(tc.live); got != tc.want {
			t.Errorf("live heap %d: limit %d, want %d", tc.live, got, tc.want)
		}
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
