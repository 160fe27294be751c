package testnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/testnet/powerfs"
	"github.com/tillmesh/tillmesh/ui"
)

// ErrNoPower is returned by Run for a scenario with a power-cut step
// where it cannot run: inproc mode (a till in this process cannot lose
// its disk mid-write), or no FUSE here.
var ErrNoPower = errors.New("testnet: power-cut unavailable")

// sellAgainLimit is how soon after its restart a till must sell again
// after a power cut.
const sellAgainLimit = 10 * time.Second

// sellAgainGiveUp is how long the harness waits for a till to sell
// again before it records that it did not and goes on.
const sellAgainGiveUp = 30 * time.Second

// powerCuts says whether the scenario cuts the power: then every store's
// directory (its tills' data and its CA) is a powerfs mount.
func (sc *Scenario) powerCuts() bool {
	for _, st := range sc.Steps {
		if st.Op == OpPowerCut {
			return true
		}
	}
	return false
}

// power is the run's power-cut bookkeeping.
type power struct {
	mu        sync.Mutex
	cuts      map[string]int // by kind
	failed    int            // till starts that failed after a cut
	sellAgain []time.Duration
}

// checkPower says why the scenario's power cuts cannot run here.
func checkPower(sc *Scenario, cfg Config) error {
	if !sc.powerCuts() {
		return nil
	}
	if cfg.Mode != Process {
		return fmt.Errorf("%w: mode %s: power-cut runs in process mode only (a till process is killed with SIGKILL as its disk loses what it had not synced)", ErrNoPower, cfg.Mode)
	}
	if err := powerfs.Available(cfg.Logger); err != nil {
		return fmt.Errorf("%w: %v", ErrNoPower, err)
	}
	return nil
}

// powerUp puts a store's directory on a powerfs mount: the directory
// moves to <dir>.disk, the durable state, and is mounted back in its
// place.
func (h *harness) powerUp(st *store) error {
	model, err := powerfs.ParseModel(h.sc.Power)
	if err != nil {
		return err
	}
	dir := filepath.Dir(st.dir) // the store's CA and its tills' data
	disk := dir + ".disk"
	if err := os.Rename(dir, disk); err != nil {
		return fmt.Errorf("power: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("power: %w", err)
	}
	fs, err := powerfs.Mount(disk, dir, powerfs.Options{Logger: h.log.With("powerfs", st.name), Model: model})
	if err != nil {
		return err
	}
	st.power = fs
	return nil
}

// powerDown unmounts a store's powerfs (what was not synced is lost, as
// at a cut) and puts the durable directory back in its place, so the
// final check can open the ledgers here: Badger maps its files, and this
// process, serving the mount, must not fault on its own mount.
func (h *harness) powerDown(st *store) error {
	if st.power == nil {
		return nil
	}
	fs := st.power
	st.power = nil
	if err := fs.Close(); err != nil {
		return fmt.Errorf("power: unmount %s: %w", st.name, err)
	}
	dir := fs.Mountpoint()
	if err := os.Remove(dir); err != nil {
		return fmt.Errorf("power: %w", err)
	}
	return os.Rename(fs.Backing(), dir)
}

// powerCut runs a power-cut step: N times, draw how the power goes
// (while the tills sell, while they idle, or during their start-up,
// cutting again 0-3 s after the restart), cut every store at once,
// restart every till at once and measure how soon each sells again.
func (h *harness) powerCut(ctx context.Context, st Step) (string, error) {
	if len(h.stores) == 0 || h.stores[0].power == nil {
		return "", fmt.Errorf("%w: the stores are not on powerfs", ErrNoPower)
	}
	rng := h.stepRNG(st)
	counts := map[string]int{}
	h.pow.mu.Lock()
	before := len(h.pow.sellAgain)
	h.pow.mu.Unlock()
	for i := 1; i <= st.N; i++ {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		kind := []string{"selling", "idle", "start-up"}[rng.IntN(3)]
		what, job, err := h.cutOnce(ctx, rng, kind)
		if err != nil {
			return "", fmt.Errorf("cut %d/%d (%s): %w", i, st.N, what, err)
		}
		counts[kind]++
		h.pow.mu.Lock()
		h.pow.cuts[kind]++
		h.pow.mu.Unlock()
		t0 := time.Now()
		took, err := h.restartAfterCut(ctx, rng, fmt.Sprintf("cut %d (%s)", i, what))
		if err != nil {
			return "", fmt.Errorf("cut %d/%d (%s): %w", i, st.N, what, err)
		}
		if job != nil {
			select {
			case <-job.done:
			case <-time.After(h.cfg.Wait):
				return "", fmt.Errorf("cut %d/%d (%s): the sales in flight did not finish within %v (%d of %d acknowledged)", i, st.N, what, h.cfg.Wait, job.acked.Load(), job.total)
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		h.progress("  power cut %d/%d %-40s every till sells again, slowest after %v (%v)", i, st.N, what, took.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	}
	h.pow.mu.Lock()
	mine := append([]time.Duration(nil), h.pow.sellAgain[before:]...)
	h.pow.mu.Unlock()
	p50, worst := quantiles(mine)
	return fmt.Sprintf("%d cuts (%d selling, %d idle, %d in start-up); sells again p50 %v, max %v",
		st.N, counts["selling"], counts["idle"], counts["start-up"], p50.Round(time.Millisecond), worst.Round(time.Millisecond)), nil
}

// cutOnce brings the stores to the drawn state and cuts the power; for
// a start-up cut it restarts every till and cuts again within 3 s. It
// returns what it did and the sales it left in flight.
func (h *harness) cutOnce(ctx context.Context, rng *rand.Rand, kind string) (string, *sellJob, error) {
	switch kind {
	case "selling":
		var live []*slot
		for _, s := range h.allSlots() {
			if s.up() {
				live = append(live, s)
			}
		}
		n := 20 + rng.IntN(60)
		job := h.startSell(ctx, Step{Op: OpSell, N: n, Rate: -1, Background: true, Text: fmt.Sprintf("sell %d background", n)}, live, h.sc.Rate)
		after := 1 + rng.IntN(n/2)
		extra := time.Duration(rng.IntN(300)) * time.Millisecond
		if err := poll(ctx, h.cfg.Wait, 2*time.Millisecond, func() (bool, error) { return job.acked.Load() >= int64(after), nil }); err != nil {
			return "", nil, fmt.Errorf("waiting for %d sales before the cut: %w", after, err)
		}
		if err := pause(ctx, extra); err != nil {
			return "", nil, err
		}
		what := fmt.Sprintf("selling: after %d sales + %v", job.acked.Load(), extra)
		return what, job, h.cutPower(nil, nil)
	case "idle":
		d := time.Duration(rng.IntN(1500)) * time.Millisecond
		if err := pause(ctx, d); err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("idle for %v", d), nil, h.cutPower(nil, nil)
	default:
		if err := h.cutPower(nil, nil); err != nil {
			return "", nil, err
		}
		d := time.Duration(rng.IntN(3000)) * time.Millisecond
		sctx, cancel := context.WithCancel(ctx)
		starting := h.startAll(sctx)
		if err := pause(ctx, d); err != nil {
			cancel()
			<-starting
			return "", nil, err
		}
		return fmt.Sprintf("start-up: %v after the restart", d), nil, h.cutPower(cancel, starting)
	}
}

// pause waits d: the instant of a cut drawn from the seed, not a wait
// for something to happen.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startAll starts every till that is down, each in its own goroutine;
// the channel closes when every start has ended (up, or given up when
// ctx ended: a process still starting is killed).
func (h *harness) startAll(ctx context.Context) <-chan []error {
	var down []*slot
	for _, s := range h.allSlots() {
		if !s.up() {
			down = append(down, s)
		}
	}
	out := make(chan []error, 1)
	errs := make([]error, len(down))
	var wg sync.WaitGroup
	for i, s := range down {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.st.epoch.Add(1)
			if err := h.start(ctx, s); err != nil {
				errs[i] = fmt.Errorf("%s: %w", s.name, err)
			}
		}()
	}
	go func() {
		wg.Wait()
		out <- errs
		close(out)
	}()
	return out
}

// cutPower cuts every store at once: the disks stop answering, every
// till process (starting ones too) gets SIGKILL, the disks answer what
// they held with EIO so the killed processes can exit, then drop what
// was not synced and come back. No till runs another instruction after
// the cut instant on a disk answer it got after it.
func (h *harness) cutPower(stopStarting context.CancelFunc, starting <-chan []error) error {
	for _, st := range h.stores {
		st.power.Freeze()
	}
	h.procs.killAll()
	for _, st := range h.stores {
		st.power.Release()
	}
	if starting != nil {
		stopStarting()
		<-starting // each one up (and killed), or given up
	}
	var errs []error
	for _, s := range h.allSlots() {
		if th := s.setDown(); th != nil {
			s.st.epoch.Add(1)
			errs = append(errs, th.stop(true))
		}
	}
	for _, st := range h.stores {
		errs = append(errs, st.power.Cut())
	}
	return errors.Join(errs...)
}

// restartAfterCut starts every till at once, as a store's tills boot
// when the power comes back, and measures how long each takes to sell
// again with the catalog and staff it had. A till whose start fails is
// a violation (with its error) and is started again, as a person would,
// up to three times.
func (h *harness) restartAfterCut(ctx context.Context, rng *rand.Rand, what string) (time.Duration, error) {
	t0 := time.Now()
	slots := h.allSlots()
	for attempt := 1; ; attempt++ {
		var down []*slot
		for _, s := range slots {
			if !s.up() {
				down = append(down, s)
			}
		}
		errs := <-h.startAll(ctx)
		var failed []string
		for i, err := range errs {
			if err == nil {
				continue
			}
			s := down[i]
			s.mu.Lock()
			inc := s.inc
			s.mu.Unlock()
			why := startFailure(fmt.Sprintf("%s/logs/%s-%d.log", h.dir, s.name, inc.number))
			failed = append(failed, s.name+": "+why)
			h.pow.mu.Lock()
			h.pow.failed++
			h.pow.mu.Unlock()
			h.violate("%s: %s: start %d failed: %s", what, s.name, attempt, why)
		}
		if len(failed) == 0 {
			break
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if attempt == 3 {
			return 0, fmt.Errorf("tills would not start in 3 attempts: %s", strings.Join(failed, "; "))
		}
	}
	took := make([]time.Duration, len(slots))
	errs := make([]error, len(slots))
	var wg sync.WaitGroup
	for i, s := range slots {
		key := fmt.Sprintf("tn%d-%s-power%d", h.cfg.Seed, strings.ReplaceAll(s.name, ".", ""), h.ops.Add(1))
		req := h.basket(rng, key)
		wg.Add(1)
		go func() {
			defer wg.Done()
			took[i], errs[i] = h.sellAgain(ctx, s, t0, req)
		}()
	}
	wg.Wait()
	var worst time.Duration
	for i, s := range slots {
		if errs[i] != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			// Counted at the give-up bound; the next cut restarts it.
			h.violate("%s: %s %v", what, s.name, errs[i])
			took[i] = sellAgainGiveUp
		} else if took[i] > sellAgainLimit {
			h.violate("%s: %s sold again only %v after its restart (limit %v)", what, s.name, took[i].Round(time.Millisecond), sellAgainLimit)
		}
		worst = max(worst, took[i])
	}
	h.pow.mu.Lock()
	h.pow.sellAgain = append(h.pow.sellAgain, took...)
	h.pow.mu.Unlock()
	return worst, nil
}

// sellAgain waits until the till holds the whole catalog and both staff
// can log in, then sells one basket; it returns how long after t0 the
// sale was acknowledged. It gives up after sellAgainGiveUp.
func (h *harness) sellAgain(ctx context.Context, s *slot, t0 time.Time, req ui.SaleRequest) (time.Duration, error) {
	th, inc, _ := s.current()
	if th == nil {
		return 0, errors.New("not running")
	}
	var last error
	err := poll(ctx, sellAgainGiveUp, 20*time.Millisecond, func() (bool, error) {
		ok, err := th.ready(ctx)
		if err != nil || !ok {
			last = fmt.Errorf("catalog or staff not there (%d products wanted, staff %s and %s must log in): %v", len(h.catalog), managerID, cashierID, err)
			return false, nil
		}
		stock, err := th.stock(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		for _, p := range h.catalog {
			if _, ok := stock[p.SKU]; !ok {
				last = fmt.Errorf("product %s (%s) missing from the catalog", p.SKU, p.Name)
				return false, nil
			}
		}
		a, err := th.sell(ctx, req)
		if err != nil {
			last = err
			return false, nil
		}
		h.acked(s, inc, ledger.KindSale, req.IdempotencyKey, a)
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("did not sell again within %v of its restart: %v", sellAgainGiveUp, last)
	}
	return time.Since(t0), nil
}

// quantiles returns the median and the maximum.
func quantiles(ds []time.Duration) (p50, worst time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[len(s)-1]
}

// powerFigures fills in the report's power-cut figures.
func (h *harness) powerFigures(rep *Report) {
	if h.pow == nil {
		return
	}
	h.pow.mu.Lock()
	defer h.pow.mu.Unlock()
	rep.PowerModel = h.sc.Power
	rep.PowerCuts = h.pow.cuts["selling"] + h.pow.cuts["idle"] + h.pow.cuts["start-up"]
	rep.PowerCutsSelling, rep.PowerCutsIdle, rep.PowerCutsStartup = h.pow.cuts["selling"], h.pow.cuts["idle"], h.pow.cuts["start-up"]
	rep.FailedStarts = h.pow.failed
	p50, worst := quantiles(h.pow.sellAgain)
	rep.SellAgainSamples = len(h.pow.sellAgain)
	rep.SellAgainP50MS, rep.SellAgainMaxMS = ms(p50), ms(worst)
}

// startFailure sums up why a till process's last start failed, from its
// log: the error or panic it printed and, for a panic, where.
func startFailure(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	text := string(b)
	if i := strings.LastIndex(text, "=== start"); i >= 0 {
		text = text[i:]
	}
	var out []string
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "panic:"), strings.HasPrefix(l, "fatal error:"):
			out = append(out, l)
			// The first frame of ours under the panic says where.
			for _, f := range lines[i+1:] {
				if strings.HasPrefix(f, "github.com/tillmesh/") {
					out = append(out, "in "+f)
					break
				}
			}
		case strings.HasPrefix(l, "tillmesh:"), strings.Contains(l, "level=ERROR"):
			out = append(out, l)
		}
		if len(out) >= 4 {
			break
		}
	}
	if len(out) == 0 {
		return "exited without an error in its log: " + tail(logPath)
	}
	return strings.Join(out, " | ")
}
