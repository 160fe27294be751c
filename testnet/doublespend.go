package testnet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// The race step (scenario double-spend, issue 13). Race sales have one
// line of 2 x tills units, made at each till of the first store in turn.
// Each race step sells new race sales up to N open ones, then every
// running till that holds a sale asks to refund one unit of it, all the
// requests released together. A sale's refundable remainder is granted
// only by the till that made it, one grant at a time: so with that till
// reachable no more units are refunded than were sold, and a till cut
// off from it is refused (the store's default policy refuses offline
// refunds, so the over-spend a partition may cause is 0 here). The step
// fails when a sale's recorded refunds exceed its units; check steps
// hold every ledger copy, and HQ's, to no over-refund.
//
// Race sales are not in the workload's acknowledgement log, so the
// background refunds never pick them; the refunds the race records are.

// racedSale is one race sale and what the race recorded against it.
type racedSale struct {
	id       ledger.EventID
	owner    *slot
	ownerID  ledger.TillID
	seq      uint64
	receipt  string
	qty      int64
	refunded int64
	card     string       // the gift card the sale paid for, once issued
	cardSeq  uint64       // the issue's seq at the sale's till
	redeemed ledger.Money // what the race redeemed from it
}

// Gift cards of the race: each race sale pays for a card of raceCard,
// and every racer redeems raceRedeem from it at each race step, so at
// most raceCard/raceRedeem redemptions may ever be recorded.
const (
	raceCard   ledger.Money = 100
	raceRedeem ledger.Money = 25
)

// race runs the race step.
func (h *harness) race(ctx context.Context, st Step) (string, error) {
	slots := h.stores[0].slots
	var open []*racedSale
	for _, r := range h.raced {
		if r.refunded < r.qty {
			open = append(open, r)
		}
	}
	for i := 0; len(open) < st.N; i++ {
		r, err := h.raceSale(ctx, slots[(len(h.raced)+i)%len(slots)], st.Line, len(h.raced)+i)
		if err != nil {
			return "", err
		}
		h.raced = append(h.raced, r)
		open = append(open, r)
	}
	granted, refused, unseen, redeemed := 0, 0, 0, 0
	for _, r := range open {
		var racers []*slot
		for _, s := range slots {
			th, _, _ := s.current()
			if th == nil {
				continue
			}
			err := poll(ctx, time.Second, 20*time.Millisecond, func() (bool, error) {
				v, err := th.vector(ctx)
				return err == nil && v[r.ownerID] >= r.seq, nil
			})
			if err == nil {
				racers = append(racers, s)
			} else {
				unseen++
			}
		}
		ok, no, err := h.raceOne(ctx, racers, r, st.Line)
		if err != nil {
			return "", err
		}
		cok, cno, err := h.raceCard(ctx, racers, r, st.Line)
		if err != nil {
			return "", err
		}
		redeemed += cok
		refused += cno
		r.refunded += int64(ok)
		if r.refunded > r.qty {
			return "", fmt.Errorf("race: sale %s refunded %d units of %d: over-spent", r.receipt, r.refunded, r.qty)
		}
		granted += ok
		refused += no
	}
	return fmt.Sprintf("%d sales raced: %d unit refunds and %d card redemptions recorded, %d refused, %d till(s) did not hold a sale",
		len(open), granted, redeemed, refused, unseen), nil
}

// raceSale sells one race sale at s.
func (h *harness) raceSale(ctx context.Context, s *slot, line, n int) (*racedSale, error) {
	var p = h.catalog[0]
	for _, c := range h.catalog {
		if !c.Weighed() {
			p = c
			break
		}
	}
	qty := int64(2 * len(s.st.slots))
	_, inc, _ := s.current()
	key := h.key(s, inc, fmt.Sprintf("race-sale-%d-%d", line, n))
	req := ui.SaleRequest{IdempotencyKey: key, Staff: cashierID, Lines: []ui.SaleLine{{SKU: p.SKU, Qty: qty}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: ledger.Money(qty)*p.Price + 10_000}}}
	a, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) { return th.sell(ctx, req) })
	if err != nil {
		return nil, fmt.Errorf("race: sale at %s: %w", s.name, err)
	}
	if a.ID.IsZero() {
		return nil, fmt.Errorf("race: sale at %s: no event ID in the answer", s.name)
	}
	return &racedSale{id: a.ID, owner: s, ownerID: inc.id, seq: a.Seq, receipt: a.Receipt, qty: qty}, nil
}

// raceOne sends one refund of one unit of r from each racer, released
// together, and counts the refunds recorded and refused.
func (h *harness) raceOne(ctx context.Context, racers []*slot, r *racedSale, line int) (ok, no int, err error) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, s := range racers {
		_ = h.shiftAt(ctx, s, true) // refunds need an open shift (issue 16)
	}
	for _, s := range racers {
		th, inc, _ := s.current()
		if th == nil {
			continue
		}
		key := h.key(s, inc, fmt.Sprintf("race-%d-%s", line, r.receipt))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) {
				return th.refund(ctx, key, r.id, []ledger.Pick{{Line: 0, Qty: 1}})
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
				h.acked(s, inc, ledger.KindRefund, key, a)
			case errors.Is(err, errRefused):
				no++
			case errors.Is(err, errAbandoned) || ctx.Err() != nil:
			default:
				if firstErr == nil {
					firstErr = fmt.Errorf("race: refund at %s: %w", s.name, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, no, firstErr
}

// raceCard issues the sale's gift card at its till the first time, then
// has every racer redeem raceRedeem from it at once.
func (h *harness) raceCard(ctx context.Context, racers []*slot, r *racedSale, line int) (ok, no int, err error) {
	if r.card == "" {
		_, inc, _ := r.owner.current()
		card := "RACE-" + r.receipt
		key := h.key(r.owner, inc, "race-card-"+r.receipt)
		a, err := h.do(ctx, r.owner, inc, func(th tillHandle) (ackInfo, error) {
			return th.card(ctx, key, ledger.CardIssue, card, raceCard, r.id)
		})
		if err != nil {
			if errors.Is(err, errRefused) {
				return 0, 0, nil // e.g. the sale's till is down: no card this time
			}
			return 0, 0, fmt.Errorf("race: issue card at %s: %w", r.owner.name, err)
		}
		r.card, r.cardSeq = card, seqOf(a.Receipt)
	}
	// Race only at tills that hold the card (a cut-off till may not).
	var holding []*slot
	for _, s := range racers {
		th, _, _ := s.current()
		if th == nil {
			continue
		}
		if poll(ctx, time.Second, 20*time.Millisecond, func() (bool, error) {
			v, err := th.vector(ctx)
			return err == nil && v[r.ownerID] >= r.cardSeq, nil
		}) == nil {
			holding = append(holding, s)
		}
	}
	racers = holding
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, s := range racers {
		th, inc, _ := s.current()
		if th == nil {
			continue
		}
		key := h.key(s, inc, fmt.Sprintf("race-redeem-%d-%s", line, r.receipt))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) {
				return th.card(ctx, key, ledger.CardRedeem, r.card, raceRedeem, ledger.EventID{})
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, errRefused):
				no++
			case errors.Is(err, errAbandoned) || ctx.Err() != nil:
			default:
				if firstErr == nil {
					firstErr = fmt.Errorf("race: redeem at %s: %w", s.name, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	r.redeemed += ledger.Money(ok) * raceRedeem
	if r.redeemed > raceCard {
		return ok, no, fmt.Errorf("race: card %s redeemed %v of %v: over-spent", r.card, r.redeemed, raceCard)
	}
	return ok, no, firstErr
}

func (it *inprocTill) card(ctx context.Context, key string, op ledger.CardOp, card string, amount ledger.Money, sale ledger.EventID) (ackInfo, error) {
	return it.record(ctx, key, func() (ledger.Body, error) {
		m := &ledger.CardMove{Card: card, Account: ledger.GiftCard, Op: op, Currency: "EUR", Amount: amount, Staff: cashierID}
		if op == ledger.CardIssue {
			m.Source = &sale
		}
		return m, nil
	})
}

func (p *procTill) card(ctx context.Context, key string, op ledger.CardOp, card string, amount ledger.Money, sale ledger.EventID) (ackInfo, error) {
	req := ui.CardRequest{IdempotencyKey: key, Card: card, Amount: amount}
	path := "/api/cards/redeem"
	if op == ledger.CardIssue {
		req.Sale, path = sale.String(), "/api/cards/issue"
	}
	var v ui.CardView
	if err := p.post(ctx, cashierID, path, req, &v); err != nil {
		return ackInfo{}, err
	}
	id, err := ledger.ParseEventID(v.Event)
	if err != nil {
		return ackInfo{}, fmt.Errorf("%w: card answer: %v", errBadAnswer, err)
	}
	return ackInfo{ID: id, Receipt: v.Receipt, Replayed: v.Replayed}, nil
}

// seqOf reads the seq of a receipt number ("<till>-<seq>"); 0 if it is
// not one.
func seqOf(receipt string) uint64 {
	i := strings.LastIndexByte(receipt, '-')
	if i < 0 {
		return 0
	}
	n, _ := strconv.ParseUint(receipt[i+1:], 10, 64)
	return n
}
