package testnet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/ui"
)

// inprocTill is a node.Till running in this process. Operations hold mu
// for reading and stop takes it for writing, so a stop waits for the
// operation in progress: a goroutine cannot be killed mid-write, and
// closing the stores under a writer is not a crash the node must survive
// (SIGKILL in process mode is).
type inprocTill struct {
	h    *harness
	s    *slot
	t    *node.Till
	mu   sync.RWMutex
	down bool

	shaper *p2p.Shaper // nil unless the scenario shapes links

	cancel context.CancelFunc
	done   chan error
}

func (h *harness) startInproc(ctx context.Context, s *slot, inc *incarnation, blocked []peer.ID) (*inprocTill, error) {
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = inc.dir, s.st.file, h.log.With("till", s.name, "number", inc.number)
	cfg.HTTPAddr, cfg.MDNS = "", false
	cfg.ListenAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", inc.p2pPort)}
	cfg.StaticPeers = h.staticPeers(s)
	if h.sc.HQ {
		cfg.HQ = s.st.hqURL
	}
	cfg.Now = s.now
	var shaper *p2p.Shaper
	if h.shaping() {
		shaper = p2p.NewShaper(h.shapeSeed(s, inc))
		cfg.Shaper = shaper
	}
	t, err := node.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	for _, p := range blocked {
		t.Host().Block(p)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	it := &inprocTill{h: h, s: s, t: t, shaper: shaper, cancel: cancel, done: make(chan error, 1)}
	go func() { it.done <- t.Run(runCtx) }()
	return it, nil
}

func (it *inprocTill) node() *node.Till { return it.t }
func (it *inprocTill) peakRSS() int64   { return 0 }

func (it *inprocTill) stop(bool) error {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.down {
		return nil
	}
	it.down = true
	it.cancel()
	err := <-it.done
	return errors.Join(err, it.t.Close())
}

// op runs f unless the till is stopped.
func (it *inprocTill) op(f func() error) error {
	it.mu.RLock()
	defer it.mu.RUnlock()
	if it.down {
		return errDown
	}
	return f()
}

// classify turns a node error into a refusal (bad request, conflict, a
// ledger rule) or leaves it retryable.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ui.ErrBadRequest), errors.Is(err, ui.ErrConflict), errors.Is(err, ui.ErrNotFound),
		errors.Is(err, ledger.ErrOverRefund), errors.Is(err, ledger.ErrUnknownSale), errors.Is(err, ledger.ErrAlreadyVoided),
		errors.Is(err, ledger.ErrShiftState), errors.Is(err, ledger.ErrInvalidBody),
		errors.Is(err, ledger.ErrOwnerUnreachable), // the sale's or card's till is cut off: a definite no
		errors.Is(err, ledger.ErrOverRedeem):
		return fmt.Errorf("%w: %v", errRefused, err)
	}
	return err
}

// receiptOf is the receipt number the till gave ev, 0 if none: what its
// API answers.
func receiptOf(t *node.Till, ev *ledger.Event) (n uint64) {
	t.View(func(s *ledger.State) { n, _ = s.ReceiptNumber(ev.Till, ev.Seq) })
	return n
}

func ackOf(ev *ledger.Event, number uint32, receipt uint64, replayed bool) ackInfo {
	a := ackInfo{ID: ev.ID(), Seq: ev.Seq, Replayed: replayed, Moves: ledger.Movements(ev)}
	if receipt > 0 {
		a.Receipt = ledger.ReceiptNo(number, receipt)
	}
	if s, ok := ev.Body.(*ledger.Sale); ok {
		a.Lines = s.Lines
	}
	return a
}

func (it *inprocTill) sell(ctx context.Context, req ui.SaleRequest) (a ackInfo, err error) {
	err = it.op(func() error {
		ev, replayed, err := it.t.Sell(ctx, req)
		if err != nil {
			return classify(err)
		}
		a = ackOf(ev, it.t.Number(), receiptOf(it.t, ev), replayed)
		return nil
	})
	return a, err
}

func (it *inprocTill) record(ctx context.Context, key string, body func() (ledger.Body, error)) (a ackInfo, err error) {
	err = it.op(func() error {
		// A retried request gets its first event, as the HTTP API does.
		ev, err := it.t.Replay(key)
		if err != nil {
			return err
		}
		replayed := ev != nil
		if ev == nil {
			b, err := body()
			if err != nil {
				return classify(err)
			}
			if ev, replayed, err = it.t.Record(ctx, b, key); err != nil {
				return classify(err)
			}
		}
		a = ackOf(ev, it.t.Number(), receiptOf(it.t, ev), replayed)
		return nil
	})
	return a, err
}

func (it *inprocTill) refund(ctx context.Context, key string, sale ledger.EventID, picks []ledger.Pick) (ackInfo, error) {
	return it.record(ctx, key, func() (ledger.Body, error) {
		var lines []ledger.RefundLine
		var cur string
		var err error
		it.t.View(func(s *ledger.State) {
			if sl, _, _, ok := s.Fold().Sale(sale); ok {
				cur = sl.Currency
			}
			lines, err = s.Fold().RefundLines(sale, picks)
		})
		if err != nil {
			return nil, err
		}
		body := &ledger.Refund{Sale: sale, Currency: cur, Lines: lines, Reason: "testnet", Staff: cashierID}
		var total ledger.Money
		for _, l := range lines {
			total += l.Amount
		}
		if total > 0 {
			body.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: total}}
		}
		return body, nil
	})
}

func (it *inprocTill) shift(ctx context.Context, key string, open bool) (ackInfo, error) {
	return it.record(ctx, key, func() (ledger.Body, error) {
		if open {
			return &ledger.ShiftOpen{Currency: "EUR", Float: shiftFloat, Staff: cashierID}, nil
		}
		return &ledger.ShiftClose{Currency: "EUR", Counted: []ledger.Denomination{{Value: 1000, Count: 10}}, Staff: cashierID}, nil
	})
}

func (it *inprocTill) receive(ctx context.Context, key string, lines []ledger.StockLine) (ackInfo, error) {
	return it.record(ctx, key, func() (ledger.Body, error) {
		return &ledger.StockReceive{Lines: lines, Ref: "testnet delivery", Staff: managerID}, nil
	})
}

func (it *inprocTill) ready(ctx context.Context) (ok bool, err error) {
	err = it.op(func() error {
		ps, err := it.t.Inventory().Products(ctx)
		if err != nil || len(ps) < len(it.h.catalog) {
			return nil
		}
		staff, err := it.t.StaffList(ctx)
		ok = err == nil && len(staff) >= len(seedStaff)
		return nil
	})
	return ok, err
}

func (it *inprocTill) vector(context.Context) (v ledger.Vector, err error) {
	err = it.op(func() error { v = it.t.DB().Vector(); return nil })
	return v, err
}

func (it *inprocTill) stockLevel(ctx context.Context, sku string) (l ui.StockLevel, err error) {
	err = it.op(func() error {
		l, err = it.t.Stock(ctx, sku)
		return err
	})
	return l, err
}

func (it *inprocTill) crdtHeads(context.Context) (hs []string, err error) {
	err = it.op(func() error {
		heads, _ := it.t.Inventory().Heads()
		for _, c := range heads {
			hs = append(hs, c.String())
		}
		sort.Strings(hs)
		return nil
	})
	return hs, err
}

func (it *inprocTill) stock(ctx context.Context) (m map[string]int64, err error) {
	err = it.op(func() error {
		m, err = it.t.Inventory().AllStock(ctx)
		if errors.Is(err, crdt.ErrNotFound) {
			m, err = map[string]int64{}, nil
		}
		return err
	})
	return m, err
}

func (it *inprocTill) isRelay(context.Context) (r bool, err error) {
	err = it.op(func() error {
		r = it.t.Relay() != nil && it.t.Relay().IsRelay()
		return nil
	})
	return r, err
}

func (it *inprocTill) block(_ context.Context, peers []peer.ID, on bool) error {
	return it.op(func() error {
		for _, p := range peers {
			if on {
				it.t.Host().Block(p)
			} else {
				it.t.Host().Unblock(p)
			}
		}
		return nil
	})
}

// setSkew has nothing to do: the till's clock reads the slot's skew.
func (it *inprocTill) setSkew(context.Context) error { return nil }

func (it *inprocTill) shape(_ context.Context, target string, f p2p.Fault) error {
	if it.shaper == nil {
		return errors.New("till started without a link shaper")
	}
	if target == "all" {
		return it.shaper.SetAll(f)
	}
	return it.shaper.SetRemote(target, f)
}

// readyWait polls ready until it holds or the deadline passes.
func readyWait(ctx context.Context, th tillHandle, limit time.Duration) error {
	return poll(ctx, limit, 20*time.Millisecond, func() (bool, error) {
		ok, err := th.ready(ctx)
		if err != nil && !errors.Is(err, errRefused) {
			return false, nil // starting: ask again
		}
		return ok, nil
	})
}
