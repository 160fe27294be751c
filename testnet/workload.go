package testnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/ui"
)

// ack is one acknowledged event: the request the harness made and what
// the till answered.
type ack struct {
	store *store
	slot  *slot
	inc   *incarnation
	kind  ledger.Kind
	key   string
	info  ackInfo
	at    time.Time
}

// saleRec is an acknowledged sale the workload may refund: left is what
// the harness may still ask to refund of each line (refunds acknowledged
// or in doubt are taken off), so its requests never over-refund.
type saleRec struct {
	id    ledger.EventID
	slot  *slot
	lines []ledger.Line
	left  []int64
}

// ackLog records every acknowledged event of the run.
type ackLog struct {
	mu        sync.Mutex
	list      []*ack
	byKey     map[string]*ack
	sales     map[*store][]*saleRec
	replays   int // first answers that were replays: requests in doubt that had been recorded
	dups      []string
	abandoned []string // requests in doubt when their till's disk was wiped
	refused   []string // refusals the workload did not expect
	counts    map[ledger.Kind]int
	skipped   int // refunds of sales the till did not hold yet
}

func newAckLog() *ackLog {
	return &ackLog{byKey: map[string]*ack{}, sales: map[*store][]*saleRec{}, counts: map[ledger.Kind]int{}}
}

// add records an acknowledgement. A key acknowledged twice must name the
// same event both times; otherwise a retry was recorded twice.
func (l *ackLog) add(a *ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := a.inc.id.String() + "/" + a.key
	if prev := l.byKey[k]; prev != nil {
		if prev.info.Seq != a.info.Seq || (!prev.info.ID.IsZero() && !a.info.ID.IsZero() && prev.info.ID != a.info.ID) {
			l.dups = append(l.dups, fmt.Sprintf("%s: idempotency key %q acknowledged as %s and again as %s",
				a.slot.name, a.key, prev.info.Receipt, a.info.Receipt))
		}
		return
	}
	if a.info.Replayed {
		l.replays++ // a request in doubt (its till died) that the till had recorded
	}
	l.byKey[k] = a
	l.list = append(l.list, a)
	l.counts[a.kind]++
	if a.kind == ledger.KindSale && len(a.info.Lines) > 0 {
		r := &saleRec{id: a.info.ID, slot: a.slot, lines: a.info.Lines, left: make([]int64, len(a.info.Lines))}
		for i, ln := range a.info.Lines {
			r.left[i] = ln.Qty
		}
		l.sales[a.store] = append(l.sales[a.store], r)
	}
}

func (l *ackLog) all() []*ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*ack(nil), l.list...)
}

func (l *ackLog) note(list *[]string, s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*list = append(*list, s)
}

// pickRefund chooses a recent sale of the store, by another till half
// the time, and a part of one line of it, and reserves it.
func (l *ackLog) pickRefund(rng *rand.Rand, st *store, self *slot) (*saleRec, ledger.Pick, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sales := l.sales[st]
	if len(sales) == 0 {
		return nil, ledger.Pick{}, false
	}
	wantOther := rng.IntN(2) == 0
	for try := 0; try < 20; try++ {
		r := sales[len(sales)-1-rng.IntN(min(len(sales), 200))]
		if wantOther && r.slot == self && try < 10 {
			continue
		}
		i := rng.IntN(len(r.lines))
		if r.left[i] <= 0 {
			continue
		}
		q := r.left[i]
		if r.lines[i].Unit != ledger.Kilogram && q > 1 {
			q = 1 + int64(rng.IntN(int(q)))
		}
		r.left[i] -= q
		return r, ledger.Pick{Line: i, Qty: q}, true
	}
	return nil, ledger.Pick{}, false
}

func (l *ackLog) release(r *saleRec, p ledger.Pick) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.left[p.Line] += p.Qty
}

// errAbandoned: the slot's till was wiped while the request was in doubt.
var errAbandoned = errors.New("abandoned: the till's disk was wiped")

// do runs op against slot's incarnation inc until it is answered: a
// till that is down is waited for, an answer lost (the till died, a 5xx)
// is asked again with the same idempotency key. It gives up when the
// incarnation is wiped or ctx ends.
func (h *harness) do(ctx context.Context, s *slot, inc *incarnation, op func(tillHandle) (ackInfo, error)) (ackInfo, error) {
	var failing time.Time // since when a running till has not answered
	for {
		th, cur, upCh := s.current()
		if cur != inc {
			return ackInfo{}, errAbandoned
		}
		if th == nil {
			failing = time.Time{}
			select {
			case <-upCh:
				continue
			case <-ctx.Done():
				return ackInfo{}, ctx.Err()
			}
		}
		a, err := op(th)
		if pt, ok := th.(*procTill); ok {
			a.LegacyReceipt = pt.legacyReceipts
		}
		if err == nil || errors.Is(err, errRefused) || errors.Is(err, errBadAnswer) {
			return a, err
		}
		if ctx.Err() != nil {
			return a, ctx.Err()
		}
		h.log.Debug("request not answered; asking again", "till", s.name, "err", err)
		if failing.IsZero() {
			failing = time.Now()
		} else if time.Since(failing) > h.cfg.Wait && s.up() {
			return a, fmt.Errorf("%s answered no request for %v: %w", s.name, h.cfg.Wait, err)
		}
		select {
		case <-ctx.Done():
			return ackInfo{}, ctx.Err()
		case <-time.After(25 * time.Millisecond): // retry pace while the till comes back
		}
	}
}

// basket makes a sale request: 1-6 lines of the catalog, weighed goods
// by the gram, paid by card (exactly) or cash (rounded up, with change).
func (h *harness) basket(rng *rand.Rand, key string) ui.SaleRequest {
	req := ui.SaleRequest{IdempotencyKey: key, Staff: cashierID}
	n := 1 + rng.IntN(3)
	if rng.IntN(4) == 0 {
		n += rng.IntN(4)
	}
	b := basket.Basket{TaxIncluded: true, LimitBP: -1}
	seen := map[string]bool{}
	for len(req.Lines) < n {
		p := h.catalog[rng.IntN(len(h.catalog))]
		if seen[p.SKU] {
			continue
		}
		seen[p.SKU] = true
		qty := int64(1)
		if rng.IntN(3) == 0 {
			qty += int64(rng.IntN(3))
		}
		if p.Weighed() {
			qty = int64(150 + rng.IntN(1500))
		}
		req.Lines = append(req.Lines, ui.SaleLine{SKU: p.SKU, Qty: qty})
		b.Items = append(b.Items, basket.Item{Product: p, Qty: qty})
	}
	priced, err := basket.Price(b)
	tot := priced.Totals
	if err != nil || rng.IntN(5) < 3 {
		req.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: tot.Total, Ref: fmt.Sprintf("TN%06d", rng.IntN(1_000_000))}}
	}
	if err != nil || len(req.Tenders) == 0 || tot.Total == 0 {
		step := ledger.Money(500)
		if tot.Total > 5000 {
			step = 2000
		}
		req.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: (tot.Total/step + 1) * step}}
	}
	return req
}

// sellJob is one sell step: N sales taken in turn by a cashier at each of
// its tills.
type sellJob struct {
	step   Step
	total  int64
	taken  atomic.Int64
	acked  atomic.Int64
	failed atomic.Int64
	began  time.Time
	done   chan struct{}

	latMu sync.Mutex
	lat   []time.Duration // each acknowledged sale, from the request to its answer (retries included)
}

// latency returns the p50, p99 and highest of the job's sale latencies.
func (j *sellJob) latency() (p50, p99, top time.Duration, n int) {
	j.latMu.Lock()
	l := append([]time.Duration(nil), j.lat...)
	j.latMu.Unlock()
	if len(l) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(l)
	at := func(q float64) time.Duration { return l[min(len(l)-1, int(q*float64(len(l))))] }
	return at(0.50), at(0.99), l[len(l)-1], len(l)
}

// startSell starts a cashier at every target till.
func (h *harness) startSell(ctx context.Context, st Step, targets []*slot, rate float64) *sellJob {
	job := &sellJob{step: st, total: int64(st.N), began: time.Now(), done: make(chan struct{})}
	var wg sync.WaitGroup
	for _, s := range targets {
		wg.Add(1)
		seed := h.cfg.Seed*1_000_003 + uint64(st.Line)*1009 + uint64(s.st.idx)*101 + uint64(s.idx)
		rng := rand.New(rand.NewPCG(seed, 0x7e57))
		go func() {
			defer wg.Done()
			h.cashier(ctx, job, s, rng, rate)
		}()
	}
	go func() {
		wg.Wait()
		close(job.done)
	}()
	return job
}

func (h *harness) key(s *slot, inc *incarnation, what string) string {
	return fmt.Sprintf("tn%d-%s-%d-%s%d", h.cfg.Seed, strings.ReplaceAll(s.name, ".", ""), inc.number, what, h.ops.Add(1))
}

// cashier sells at one till until the job's sales are all taken, with a
// refund of some sale after a share of them.
func (h *harness) cashier(ctx context.Context, job *sellJob, s *slot, rng *rand.Rand, rate float64) {
	start := time.Now()
	for k := 0; ; k++ {
		if job.taken.Add(1) > job.total {
			return
		}
		if rate > 0 {
			at := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d): // the cashier's pace
				}
			}
		}
		_, inc, _ := s.current()
		key := h.key(s, inc, "s")
		req := h.basket(rng, key)
		t0 := time.Now()
		a, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) { return th.sell(ctx, req) })
		took := time.Since(t0)
		switch {
		case errors.Is(err, errAbandoned):
			h.acks.note(&h.acks.abandoned, fmt.Sprintf("%s: sale %s", s.name, key))
			job.failed.Add(1)
			continue
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			h.acks.note(&h.acks.refused, fmt.Sprintf("%s: sale %s refused: %v", s.name, key, err))
			job.failed.Add(1)
			continue
		}
		h.acked(s, inc, ledger.KindSale, key, a)
		job.acked.Add(1)
		job.latMu.Lock()
		job.lat = append(job.lat, took)
		job.latMu.Unlock()
		if h.sc.Refunds > 0 && rng.IntN(100) < h.sc.Refunds {
			h.refundOne(ctx, s, rng)
		}
	}
}

// acked records an acknowledgement and samples its propagation.
func (h *harness) acked(s *slot, inc *incarnation, kind ledger.Kind, key string, a ackInfo) {
	now := time.Now()
	h.acks.add(&ack{store: s.st, slot: s, inc: inc, kind: kind, key: key, info: a, at: now})
	if h.prop != nil && !a.Replayed {
		h.prop.sample(s, inc, a.Seq, now)
	}
}

// isOwnerAway reports a refund refused because the sale's till could not
// be reached for a grant (doublespend.go).
func isOwnerAway(err error) bool { return strings.Contains(err.Error(), "cannot be reached") }

func isUnknownSale(err error) bool {
	m := err.Error()
	return strings.Contains(m, "unknown sale") || strings.Contains(m, " 404 ")
}

// refundOne refunds part of a recent sale of the store at s.
func (h *harness) refundOne(ctx context.Context, s *slot, rng *rand.Rand) {
	rec, pick, ok := h.acks.pickRefund(rng, s.st, s)
	if !ok {
		return
	}
	// Refunds need an open shift at the till (issue 16), as a cashier
	// opens one before the first customer; a failure shows in the refund.
	_ = h.shiftAt(ctx, s, true)
	_, inc, _ := s.current()
	key := h.key(s, inc, "r")
	var a ackInfo
	var err error
	// A refund is priced from what remains of the sale; another till's
	// refund of it arriving between the pricing and the recording makes
	// the till refuse it (the amounts changed). A cashier asks again.
	for try := 0; try < 3; try++ {
		a, err = h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) {
			return th.refund(ctx, key, rec.id, []ledger.Pick{pick})
		})
		if !errors.Is(err, errRefused) || isUnknownSale(err) || isOwnerAway(err) {
			break
		}
	}
	switch {
	case err == nil:
		h.acked(s, inc, ledger.KindRefund, key, a)
	case errors.Is(err, errAbandoned):
		h.acks.note(&h.acks.abandoned, fmt.Sprintf("%s: refund %s", s.name, key)) // stays reserved: it may be in the ledger
	case ctx.Err() != nil:
	case errors.Is(err, errRefused) && (isUnknownSale(err) || isOwnerAway(err)):
		// The sale has not reached this till yet, or the till that made
		// it is cut off and the store refuses offline refunds.
		h.acks.release(rec, pick)
		h.acks.mu.Lock()
		h.acks.skipped++
		h.acks.mu.Unlock()
	default:
		h.acks.release(rec, pick)
		h.acks.note(&h.acks.refused, fmt.Sprintf("%s: refund %s of line %d of sale %s refused: %v", s.name, key, pick.Line, rec.id.String()[:8], err))
	}
}

// shiftAt opens or closes the shift at a till (nothing if it already is).
func (h *harness) shiftAt(ctx context.Context, s *slot, open bool) error {
	s.shiftMu.Lock()
	defer s.shiftMu.Unlock()
	s.mu.Lock()
	if s.shift == open {
		s.mu.Unlock()
		return nil
	}
	inc := s.inc
	s.mu.Unlock()
	key := h.key(s, inc, "shift")
	a, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) { return th.shift(ctx, key, open) })
	if err != nil {
		return fmt.Errorf("%s: shift: %w", s.name, err)
	}
	kind := ledger.KindShiftClose
	if open {
		kind = ledger.KindShiftOpen
	}
	h.acked(s, inc, kind, key, a)
	s.mu.Lock()
	if s.inc == inc {
		s.shift = open
	}
	s.mu.Unlock()
	return nil
}

// receiveAt records a delivery of a few products at a till.
func (h *harness) receiveAt(ctx context.Context, s *slot, rng *rand.Rand) error {
	_, inc, _ := s.current()
	key := h.key(s, inc, "recv")
	var lines []ledger.StockLine
	seen := map[string]bool{}
	for n := 3 + rng.IntN(6); len(lines) < n && len(lines) < len(h.catalog); {
		p := h.catalog[rng.IntN(len(h.catalog))]
		if seen[p.SKU] {
			continue
		}
		seen[p.SKU] = true
		q := int64(10 + rng.IntN(500))
		if p.Weighed() {
			q *= 1000
		}
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: q})
	}
	a, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) { return th.receive(ctx, key, lines) })
	if err != nil {
		return fmt.Errorf("%s: receive: %w", s.name, err)
	}
	h.acked(s, inc, ledger.KindStockReceive, key, a)
	return nil
}
