package testnet

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// propagation measures how long an acknowledged event takes to reach
// every other till of its store: from the acknowledgement until every
// other till's version vector covers it. Only events made while the store
// is whole (every till up, no partition) are sampled, and a sample is
// dropped if a fault happens before it completes. Vectors are polled, so
// the figures carry the poll interval as their resolution: 1 ms inproc;
// over HTTP 1 ms while a sample is younger than fastFor, then 10 ms (a
// status request costs a till ~0.3 ms, so polling every millisecond
// throughout would slow the mesh under load, and 10 ms alone put a floor
// of ~10 ms under every figure: a p99 below 10 ms could not show).
type propagation struct {
	h        *harness
	every    int           // sample one acknowledgement in every
	interval time.Duration // poll interval
	slow     time.Duration // poll interval once every pending sample is older than fastFor; 0: interval throughout

	mu      sync.Mutex
	n       int
	pending []propSample
	got     []time.Duration
	wake    chan struct{}
}

type propSample struct {
	st     *store
	origin *slot
	till   ledger.TillID
	seq    uint64
	at     time.Time
	epoch  int64
}

func newPropagation(h *harness) *propagation {
	p := &propagation{h: h, every: 1, interval: time.Millisecond, wake: make(chan struct{}, 1)}
	if h.cfg.Mode != InProc {
		// A status request costs a till ~0.3 ms: sample fewer sales and
		// poll less, or the measuring slows the mesh it measures.
		p.every, p.interval, p.slow = 8, time.Millisecond, 10*time.Millisecond
	}
	return p
}

// fastFor is how long after its acknowledgement a sample is polled at the
// fast interval.
const fastFor = 25 * time.Millisecond

// wait returns the time to the next round: the fast interval while a
// pending sample is young.
func (p *propagation) wait(now time.Time) time.Duration {
	if p.slow == 0 {
		return p.interval
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sm := range p.pending {
		if now.Sub(sm.at) < fastFor {
			return p.interval
		}
	}
	return p.slow
}

// calm reports whether every till of the store is up and none is cut off.
func (st *store) calm() bool {
	st.mu.Lock()
	parted := len(st.groups) > 0
	st.mu.Unlock()
	if parted {
		return false
	}
	for _, s := range st.slots {
		if !s.up() {
			return false
		}
	}
	return len(st.slots) > 1
}

func (p *propagation) sample(s *slot, inc *incarnation, seq uint64, at time.Time) {
	if !s.st.calm() {
		return
	}
	p.mu.Lock()
	p.n++
	if p.n%p.every != 0 {
		p.mu.Unlock()
		return
	}
	p.pending = append(p.pending, propSample{st: s.st, origin: s, till: inc.id, seq: seq, at: at, epoch: s.st.epoch.Load()})
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run polls the tills' vectors while samples are pending, until ctx ends.
func (p *propagation) run(ctx context.Context) {
	t := time.NewTimer(p.interval)
	defer t.Stop()
	for {
		p.mu.Lock()
		idle := len(p.pending) == 0
		p.mu.Unlock()
		if idle {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
			}
		}
		t.Reset(p.wait(time.Now()))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.round(ctx)
	}
}

func (p *propagation) round(ctx context.Context) {
	p.mu.Lock()
	pending := slices.Clone(p.pending)
	p.mu.Unlock()
	vectors := map[*slot]ledger.Vector{}
	var vmu sync.Mutex
	var wg sync.WaitGroup
	stores := map[*store]bool{}
	for _, sm := range pending {
		stores[sm.st] = true
	}
	for st := range stores {
		for _, s := range st.slots {
			th, _, _ := s.current()
			if th == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, err := th.vector(ctx); err == nil {
					vmu.Lock()
					vectors[s] = v
					vmu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	now := time.Now()
	var keep []propSample
	var done []time.Duration
	for _, sm := range pending {
		if sm.st.epoch.Load() != sm.epoch {
			continue // a fault came in between: not a propagation figure
		}
		all := true
		for _, s := range sm.st.slots {
			if s == sm.origin {
				continue
			}
			if v, ok := vectors[s]; !ok || v[sm.till] < sm.seq {
				all = false
				break
			}
		}
		if all {
			done = append(done, now.Sub(sm.at))
		} else {
			keep = append(keep, sm)
		}
	}
	p.mu.Lock()
	// Samples added during the round are after those read.
	p.pending = append(keep, p.pending[len(pending):]...)
	p.got = append(p.got, done...)
	p.mu.Unlock()
}

// figures returns the samples taken and their median and 99th percentile.
func (p *propagation) figures() (n int, p50, p99 time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(p.got)
	slices.Sort(s)
	return len(s), pct(s, 50), pct(s, 99)
}

func pct(s []time.Duration, q int) time.Duration {
	i := (len(s)*q + 99) / 100
	if i < 1 {
		i = 1
	}
	if i > len(s) {
		i = len(s)
	}
	return s[i-1]
}
