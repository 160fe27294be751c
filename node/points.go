package node

import (
	"context"
	"errors"

	"github.com/tillmesh/tillmesh/ledger"
)

// Loyalty points back. A refund of a sale that earned points takes back
// the refunded share of them (ledger.EarnRule.PointsBack), a void all of
// them: right after the refund or void is recorded, this till records a
// redemption of the customer's points account (a card event, with the
// account owner's grant like any redemption), idempotency key
// "<refund's key>/points-back". What it takes is capped at the balance:
// points the customer already spent are not taken back (the balance
// never goes below zero by a refund); the shortfall is logged at WARN
// with the customer and the refund, and the refund itself is never
// refused for it (docs/ARCHITECTURE.md, "Loyalty points back").
//
// Like earning, it is best effort after the money event: a crash
// between the refund and its points event, or the points account's
// owner out of reach, leaves the points with the customer (logged).

// pointsBackFor returns Record's after hook for a refund or void.
func (t *Till) pointsBackFor(ctx context.Context, idem string) func(*ledger.Event, bool, error) {
	return func(ev *ledger.Event, existing bool, err error) {
		if err == nil && !existing && ev != nil {
			t.takePointsBack(context.WithoutCancel(ctx), ev, idem)
		}
	}
}

func (t *Till) takePointsBack(ctx context.Context, ev *ledger.Event, idem string) {
	var saleID ledger.EventID
	var this []ledger.RefundLine
	var staff string
	void := false
	switch b := ev.Body.(type) {
	case *ledger.Refund:
		saleID, this, staff = b.Sale, b.Lines, b.Staff
	case *ledger.Void:
		saleID, void, staff = b.Sale, true, b.Staff
		if staff == "" {
			staff = b.Manager
		}
	default:
		return
	}
	var sale *ledger.Sale
	var till ledger.TillID
	var seq uint64
	var ok bool
	var rem []ledger.Remaining
	t.db.View(func(st *ledger.State) {
		f := st.Fold()
		if sale, till, seq, ok = f.Sale(saleID); ok && !void {
			rem, _ = f.Refundable(saleID)
		}
	})
	if !ok || sale.Customer == "" {
		return
	}
	earned, err := t.earnedBy(sale.Customer, saleID, till, seq)
	if err != nil {
		t.log.Warn("loyalty points not taken back: read the points the sale earned", "customer", sale.Customer, "seq", ev.Seq, "err", err)
		return
	}
	back := earned
	if !void {
		back = t.earnRule(ctx).PointsBack(sale, earned, refundedBefore(sale, rem, this), this)
	}
	if back <= 0 {
		return
	}
	bal, err := t.cardBalance(ctx, sale.Customer)
	if err != nil {
		t.log.Warn("loyalty points not taken back", "customer", sale.Customer, "points", int64(back), "seq", ev.Seq, "err", err)
		return
	}
	take := min(back, bal.Balance)
	if take < back {
		t.log.Warn("loyalty points already spent: taken back what is left", "customer", sale.Customer,
			"due", int64(back), "taken", int64(max(take, 0)), "seq", ev.Seq)
	}
	if take <= 0 {
		return
	}
	if staff == "" {
		staff = "api"
	}
	key := idem + "/points-back"
	if idem == "" {
		key = "points-back/" + ev.ID().String()
	}
	m := &ledger.CardMove{Card: sale.Customer, Account: ledger.Points, Op: ledger.CardRedeem, Currency: ledger.PointsCurrency,
		Amount: take, Staff: staff}
	if _, _, err := t.Record(ctx, m, key); err != nil {
		lvl := "loyalty points not taken back"
		if errors.Is(err, ledger.ErrOverRedeem) {
			lvl = "loyalty points not taken back: the rest of the balance is being spent elsewhere"
		}
		t.log.Warn(lvl, "customer", sale.Customer, "points", int64(take), "seq", ev.Seq, "err", err)
	}
}

// earnedBy returns the points a sale earned: the points issue that names
// it as its source, recorded by the sale's till after it.
func (t *Till) earnedBy(customer string, sale ledger.EventID, till ledger.TillID, seq uint64) (ledger.Money, error) {
	es, err := t.db.CardEntries(customer)
	if err != nil {
		return 0, err
	}
	for _, e := range es {
		if e.Op != ledger.CardIssue || e.Account != ledger.Points || e.Till != till || e.Seq <= seq {
			continue
		}
		ev, err := t.db.Get(e.Till, e.Seq)
		if err != nil {
			return 0, err
		}
		if m, ok := ev.Body.(*ledger.CardMove); ok && m.Source != nil && *m.Source == sale {
			return m.Amount, nil
		}
	}
	return 0, nil
}

// refundedBefore returns, as refund lines, what the sale's refunds gave
// back before this one: the sale's line amounts less what remains, less
// this refund's lines.
func refundedBefore(s *ledger.Sale, rem []ledger.Remaining, this []ledger.RefundLine) []ledger.RefundLine {
	t, err := s.Totals()
	if err != nil || len(rem) != len(s.Lines) {
		return nil
	}
	out := make([]ledger.RefundLine, len(s.Lines))
	for i := range s.Lines {
		out[i] = ledger.RefundLine{Line: i, Amount: t.Lines[i].Amount - rem[i].Amount}
	}
	for _, l := range this {
		if l.Line >= 0 && l.Line < len(out) {
			out[l.Line].Amount -= l.Amount
		}
	}
	return out
}
