package testnet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/node/p2p"
)

// chaos draws n steps from the seed — sales, partitions, heals, kills
// (some in the middle of selling), restarts, clock skews, slow and lossy
// links, HQ outages, deliveries, shifts and now and then a wiped disk —
// runs each, and then makes the stores whole again (heal, restart, clocks
// right, links clean, HQ up) so
// that the scenario can wait for convergence and check. Each drawn step
// is printed, so a failure shows the schedule that led to it; the same
// seed draws the same schedule.
func (h *harness) chaos(ctx context.Context, st Step) (string, error) {
	rng := h.stepRNG(st)
	counts := map[Op]int{}
	for i := 1; i <= st.N; i++ {
		steps := h.draw(rng)
		for _, s := range steps {
			s.Line = st.Line
			t0 := time.Now()
			msg, err := h.step(ctx, s)
			if err != nil {
				return "", fmt.Errorf("chaos %d/%d (%s): %w", i, st.N, s.Text, err)
			}
			h.progress("  chaos %d/%d %-24s %s (%v)", i, st.N, s.Text, msg, time.Since(t0).Round(time.Millisecond))
			counts[s.Op]++
		}
	}
	if err := h.whole(ctx); err != nil {
		return "", err
	}
	var parts []string
	for _, op := range []Op{OpSell, OpPartition, OpHeal, OpKill, OpRestart, OpSkew, OpLatency, OpHQ, OpWipe, OpReceive, OpShift} {
		if n := counts[op]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, op))
		}
	}
	return fmt.Sprintf("%d draws (%s); stores whole again", st.N, strings.Join(parts, ", ")), nil
}

// whole heals every store, restarts every till, sets every clock right
// and brings HQ back.
func (h *harness) whole(ctx context.Context) error {
	steps := []Step{{Op: OpHeal, Text: "heal"}, {Op: OpRestart, Text: "restart all", Tills: []TillRef{{}}}}
	if h.sc.HQ {
		steps = append(steps, Step{Op: OpHQ, Arg: "up", Text: "hq up"})
	}
	for _, s := range h.allSlots() {
		if s.skew.Load() != 0 {
			steps = append(steps, Step{Op: OpSkew, Text: "skew " + s.name + " 0", Tills: []TillRef{ref(s)}})
		}
		s.mu.Lock()
		shaped := s.link != (p2p.Fault{})
		s.mu.Unlock()
		if shaped {
			steps = append(steps, Step{Op: OpLatency, Text: "latency " + s.name + " off", Tills: []TillRef{ref(s)}})
		}
	}
	for _, s := range steps {
		if _, err := h.step(ctx, s); err != nil {
			return fmt.Errorf("making the stores whole (%s): %w", s.Text, err)
		}
	}
	return nil
}

func ref(s *slot) TillRef { return TillRef{Store: s.st.idx, Index: s.idx} }

// draw picks the next chaos action: usually one step; a kill in the
// middle of selling or a wipe take a few.
func (h *harness) draw(rng *rand.Rand) []Step {
	st := h.stores[rng.IntN(len(h.stores))]
	live := st.live()
	pick := func(ss []*slot) *slot { return ss[rng.IntN(len(ss))] }
	sell := func(n int, bg bool) Step {
		text := fmt.Sprintf("sell %d", n)
		if bg {
			text += " background"
		}
		return Step{Op: OpSell, N: n, Rate: -1, Background: bg, Text: text}
	}
	for {
		switch r := rng.IntN(100); {
		case r < 26:
			return []Step{sell(10+rng.IntN(40), false)}
		case r < 30: // a till's link turns slow and lossy, or clean again
			s := pick(st.slots)
			f := p2p.Fault{Delay: time.Duration(rng.IntN(9)) * 10 * time.Millisecond, Loss: float64(rng.IntN(6)) / 100}
			if rng.IntN(3) == 0 {
				f = p2p.Fault{}
			}
			text := fmt.Sprintf("latency %s %v loss %.0f%%", s.name, f.Delay, f.Loss*100)
			if f == (p2p.Fault{}) {
				text = "latency " + s.name + " off"
			}
			return []Step{{Op: OpLatency, Tills: []TillRef{ref(s)}, Link: f, Text: text}}
		case r < 40: // kill in the middle of selling, then bring it back
			if len(live) < 2 {
				continue
			}
			s := pick(live)
			return []Step{sell(30+rng.IntN(30), true),
				{Op: OpWait, Arg: "sales", N: 5 + rng.IntN(10), Text: "wait sales"},
				{Op: OpKill, Tills: []TillRef{ref(s)}, Text: "kill " + s.name},
				{Op: OpRestart, Tills: []TillRef{ref(s)}, Text: "restart " + s.name},
				{Op: OpWait, Arg: "sales", Text: "wait sales"}}
		case r < 52:
			if len(st.slots) < 2 {
				continue
			}
			var side []TillRef
			var names []string
			for _, s := range st.slots {
				if rng.IntN(2) == 0 && len(side) < len(st.slots)-1 {
					side = append(side, ref(s))
					names = append(names, s.name)
				}
			}
			if len(side) == 0 {
				side, names = []TillRef{ref(st.slots[0])}, []string{st.slots[0].name}
			}
			return []Step{{Op: OpPartition, Groups: [][]TillRef{side}, Text: "partition " + strings.Join(names, " ")}}
		case r < 62:
			return []Step{{Op: OpHeal, Text: "heal"}}
		case r < 68: // a till goes down and stays down for a while
			if len(live) < 2 {
				continue
			}
			s := pick(live)
			return []Step{{Op: OpKill, Tills: []TillRef{ref(s)}, Text: "kill " + s.name}}
		case r < 75:
			return []Step{{Op: OpRestart, Tills: []TillRef{{}}, Text: "restart all"}}
		case r < 80:
			s := pick(st.slots)
			d := time.Duration(rng.IntN(9)-4) * time.Hour
			return []Step{{Op: OpSkew, Tills: []TillRef{ref(s)}, Skew: d, Text: fmt.Sprintf("skew %s %v", s.name, d)}}
		case r < 86:
			if !h.sc.HQ {
				continue
			}
			arg := []string{"down", "up"}[rng.IntN(2)]
			return []Step{{Op: OpHQ, Arg: arg, Store: st.idx, Text: fmt.Sprintf("hq %s s%d", arg, st.idx)}}
		case r < 91:
			if len(live) == 0 {
				continue
			}
			s := pick(live)
			return []Step{{Op: OpReceive, Tills: []TillRef{ref(s)}, Text: "receive on " + s.name}}
		case r < 96:
			arg := []string{"open", "close"}[rng.IntN(2)]
			return []Step{{Op: OpShift, Arg: arg, Text: "shift " + arg}}
		default: // a disk dies, after the store has agreed, so what it held is on the others
			s := pick(st.slots)
			steps := []Step{{Op: OpHeal, Text: "heal"}, {Op: OpRestart, Tills: []TillRef{{}}, Text: "restart all"}}
			if h.sc.HQ {
				steps = append(steps, Step{Op: OpHQ, Arg: "up", Text: "hq up"})
			}
			return append(steps, Step{Op: OpWait, Arg: "converged", Text: "wait converged"},
				Step{Op: OpWipe, Tills: []TillRef{ref(s)}, Text: "wipe " + s.name})
		}
	}
}
