package testnet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq"
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
//
// The offline part. "offline N" makes the store allow offline refunds
// (a supervisor approves them) up to N race units per till in 24 hours.
// "race N units=K sell" sells N new race sales of K units and waits until
// every running till holds them; after a partition, "race N offline"
// races them again: a racer cut off from the sale's till refunds it
// offline, approved by the manager, while the sale's side takes grants.
// The step fails if the sale's side refunds more than was sold, or a
// till's offline refunds pass the limit. "overspent" then holds the
// over-spend to the bound (each till at most the limit) and waits until
// HQ lists exactly the over-spent sales, each with the over-spent amount
// and an offline spend. Those sales' anomalies ("refunded 3 of 2") are
// what the policy allows, so check does not count them.

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
	price    ledger.Money // of one unit (the line has no discount)
	offline  int64        // units refunded offline (refunded counts the granted ones)
}

// offlineRace is the state of the offline part of the scenario.
type offlineRace struct {
	limit ledger.Money            // per till in 24 hours; 0 until an offline step
	batch []*racedSale            // the sales of the last "race ... sell"
	spent map[string]ledger.Money // offline refunds by till name
}

// overspentOffline reports whether a sale was refunded offline by the
// race (an anomaly the store's policy allowed).
func (h *harness) overspentOffline(id ledger.EventID) bool {
	for _, r := range h.offline.batch {
		if r.id == id {
			return r.offline > 0
		}
	}
	return false
}

// raceProduct is the product race sales sell: the first sold by the unit.
func (h *harness) raceProduct() crdt.Product {
	p := h.catalog[0]
	for _, c := range h.catalog {
		if !c.Weighed() {
			return c
		}
	}
	return p
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
	if st.Arg == "sell" {
		return h.raceSell(ctx, st)
	}
	offline := st.Arg == "offline"
	var open []*racedSale
	if offline {
		if h.offline.limit == 0 || len(h.offline.batch) == 0 {
			return "", errors.New("race offline: needs an offline step and a race ... sell before it")
		}
		open = h.offline.batch
	} else {
		for _, r := range h.raced {
			if r.refunded < r.qty {
				open = append(open, r)
			}
		}
	}
	for i := 0; len(open) < st.N; i++ {
		r, err := h.raceSale(ctx, slots[(len(h.raced)+i)%len(slots)], st.Line, len(h.raced)+i, st.Units)
		if err != nil {
			return "", err
		}
		h.raced = append(h.raced, r)
		open = append(open, r)
	}
	granted, offlines, refused, unseen, redeemed := 0, 0, 0, 0, 0
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
		ok, off, no, err := h.raceOne(ctx, racers, r, st.Line, offline)
		if err != nil {
			return "", err
		}
		r.offline += int64(off)
		offlines += off
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
	return fmt.Sprintf("%d sales raced: %d unit refunds (%d of them offline) and %d card redemptions recorded, %d refused, %d till(s) did not hold a sale",
		len(open), granted+offlines, offlines, redeemed, refused, unseen), nil
}

// raceSell sells st.N new race sales of st.Units units and waits until
// every running till of the store holds them: the batch the offline race
// refunds.
func (h *harness) raceSell(ctx context.Context, st Step) (string, error) {
	slots := h.stores[0].slots
	var batch []*racedSale
	for range st.N {
		r, err := h.raceSale(ctx, slots[len(h.raced)%len(slots)], st.Line, len(h.raced), st.Units)
		if err != nil {
			return "", err
		}
		h.raced = append(h.raced, r)
		batch = append(batch, r)
	}
	for _, s := range slots {
		th, _, _ := s.current()
		if th == nil {
			continue
		}
		err := poll(ctx, 20*time.Second, 20*time.Millisecond, func() (bool, error) {
			v, err := th.vector(ctx)
			if err != nil {
				return false, nil
			}
			for _, r := range batch {
				if v[r.ownerID] < r.seq {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return "", fmt.Errorf("race sell: %s does not hold the new race sales: %w", s.name, err)
		}
	}
	h.offline.batch = batch
	return fmt.Sprintf("%d race sales of %d units on every till", len(batch), batch[0].qty), nil
}

// allowOffline sets the store's policy to allow offline refunds up to
// st.N race units per till, at every running till (each holds the
// settings at once; they agree when they merge).
func (h *harness) allowOffline(ctx context.Context, st Step) (string, error) {
	limit := ledger.Money(st.N) * h.raceProduct().Price
	for _, s := range h.stores[0].slots {
		th, _, _ := s.current()
		if th == nil {
			continue
		}
		var err error
		switch t := th.(type) {
		case *inprocTill:
			err = t.t.PutSetting(ctx, node.SettingOfflineRefunds, "allow")
			if err == nil {
				err = t.t.PutSetting(ctx, node.SettingOfflineLimit, strconv.FormatInt(int64(limit), 10))
			}
		case *procTill:
			allow, l := true, int64(limit)
			err = t.put(ctx, managerID, "/api/settings", ui.SettingsChange{OfflineRefunds: &allow, OfflineLimit: &l})
		default:
			err = fmt.Errorf("till handle %T", th)
		}
		if err != nil {
			return "", fmt.Errorf("offline: settings at %s: %w", s.name, err)
		}
	}
	h.offline.limit, h.offline.spent = limit, map[string]ledger.Money{}
	return fmt.Sprintf("the store allows offline refunds up to %v per till", limit), nil
}

// overspent holds the offline race's over-spend to the bound and waits
// until HQ lists exactly the over-spent sales, with their amounts.
func (h *harness) overspent(ctx context.Context) (string, error) {
	o := &h.offline
	if o.limit == 0 || h.hq == nil {
		return "", errors.New("overspent: needs hq on, an offline step and an offline race before it")
	}
	want := map[ledger.EventID]ledger.Money{}
	var total ledger.Money
	for _, r := range o.batch {
		if u := r.refunded + r.offline - r.qty; u > 0 {
			want[r.id] = ledger.Money(u) * r.price
			total += want[r.id]
		}
	}
	tills := 0
	for name, v := range o.spent {
		if v > o.limit {
			return "", fmt.Errorf("overspent: %s refunded %v offline, above the store's limit of %v", name, v, o.limit)
		}
		if v > 0 {
			tills++
		}
	}
	switch {
	case len(want) == 0:
		return "", errors.New("overspent: the offline race over-spent nothing: it tested nothing")
	case total > ledger.Money(tills)*o.limit:
		return "", fmt.Errorf("overspent: %v over-spent by %d till(s) refunding offline, above %d x the limit %v", total, tills, tills, o.limit)
	}
	id := h.stores[0].file.ID
	var got []hq.StoreOverspend
	match := func() bool {
		if len(got) != len(want) {
			return false
		}
		for _, g := range got {
			offline := false
			for _, sp := range g.Spends {
				offline = offline || sp.Offline
			}
			if want[g.Sale] != g.Over || !offline {
				return false
			}
		}
		return true
	}
	if err := poll(ctx, 30*time.Second, 50*time.Millisecond, func() (bool, error) {
		got = h.hq.Overspends(ctx, &id) // what GET /hq/api/overspends answers
		return match(), nil
	}); err != nil {
		var b strings.Builder
		for _, g := range got {
			fmt.Fprintf(&b, " %s over %v (%d spends);", g.Sale.String()[:8], g.Over, len(g.Spends))
		}
		return "", fmt.Errorf("overspent: HQ lists%s want %d sales over %v in all: %w", b.String(), len(want), total, err)
	}
	return fmt.Sprintf("%d sales over-spent by %v in all (bound %d x %v), every one listed at HQ", len(want), total, tills, o.limit), nil
}

// raceSale sells one race sale at s, of units units (0: 2 x tills).
func (h *harness) raceSale(ctx context.Context, s *slot, line, n, units int) (*racedSale, error) {
	p := h.raceProduct()
	qty := int64(2 * len(s.st.slots))
	if units > 0 {
		qty = int64(units)
	}
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
	return &racedSale{id: a.ID, owner: s, ownerID: inc.id, seq: a.Seq, receipt: a.Receipt, qty: qty, price: p.Price}, nil
}

// raceOne sends one refund of one unit of r from each racer, released
// together, and counts the refunds recorded (granted and offline) and
// refused. With offline, a racer on another side of the partition than
// the sale's till refunds offline (doublespend.go's header).
func (h *harness) raceOne(ctx context.Context, racers []*slot, r *racedSale, line int, offline bool) (ok, off, no int, err error) {
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
		away := offline && s.st.group(s.idx) != s.st.group(r.owner.idx)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) {
				if away {
					return refundOffline(ctx, th, key, r)
				}
				return th.refund(ctx, key, r.id, []ledger.Pick{{Line: 0, Qty: 1}})
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && away:
				off++
				h.offline.spent[s.name] += r.price
				h.acked(s, inc, ledger.KindRefund, key, a)
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
	return ok, off, no, firstErr
}

// refundOffline refunds one unit of r offline, approved by the manager,
// as a till cut off from the sale's till does when the store allows it.
func refundOffline(ctx context.Context, th tillHandle, key string, r *racedSale) (ackInfo, error) {
	picks := []ledger.Pick{{Line: 0, Qty: 1}}
	switch t := th.(type) {
	case *inprocTill:
		return t.record(ctx, key, func() (ledger.Body, error) {
			var lines []ledger.RefundLine
			var err error
			t.t.View(func(s *ledger.State) { lines, err = s.Fold().RefundLines(r.id, picks) })
			if err != nil {
				return nil, err
			}
			var total ledger.Money
			for _, l := range lines {
				total += l.Amount
			}
			return &ledger.Refund{Sale: r.id, Currency: "EUR", Lines: lines, Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: total}},
				Reason: "testnet offline", Staff: cashierID, Offline: &ledger.OfflineSpend{Owner: r.ownerID, Approver: managerID}}, nil
		})
	case *procTill:
		var res ui.RefundResult
		req := ui.RefundRequest{IdempotencyKey: key, Sale: r.id.String(), Lines: picks, Tender: ledger.Cash, Reason: "testnet offline", Offline: true}
		req.Approver, req.ApproverPIN = managerID, pinOf(managerID)
		if err := t.post(ctx, cashierID, "/api/refunds", req, &res); err != nil {
			return ackInfo{}, err
		}
		return ackFromView(res.EventID, res.Receipt, res.Seq, res.Replayed, func(m map[string]int64) {
			for _, l := range res.Lines {
				m[l.SKU] += l.Qty
			}
		})
	}
	return ackInfo{}, fmt.Errorf("till handle %T", th)
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
