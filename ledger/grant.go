package ledger

import (
	"errors"
	"fmt"
)

// Spent once. Each sale's refundable remainder has an owner: the till
// that made the sale. A refund names the owner's grant (GrantRef): the
// owner hands out grants one at a time per sale, each for at most what
// remains less what its earlier grants still hold (GrantLines), and
// keeps them durably before answering. A refund made while the owner
// could not be reached carries OfflineSpend instead; those are the only
// refunds that can take a sale over its total, and Fold.Overspends
// reports every such case with its tills, events and amounts.

// ErrOwnerUnreachable is returned when a spend needs the owner's grant
// and the owner cannot be reached.
var ErrOwnerUnreachable = errors.New("ledger: owner unreachable")

// GrantRef names one grant: the owner (the till that made the sale) and
// the grant's number, unique per owner and never reused.
type GrantRef struct {
	Owner TillID `cbor:"1,keyasint" json:"owner"`
	N     uint64 `cbor:"2,keyasint" json:"n"`
}

func (g GrantRef) String() string { return fmt.Sprintf("%s/%d", g.Owner.Short(), g.N) }

// OfflineSpend marks a refund made without the owner's grant, with the
// supervisor who approved it.
type OfflineSpend struct {
	Owner    TillID `cbor:"1,keyasint" json:"owner"`
	Approver string `cbor:"2,keyasint" json:"approver"`
}

func checkSpendRefs(g *GrantRef, o *OfflineSpend) error {
	switch {
	case g != nil && o != nil:
		return invalid("a spend names both a grant and an offline approval")
	case g != nil && g.N == 0:
		return invalid("grant number 0")
	case o != nil:
		if o.Approver == "" {
			return invalid("offline spend without an approver")
		}
		return checkStaff("approver", o.Approver, true)
	}
	return nil
}

// GrantLines computes the refund lines an owner may grant for picks of a
// sale: what remains refundable (every applied refund counted) less what
// held grants, not yet seen as refunds, still reserve; amounts and tax
// prorated from that. It fails with ErrOverRefund when a pick exceeds it.
// With no held grants it equals RefundLines.
func (f *Fold) GrantLines(sale EventID, ps []Pick, held [][]RefundLine) ([]RefundLine, error) {
	rem, b, done, err := f.refundable(sale)
	if err != nil {
		return nil, err
	}
	if done.voids > 0 {
		return nil, fmt.Errorf("%w: %s", ErrAlreadyVoided, short(sale))
	}
	for _, h := range held {
		for _, l := range h {
			if l.Line < 0 || l.Line >= len(rem) {
				continue
			}
			r := &rem[l.Line]
			r.Qty -= l.Qty
			r.Amount -= l.Amount
			r.Tax -= l.Tax
			if r.Qty <= 0 {
				r.Qty, r.Amount, r.Tax = 0, 0, 0
			}
		}
	}
	out := make([]RefundLine, len(ps))
	seen := map[int]bool{}
	for i, p := range ps {
		if p.Line < 0 || p.Line >= len(rem) || seen[p.Line] {
			return nil, fmt.Errorf("%w: sale %s has no line %d, or it is picked twice", ErrInvalidBody, short(sale), p.Line)
		}
		seen[p.Line] = true
		r := rem[p.Line]
		if p.Qty <= 0 || p.Qty > r.Qty {
			return nil, fmt.Errorf("%w: line %d: %d asked, %d remain", ErrOverRefund, p.Line, p.Qty, r.Qty)
		}
		amt, err := Prorate(r.Amount, p.Qty, r.Qty)
		if err != nil {
			return nil, err
		}
		tax, err := Prorate(r.Tax, p.Qty, r.Qty)
		if err != nil {
			return nil, err
		}
		out[i] = RefundLine{Line: p.Line, SKU: r.SKU, Qty: p.Qty, Amount: amt, Tax: tax, Rate: b.Lines[p.Line].TaxRate}
	}
	return out, nil
}

// UsedGrants returns the grants that the applied refunds of a sale name.
func (f *Fold) UsedGrants(sale EventID) (map[GrantRef]bool, error) {
	evs, err := f.st.idx.Settlements(sale)
	if err != nil {
		return nil, indexErr("refunds of "+short(sale), err)
	}
	out := map[GrantRef]bool{}
	for _, ev := range evs {
		if r, ok := ev.Body.(*Refund); ok && r.Grant != nil && f.st.applied(ev.Till, ev.Seq) {
			out[*r.Grant] = true
		}
	}
	return out, nil
}

// checkGranted holds a refund that names a grant to what this till sees:
// the owner computed its amounts from a view that may hold refunds this
// till has not received yet, so each line must fit within what remains
// here, with the sale line's SKU and rate, rather than equal the
// proration this till would make.
func (f *Fold) checkGranted(b *Refund) error {
	rem, sale, done, err := f.refundable(b.Sale)
	if err != nil {
		return err
	}
	if done.voids > 0 {
		return fmt.Errorf("%w: %s", ErrAlreadyVoided, short(b.Sale))
	}
	if sale.Currency != b.Currency {
		return fmt.Errorf("%w: refund in %s of a sale in %s", ErrInvalidBody, b.Currency, sale.Currency)
	}
	if b.Grant.Owner != f.ownerOf(b.Sale) {
		return fmt.Errorf("%w: grant %s is not from the sale's till", ErrInvalidBody, b.Grant)
	}
	for i, l := range b.Lines {
		if l.Line >= len(rem) {
			return fmt.Errorf("%w: sale %s has no line %d", ErrInvalidBody, short(b.Sale), l.Line)
		}
		r := rem[l.Line]
		switch {
		case l.Qty > r.Qty:
			return fmt.Errorf("%w: line %d: %d asked, %d remain", ErrOverRefund, l.Line, l.Qty, r.Qty)
		case l.Amount > r.Amount || l.Tax > r.Tax:
			return fmt.Errorf("%w: refund line %d: amount %v tax %v above what remains (%v, %v)", ErrInvalidBody, i+1, l.Amount, l.Tax, r.Amount, r.Tax)
		case l.SKU != r.SKU || l.Rate != sale.Lines[l.Line].TaxRate:
			return fmt.Errorf("%w: refund line %d does not copy sale line %d", ErrInvalidBody, i+1, l.Line)
		}
	}
	return nil
}

// ownerOf returns the till that made an applied sale (zero if unknown).
func (f *Fold) ownerOf(sale EventID) TillID {
	ev, _, err := f.sale(sale)
	if err != nil {
		return TillID{}
	}
	return ev.Till
}
