package ledger

import (
	"fmt"
	"sort"
)

// Spend is one refund or void of a sale, as an over-spend lists it.
type Spend struct {
	Till    TillID    `json:"till"`
	Seq     uint64    `json:"seq"`
	Event   EventID   `json:"event"`
	Kind    Kind      `json:"kind"`
	Amount  Money     `json:"amount"`
	Grant   *GrantRef `json:"grant,omitempty"`
	Offline bool      `json:"offline,omitempty"` // made without the owner's grant
}

// Overspend is a sale whose refunds and voids together gave back more
// than it took, or more units of a line than it sold: what happens only
// when tills refund without the owner's grant (offline, across a
// partition) or a till's chain is damaged. Limit is the sale's total,
// Spent what its refunds and voids gave back, Over what went back beyond
// each line's amount (or beyond the total, if more): 0 when only units
// are over, e.g. a line with no price.
type Overspend struct {
	Sale     EventID  `json:"sale"`
	Owner    TillID   `json:"owner"`
	OwnerSeq uint64   `json:"owner_seq"`
	Currency string   `json:"currency"`
	Limit    Money    `json:"limit"`
	Spent    Money    `json:"spent"`
	Over     Money    `json:"over"`
	Reasons  []string `json:"reasons"`
	Spends   []Spend  `json:"spends"`
}

// Overspends lists every sale with an anomaly (Anomalies) with the tills,
// events and amounts involved, ordered by sale ID. A sale or refund the
// index cannot read is reported as an error.
func (f *Fold) Overspends() ([]Overspend, error) {
	ids := make([]EventID, 0, len(f.anomalies))
	for id := range f.anomalies {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	out := make([]Overspend, 0, len(ids))
	for _, id := range ids {
		o, err := f.overspend(id)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (f *Fold) overspend(id EventID) (Overspend, error) {
	ev, sale, err := f.sale(id)
	if err != nil {
		return Overspend{}, err
	}
	t, _ := sale.Totals() // checked when applied
	o := Overspend{Sale: id, Owner: ev.Till, OwnerSeq: ev.Seq, Currency: sale.Currency, Limit: t.Total,
		Reasons: append([]string(nil), f.anomalies[id]...)}
	evs, err := f.st.idx.Settlements(id)
	if err != nil {
		return Overspend{}, indexErr("refunds of "+short(id), err)
	}
	byLine := map[int]Money{}
	for _, s := range evs {
		if !f.st.applied(s.Till, s.Seq) {
			continue
		}
		sp := Spend{Till: s.Till, Seq: s.Seq, Event: s.ID(), Kind: s.Kind()}
		switch b := s.Body.(type) {
		case *Refund:
			for _, l := range b.Lines {
				sp.Amount += l.Amount
				byLine[l.Line] += l.Amount
			}
			sp.Grant, sp.Offline = b.Grant, b.Offline != nil || b.Grant == nil
		case *Void:
			sp.Amount, sp.Offline = b.Total, true
		}
		o.Spent += sp.Amount
		o.Spends = append(o.Spends, sp)
	}
	sort.Slice(o.Spends, func(i, j int) bool {
		a, b := o.Spends[i], o.Spends[j]
		if a.Till != b.Till {
			return string(a.Till[:]) < string(b.Till[:])
		}
		return a.Seq < b.Seq
	})
	// Over is what went back beyond each line's amount, or beyond the
	// sale's total when a void is involved, whichever is more.
	for i, l := range t.Lines {
		if d := byLine[i] - l.Amount; d > 0 {
			o.Over += d
		}
	}
	if o.Spent-o.Limit > o.Over {
		o.Over = o.Spent - o.Limit
	}
	return o, nil
}

func (o Overspend) String() string {
	return fmt.Sprintf("sale %s: %v given back of %v (%v over) by %d refunds/voids", short(o.Sale), o.Spent, o.Limit, o.Over, len(o.Spends))
}
