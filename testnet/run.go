package testnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/node/relay"
)

// Run builds the scenario's stores in cfg.Mode, runs its steps, waits
// for convergence and checks every invariant. Violations go in the
// report (Report.OK); the error is for a run that could not be carried
// out (a till that would not start, namespaces unavailable).
func Run(ctx context.Context, sc *Scenario, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkPower(sc, cfg); err != nil {
		return nil, err
	}
	if err := checkUpgrade(sc, cfg); err != nil {
		return nil, err
	}
	if err := checkOutbox(sc, cfg); err != nil {
		return nil, err
	}
	h, err := newHarness(ctx, sc, cfg)
	if err != nil {
		return nil, err
	}
	defer h.close()
	ctx, cancel := context.WithCancel(ctx) // ends the cashiers before the tills stop
	defer cancel()
	rep := h.rep
	rep.Stores, rep.Tills = sc.Stores, sc.Stores*sc.Tills
	h.progress("scenario %s (seed %d, %s, %s): %d store(s) x %d tills, %d products, HQ %v",
		sc.Name, cfg.Seed, cfg.Mode, sc.Scale, sc.Stores, sc.Tills, sc.Products, sc.HQ)
	for _, s := range h.allSlots() {
		if err := h.start(ctx, s); err != nil {
			return nil, err
		}
	}
	if err := h.waitReady(ctx, h.allSlots()); err != nil {
		return nil, err
	}
	h.progress("every till is up and holds the catalog and staff")
	if sc.Outbox {
		if err := h.startOutside(ctx); err != nil {
			return nil, err
		}
		h.progress("the stores send receipts to the fiscal service at %s and refunds to Telegram at %s", h.out.simURL, h.out.botURL)
	}
	pctx, stopProp := context.WithCancel(ctx)
	propDone := make(chan struct{})
	defer func() {
		stopProp()
		<-propDone
	}()
	h.prop = newPropagation(h)
	go func() {
		defer close(propDone)
		h.prop.run(pctx)
	}()

	for i, st := range sc.Steps {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t0 := time.Now()
		msg, err := h.step(ctx, st)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			h.violate("line %d (%s): %v", st.Line, st.Text, err)
			msg = "FAILED: " + err.Error()
		}
		h.progress("step %d/%d %-28s %s (%v)", i+1, len(sc.Steps), st.Text, msg, time.Since(t0).Round(time.Millisecond))
	}
	h.finish(ctx)
	return rep, ctx.Err()
}

func (h *harness) violate(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rep.Violations = append(h.rep.Violations, fmt.Sprintf(format, args...))
}

// resolve turns references into slots; relay is looked up now.
func (h *harness) resolve(ctx context.Context, refs []TillRef) ([]*slot, error) {
	if everyTill(refs) {
		return h.allSlots(), nil
	}
	var out []*slot
	for _, r := range refs {
		st := h.stores[r.Store-1]
		if !r.Relay {
			out = append(out, st.slots[r.Index-1])
			continue
		}
		var found *slot
		err := poll(ctx, h.cfg.Wait, 50*time.Millisecond, func() (bool, error) {
			for _, s := range st.slots {
				if th, _, _ := s.current(); th != nil {
					if ok, _ := th.isRelay(ctx); ok {
						found = s
						return true, nil
					}
				}
			}
			return false, nil
		})
		if err != nil {
			return nil, fmt.Errorf("no till of store %s holds the relay lease: %w", st.name, err)
		}
		out = append(out, found)
	}
	return out, nil
}

func names(ss []*slot) string {
	var n []string
	for _, s := range ss {
		n = append(n, s.name)
	}
	return strings.Join(n, ",")
}

// shapeSeed seeds a till incarnation's loss draws from the run's seed.
func (h *harness) shapeSeed(s *slot, inc *incarnation) uint64 {
	return h.cfg.Seed*1_000_003 + uint64(s.st.idx)*1009 + uint64(inc.number)
}

func (h *harness) stepRNG(st Step) *rand.Rand {
	return rand.New(rand.NewPCG(h.cfg.Seed, uint64(st.Line)*7919))
}

// step runs one step and says what it did.
func (h *harness) step(ctx context.Context, st Step) (string, error) {
	switch st.Op {
	case OpSell:
		var targets []*slot
		if everyTill(st.Tills) {
			for _, s := range h.allSlots() {
				if s.up() {
					targets = append(targets, s)
				}
			}
		} else {
			var err error
			if targets, err = h.resolve(ctx, st.Tills); err != nil {
				return "", err
			}
			if !st.Background {
				for _, s := range targets {
					if !s.up() {
						return "", fmt.Errorf("%s is down: sell at it in the background, then restart it", s.name)
					}
				}
			}
		}
		if len(targets) == 0 {
			return "", errors.New("no till is up")
		}
		rate := h.sc.Rate
		if st.Rate >= 0 {
			rate = st.Rate
		}
		job := h.startSell(ctx, st, targets, rate)
		if st.Background {
			h.mu.Lock()
			h.bg = job
			h.mu.Unlock()
			return fmt.Sprintf("selling %d in the background at %s", st.N, names(targets)), nil
		}
		select {
		case <-job.done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return h.jobSummary(job), nil

	case OpReceive:
		var targets []*slot
		if everyTill(st.Tills) && len(st.Tills) == 0 {
			for _, stor := range h.stores {
				if l := stor.live(); len(l) > 0 {
					targets = append(targets, l[0])
				}
			}
		} else {
			var err error
			if targets, err = h.resolve(ctx, st.Tills); err != nil {
				return "", err
			}
		}
		rng := h.stepRNG(st)
		for _, s := range targets {
			if err := h.receiveAt(ctx, s, rng); err != nil {
				return "", err
			}
		}
		return "delivery received at " + names(targets), nil

	case OpTransfer:
		return h.transferStep(ctx, st, h.stepRNG(st))

	case OpShift:
		targets, err := h.resolve(ctx, st.Tills)
		if err != nil {
			return "", err
		}
		var live []*slot
		for _, s := range targets {
			if s.up() {
				live = append(live, s)
			}
		}
		errs := make([]error, len(live))
		var wg sync.WaitGroup
		for i, s := range live {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = h.shiftAt(ctx, s, st.Arg == "open")
			}()
		}
		wg.Wait()
		return fmt.Sprintf("shift %s at %s", st.Arg, names(live)), errors.Join(errs...)

	case OpPartition:
		return h.partition(ctx, st)

	case OpHeal:
		healed := 0
		for _, stor := range h.stores {
			stor.mu.Lock()
			parted := len(stor.groups) > 0
			clear(stor.groups)
			stor.mu.Unlock()
			if !parted {
				continue
			}
			healed++
			stor.epoch.Add(1)
			if err := h.applyPartition(ctx, stor, nil); err != nil {
				return "", err
			}
		}
		h.mu.Lock()
		h.heals = append(h.heals, time.Now())
		h.mu.Unlock()
		return fmt.Sprintf("%d store(s) whole again", healed), nil

	case OpKill:
		targets, err := h.resolve(ctx, st.Tills)
		if err != nil {
			return "", err
		}
		for _, s := range targets {
			if err := h.kill(s); err != nil {
				return "", err
			}
		}
		if h.out != nil {
			return "killed " + names(targets) + " (" + h.out.bot.lastTook() + ")", nil
		}
		return "killed " + names(targets), nil

	case OpRestart:
		var targets []*slot
		if everyTill(st.Tills) {
			for _, s := range h.allSlots() {
				if !s.up() {
					targets = append(targets, s)
				}
			}
		} else {
			var err error
			if targets, err = h.resolve(ctx, st.Tills); err != nil {
				return "", err
			}
		}
		for _, s := range targets {
			if s.up() {
				return "", fmt.Errorf("%s is running", s.name)
			}
			s.st.epoch.Add(1)
			if err := h.start(ctx, s); err != nil {
				return "", err
			}
		}
		if err := h.waitReady(ctx, targets); err != nil {
			return "", err
		}
		return "restarted " + names(targets), nil

	case OpUpgrade:
		targets, err := h.resolve(ctx, st.Tills)
		if err != nil {
			return "", err
		}
		return h.upgrade(ctx, targets)

	case OpNewKind:
		return h.newKind(ctx, st)

	case OpWipe:
		targets, err := h.resolve(ctx, st.Tills)
		if err != nil {
			return "", err
		}
		var msgs []string
		for _, s := range targets {
			m, err := h.wipe(ctx, s)
			if err != nil {
				return "", err
			}
			msgs = append(msgs, m)
		}
		return strings.Join(msgs, "; "), nil

	case OpSkew:
		targets, err := h.resolve(ctx, st.Tills)
		if err != nil {
			return "", err
		}
		for _, s := range targets {
			s.skew.Store(int64(st.Skew))
			if th, _, _ := s.current(); th != nil {
				if err := th.setSkew(ctx); err != nil {
					return "", err
				}
			}
		}
		return fmt.Sprintf("%s's clock off by %v", names(targets), st.Skew), nil

	case OpClock:
		// HQ reads h.now and every in-process till its slot's now; a
		// till process is told its new offset (a till down gets it on
		// its next start).
		h.world.Add(int64(st.Skew))
		for _, s := range h.allSlots() {
			if th, _, _ := s.current(); th != nil {
				if err := th.setSkew(ctx); err != nil {
					return "", err
				}
			}
		}
		return fmt.Sprintf("simulated time moved %v on: %v passed", st.Skew, time.Duration(h.world.Load())), nil

	case OpLatency:
		targets, err := h.resolve(ctx, st.Tills)
		if err != nil {
			return "", err
		}
		stores := map[*store]bool{}
		for _, s := range targets {
			s.mu.Lock()
			s.link = st.Link
			s.mu.Unlock()
			stores[s.st] = true
		}
		for stor := range stores {
			if err := h.applyLinks(ctx, stor); err != nil {
				return "", err
			}
		}
		if st.Link == (p2p.Fault{}) {
			return fmt.Sprintf("%s's link clean again", names(targets)), nil
		}
		return fmt.Sprintf("%s's link: %v each way, %.0f%% of writes a retransmission late", names(targets), st.Link.Delay, st.Link.Loss*100), nil

	case OpHQ:
		if st.Arg == "crash" {
			return h.crashHQ(ctx)
		}
		down := st.Arg == "down"
		if st.Store == 0 {
			h.gate.setAll(down)
			return "HQ " + st.Arg + " for every store", nil
		}
		h.gate.setStore(h.stores[st.Store-1].file.ID, down)
		return fmt.Sprintf("HQ %s for store s%d", st.Arg, st.Store), nil

	case OpInternet:
		return h.internet(st.Arg == "down"), nil

	case OpWait:
		limit := st.Timeout
		if limit == 0 {
			limit = h.cfg.Wait
		}
		return h.wait(ctx, st, limit)

	case OpChaos:
		return h.chaos(ctx, st)

	case OpPowerCut:
		return h.powerCut(ctx, st)

	case OpRace:
		return h.race(ctx, st) // doublespend.go
	case OpOffline:
		return h.allowOffline(ctx, st) // doublespend.go
	case OpOverspent:
		return h.overspent(ctx) // doublespend.go

	case OpCheck:
		r := h.check(ctx, false)
		h.absorb(r, false)
		msg := fmt.Sprintf("%d events, %d violations", r.events, len(r.violations))
		if !r.converged {
			msg += " (not converged: per-till checks only)"
		}
		return msg, nil
	}
	return "", fmt.Errorf("unknown step %q", st.Op)
}

func (h *harness) jobSummary(job *sellJob) string {
	d := time.Since(job.began)
	msg := fmt.Sprintf("%d sales acknowledged in %v (%.0f/s)", job.acked.Load(), d.Round(time.Millisecond), float64(job.acked.Load())/d.Seconds())
	if f := job.failed.Load(); f > 0 {
		msg += fmt.Sprintf(", %d not", f)
	}
	if p50, p99, top, n := job.latency(); n > 0 {
		msg += fmt.Sprintf("; sale latency p50 %v, p99 %v, max %v", p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), top.Round(10*time.Microsecond))
	}
	return msg
}

// partition splits a store into the step's sides. A single side is cut
// off from the rest; the largest side keeps HQ.
func (h *harness) partition(ctx context.Context, st Step) (string, error) {
	stor := h.stores[st.Groups[0][0].Store-1]
	named := map[int]bool{}
	var sides [][]*slot
	for _, g := range st.Groups {
		var side []*slot
		for _, r := range g {
			side = append(side, stor.slots[r.Index-1])
			named[r.Index] = true
		}
		sides = append(sides, side)
	}
	var rest []*slot
	for _, s := range stor.slots {
		if !named[s.idx] {
			rest = append(rest, s)
		}
	}
	if len(rest) > 0 {
		sides = append([][]*slot{rest}, sides...) // the tills not named keep HQ among equals
	}
	if len(sides) < 2 {
		return "", errors.New("a partition needs two sides")
	}
	// The largest side (the first of equals) keeps the uplink.
	sort.SliceStable(sides, func(i, j int) bool { return len(sides[i]) > len(sides[j]) })
	stor.mu.Lock()
	clear(stor.groups)
	for k, side := range sides {
		for _, s := range side {
			if k > 0 {
				stor.groups[s.idx] = k
			}
		}
	}
	stor.mu.Unlock()
	stor.epoch.Add(1)
	if err := h.applyPartition(ctx, stor, sides); err != nil {
		return "", err
	}
	var desc []string
	for _, side := range sides {
		desc = append(desc, names(side))
	}
	return fmt.Sprintf("store %s split: %s (HQ with %s)", stor.name, strings.Join(desc, " | "), names(sides[0])), nil
}

// wipe destroys a till's disk and brings it back as a newly enrolled
// till with the store's next number.
func (h *harness) wipe(ctx context.Context, s *slot) (string, error) {
	if s.up() {
		if err := h.kill(s); err != nil {
			return "", err
		}
	}
	s.st.epoch.Add(1)
	s.mu.Lock()
	old := s.inc
	s.mu.Unlock()
	if err := os.RemoveAll(old.dir); err != nil {
		return "", err
	}
	inc, err := h.enroll(s)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.inc = inc
	s.incs = append(s.incs, inc)
	s.shift = false
	s.mu.Unlock()
	if err := h.start(ctx, s); err != nil {
		return "", err
	}
	if err := h.applyPartition(ctx, s.st, s.st.sides()); err != nil {
		return "", err
	}
	if err := h.waitReady(ctx, []*slot{s}); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s wiped: till %d is gone, till %d enrolled in its place", s.name, old.number, inc.number), nil
}

// wait carries out the wait steps.
func (h *harness) wait(ctx context.Context, st Step, limit time.Duration) (string, error) {
	// A convergence check reads every till's stock and folds a ledger
	// (~7 ms of CPU for 3 tills inproc, ~17 ms per till over HTTP):
	// polled faster, it would slow the convergence it measures.
	interval := 50 * time.Millisecond
	if h.cfg.Mode != InProc {
		interval = 100 * time.Millisecond
	}
	t0 := time.Now()
	switch st.Arg {
	case "converged":
		var why string
		var waits []string // what it waited for, as it changed
		lastKind, lastWhy := "", ""
		err := poll(ctx, limit, interval, func() (bool, error) {
			ok := true
			for _, stor := range h.stores {
				var c bool
				if c, why = h.converged(ctx, stor); !c {
					ok = false
					break
				}
			}
			if k := kindOf(why); !ok && k != lastKind && len(waits) < 6 {
				waits = append(waits, fmt.Sprintf("%v %s", time.Since(t0).Round(time.Millisecond), k))
				lastKind = k
			}
			if !ok {
				lastWhy = why
			}
			return ok, nil
		})
		if err != nil {
			return "", fmt.Errorf("not converged: %s: %w", why, err)
		}
		h.mu.Lock()
		h.lastConv = time.Since(t0)
		h.mu.Unlock()
		msg := "converged" + h.catchups()
		if len(waits) > 0 {
			if len(lastWhy) > 100 {
				lastWhy = lastWhy[:100] + "..."
			}
			msg += " (waited for: " + strings.Join(waits, ", ") + "; last: " + lastWhy + ")"
		}
		return msg, nil
	case "hq":
		var why string
		err := poll(ctx, limit, interval, func() (bool, error) {
			why = ""
			for _, stor := range h.stores {
				if h.gate.storeDown(stor.file.ID) {
					continue
				}
				hv := h.hq.Vector(stor.file.ID)
				for _, s := range stor.slots {
					th, _, _ := s.current()
					if th == nil {
						continue
					}
					v, err := th.vector(ctx)
					if err != nil || !hv.Covers(v) {
						why = fmt.Sprintf("HQ holds %d events of store %s, %s %d", hv.Total(), stor.name, s.name, v.Total())
						return false, nil
					}
					if n := th.node(); n != nil && !downlinked(ctx, n) {
						why = fmt.Sprintf("%s lacks HQ's downlink (%s)", s.name, relay.ChainStockSetting)
						return false, nil
					}
				}
			}
			return true, nil
		})
		if err != nil {
			return "", fmt.Errorf("%s: %w", why, err)
		}
		return fmt.Sprintf("HQ holds every event (%v)", time.Since(t0).Round(time.Millisecond)), nil
	case "relay":
		var relays []string
		err := poll(ctx, limit, interval, func() (bool, error) {
			relays = relays[:0]
			for _, stor := range h.stores {
				found := false
				for _, s := range stor.slots {
					if th, _, _ := s.current(); th != nil {
						if ok, _ := th.isRelay(ctx); ok {
							found = true
							relays = append(relays, s.name)
						}
					}
				}
				if !found {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return "", fmt.Errorf("a store has no relay: %w", err)
		}
		return "relay: " + strings.Join(relays, ", "), nil
	case "outbox":
		return h.waitOutbox(ctx, st.N, limit)
	case "sales":
		h.mu.Lock()
		job := h.bg
		h.mu.Unlock()
		if job == nil {
			return "", errors.New("no sell in the background")
		}
		if st.N > 0 {
			err := poll(ctx, limit, 5*time.Millisecond, func() (bool, error) { return job.acked.Load() >= int64(st.N), nil })
			return fmt.Sprintf("%d sales acknowledged", job.acked.Load()), err
		}
		select {
		case <-job.done:
		case <-time.After(limit):
			return "", fmt.Errorf("the background sales did not finish within %v (%d of %d acknowledged)", limit, job.acked.Load(), job.total)
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return h.jobSummary(job), nil
	}
	return "", fmt.Errorf("wait %s?", st.Arg)
}

// kindOf names what a convergence check was waiting for.
func kindOf(why string) string {
	switch {
	case why == "":
		return ""
	case strings.HasPrefix(why, "HQ holds"):
		return "HQ's ledger"
	case strings.HasPrefix(why, "HQ stock"):
		return "HQ's stock"
	case strings.Contains(why, "CRDT heads"):
		return "CRDT merge"
	case strings.Contains(why, " stock"):
		return "CRDT stock"
	case strings.Contains(why, " holds "):
		return "ledgers"
	case strings.Contains(why, "heads"):
		return "heads"
	}
	return "tills"
}

// catchups turns the heals waiting for convergence into catch-up figures.
func (h *harness) catchups() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.heals) == 0 {
		return ""
	}
	var parts []string
	for _, t := range h.heals {
		d := time.Since(t)
		h.rep.Catchups = append(h.rep.Catchups, ms(d))
		h.rep.CatchupMS = max(h.rep.CatchupMS, ms(d))
		parts = append(parts, d.Round(time.Millisecond).String())
	}
	h.heals = nil
	return "; catch-up after heal " + strings.Join(parts, ", ")
}

// finish waits for the workload and for convergence, then checks every
// invariant and fills in the report.
func (h *harness) finish(ctx context.Context) {
	rep := h.rep
	h.mu.Lock()
	job := h.bg
	h.mu.Unlock()
	if job != nil {
		select {
		case <-job.done:
		case <-time.After(h.cfg.Wait):
			h.violate("the background sales did not finish (%d of %d acknowledged)", job.acked.Load(), job.total)
		case <-ctx.Done():
			return
		}
	}
	for _, stor := range h.stores {
		if stor.sides() != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("store %s is still partitioned at the end", stor.name))
		}
		for _, s := range stor.slots {
			if !s.up() {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s is down at the end: its ledger is not compared", s.name))
			}
		}
	}
	h.mu.Lock()
	last := h.lastConv
	h.mu.Unlock()
	t0 := time.Now()
	_, err := h.wait(ctx, Step{Op: OpWait, Arg: "converged"}, h.cfg.Wait)
	rep.ConvergenceMS = ms(time.Since(t0))
	if last > 0 && err == nil {
		rep.ConvergenceMS = ms(last) // the scenario's own last wait
	}
	rep.Converged = err == nil
	if err != nil {
		h.violate("final: %v", err)
	}
	h.progress("final convergence: %v in %v", rep.Converged, time.Since(t0).Round(time.Millisecond))
	if n, p50, p99 := h.prop.figures(); n > 0 {
		rep.PropagationSamples, rep.PropagationP50MS, rep.PropagationP99MS = n, ms(p50), ms(p99)
	}
	// Peak memory before the tills stop for the final check.
	var maxKB int64
	for _, s := range h.allSlots() {
		if th, _, _ := s.current(); th != nil {
			s.mu.Lock()
			inc := s.inc
			s.mu.Unlock()
			if kb := th.peakRSS(); kb > inc.peakKB.Load() {
				inc.peakKB.Store(kb)
			}
		}
	}
	r := h.check(ctx, true)
	h.absorb(r, true)
	rep.History = h.cfg.History
	for _, s := range h.allSlots() {
		s.mu.Lock()
		for _, inc := range s.incs {
			maxKB = max(maxKB, inc.peakKB.Load())
			if len(inc.starts) == 0 {
				continue
			}
			f := TillFigure{Till: s.name, Number: inc.number, Starts: len(inc.starts),
				FirstStartMS: ms(inc.starts[0]), MaxRSSMB: float64(inc.peakKB.Load()) / 1024}
			for _, d := range inc.starts {
				f.MaxStartMS = max(f.MaxStartMS, ms(d))
			}
			rep.TillFigures = append(rep.TillFigures, f)
		}
		rep.Enrolled += len(s.incs)
		s.mu.Unlock()
	}
	if h.cfg.Mode == InProc {
		_, hwm := ProcMem(os.Getpid())
		maxKB = hwm
		rep.RSSScope = fmt.Sprintf("the harness process, holding all %d tills and HQ", rep.Tills)
	} else {
		rep.RSSScope = "the largest till process"
	}
	rep.MaxRSSMB = float64(maxKB) / 1024
	h.acks.mu.Lock()
	rep.Acked = len(h.acks.list)
	rep.Sales = h.acks.counts[ledger.KindSale]
	rep.Refunds = h.acks.counts[ledger.KindRefund]
	rep.Transfers = h.acks.counts[ledger.KindTransferOut]
	rep.TransfersReceived = h.acks.counts[ledger.KindTransferIn]
	rep.Replays = h.acks.replays
	rep.Abandoned = len(h.acks.abandoned)
	rep.RefundsSkipped = h.acks.skipped
	for _, s := range h.acks.refused {
		rep.Violations = append(rep.Violations, "unexpected refusal: "+s)
	}
	h.acks.mu.Unlock()
	h.powerFigures(rep)
	rep.DurationMS = ms(time.Since(h.began))
	rep.OK = len(rep.Violations) == 0 && rep.Converged && rep.Lost == 0 && rep.Duplicated == 0 &&
		rep.StockMismatches == 0 && rep.LedgersIdentical && rep.Anomalies == 0 && rep.ReceiptsUnique
	if rep.Violations == nil {
		rep.Violations = []string{}
	}
}

// absorb adds a check's findings to the report; the final check's
// figures are the report's.
func (h *harness) absorb(r *checkResult, final bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rep := h.rep
	rep.Violations = append(rep.Violations, r.violations...)
	if final {
		rep.Events, rep.HQEvents = r.events, r.hqEvents
		rep.LedgersIdentical = r.identical && r.converged
		rep.ReceiptsUnique = r.receiptsOK
		rep.SignaturesOK = r.verified
		rep.Notes = append(rep.Notes, r.notes...)
		rep.Lost, rep.Duplicated, rep.StockMismatches, rep.Anomalies = r.lost, r.duplicated, r.mismatches, r.anomalies
	}
}

// downlinked reports whether a till's CRDT holds what the relay's first
// downlink from HQ writes last (relay.ChainStockSetting; the chain's
// stores and incoming transfers before it). The relay downlinks in the
// round after it uploads, once it has held the lease for two heartbeats:
// a relay elected as HQ came back wrote these settings a second after
// `wait hq` saw HQ hold every event, after the `wait converged` that
// followed, and a check moments later found the tills' CRDT heads apart
// (hq-outage). `wait hq` waits for them too. Later downlinks write only
// what HQ changed (a new transfer in transit, a catalog change) or a
// stock snapshot older than relay.Config.StockEvery (5 minutes). Read
// in process only: a till process's settings are not read here.
func downlinked(ctx context.Context, n *node.Till) bool {
	_, err := n.Inventory().Setting(ctx, relay.ChainStockSetting)
	return err == nil
}
