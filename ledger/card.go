package ledger

import (
	"errors"
	"fmt"
	"sort"
)

// Gift cards and store credit. Every movement of a card's balance is a
// signed event of kind card (CardMove): issued (a gift card sold and
// activated, or store credit given by a refund), redeemed (a tender of a
// sale), or deactivated. A card's balance is a fold over every till's
// and HQ's card events for it (FoldCard), so any node holding the same
// events computes the same balance.
//
// The card's owner is the till that issued it (the earliest issue by
// HLC time, then till, then seq). A redemption at any till first takes
// the owner's grant for the amount, as a refund does for a sale (the
// owner serializes grants and holds them until used); so connected
// tills never redeem more than a balance. Redemptions are refused when
// the owner cannot be reached: a card is never spent offline.
//
// A sale pays with a card by a tender of kind GiftCardTender or
// StoreCreditTender whose Ref is the card number; the till records the
// card's redemption first, then the sale. Releases before the card kind
// refuse a sale with such a tender, so a till writes one only past the
// kind gate for KindCard (node's kind gate).

// KindCard is a movement of a gift card's or store credit's balance.
const KindCard Kind = "card"

// Tender kinds paid from a card. Ref is the card number.
const (
	GiftCardTender    TenderKind = "gift_card"
	StoreCreditTender TenderKind = "store_credit"
)

// Account is what a card holds.
type Account string

const (
	GiftCard    Account = "gift_card"
	StoreCredit Account = "store_credit"
	// Points are a customer's loyalty points: Card is the customer
	// number, Currency PointsCurrency, amounts whole points.
	Points Account = "points"
)

// PointsCurrency is the currency code of a points account.
const PointsCurrency = "PTS"

// CardOp is what a movement does.
type CardOp string

const (
	CardIssue      CardOp = "issue"      // adds Amount; Source is the sale or refund that paid for it
	CardRedeem     CardOp = "redeem"     // takes Amount, with the owner's Grant
	CardDeactivate CardOp = "deactivate" // no further redemptions
)

// MaxCardLen bounds a card number.
const MaxCardLen = 64

// CardMove is one movement of a card's balance.
type CardMove struct {
	Card     string  `cbor:"1,keyasint" json:"card"`
	Account  Account `cbor:"2,keyasint" json:"account"`
	Op       CardOp  `cbor:"3,keyasint" json:"op"`
	Currency string  `cbor:"4,keyasint" json:"currency"`
	Amount   Money   `cbor:"5,keyasint,omitempty" json:"amount,omitempty"`
	// Source is the sale that paid for a gift card, or the refund that
	// gave store credit (issue only).
	Source  *EventID      `cbor:"6,keyasint,omitempty" json:"source,omitempty"`
	Grant   *GrantRef     `cbor:"7,keyasint,omitempty" json:"grant,omitempty"`
	Offline *OfflineSpend `cbor:"8,keyasint,omitempty" json:"offline,omitempty"`
	Staff   string        `cbor:"9,keyasint" json:"staff"`
}

func (*CardMove) Kind() Kind { return KindCard }

func checkCardNumber(c string) error {
	if len(c) < 1 || len(c) > MaxCardLen {
		return invalid("card number %q: want 1..%d characters", c, MaxCardLen)
	}
	for _, r := range c {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-') {
			return invalid("card number %q: only letters, digits and -", c)
		}
	}
	return nil
}

func (m *CardMove) check() error {
	if err := checkCardNumber(m.Card); err != nil {
		return err
	}
	if err := checkCurrency(m.Currency); err != nil {
		return err
	}
	if err := checkStaff("staff", m.Staff, true); err != nil {
		return err
	}
	if m.Account != GiftCard && m.Account != StoreCredit && m.Account != Points {
		return invalid("card account %q: want gift_card, store_credit or points", m.Account)
	}
	if (m.Account == Points) != (m.Currency == PointsCurrency) {
		return invalid("a points account counts in %s, other cards in money", PointsCurrency)
	}
	if err := checkSpendRefs(m.Grant, m.Offline); err != nil {
		return err
	}
	switch m.Op {
	case CardIssue, CardRedeem:
		if m.Amount <= 0 || m.Amount > MaxPrice {
			return invalid("card %s: amount %v outside 0.01..%v", m.Op, m.Amount, Money(MaxPrice))
		}
	case CardDeactivate:
		if m.Amount != 0 {
			return invalid("card deactivate with amount %v", m.Amount)
		}
	default:
		return invalid("card op %q: want issue, redeem or deactivate", m.Op)
	}
	switch {
	case m.Op == CardIssue && (m.Source == nil || m.Source.IsZero()):
		return invalid("card issue names no sale or refund that paid for it")
	case m.Op != CardIssue && m.Source != nil:
		return invalid("card %s names a source", m.Op)
	case m.Op != CardRedeem && (m.Grant != nil || m.Offline != nil):
		return invalid("card %s names a grant", m.Op)
	}
	return nil
}

// CardBalance is the fold of one card's movements.
type CardBalance struct {
	Card     string  `json:"card"`
	Account  Account `json:"account,omitempty"`
	Currency string  `json:"currency,omitempty"`
	Owner    TillID  `json:"owner"` // the till that issued it first
	Issued   Money   `json:"issued"`
	Redeemed Money   `json:"redeemed"`
	Balance  Money   `json:"balance"` // Issued - Redeemed; negative only after an over-spend
	Active   bool    `json:"active"`  // issued and not deactivated
	Moves    int     `json:"moves"`
	// Redeems are the redemptions, for over-spend reports.
	Redeems []Spend `json:"redeems,omitempty"`
	issued  bool
}

// CardEntry is one movement of a card as the folds need it, small
// enough for a node to keep in its card index instead of reading every
// event again (CardEntries).
type CardEntry struct {
	Till     TillID        `cbor:"1,keyasint" json:"till"`
	Seq      uint64        `cbor:"2,keyasint" json:"seq"`
	Event    EventID       `cbor:"3,keyasint" json:"event"`
	Time     HLC           `cbor:"4,keyasint" json:"time"`
	Op       CardOp        `cbor:"5,keyasint" json:"op"`
	Account  Account       `cbor:"6,keyasint" json:"account"`
	Currency string        `cbor:"7,keyasint" json:"currency"`
	Amount   Money         `cbor:"8,keyasint,omitempty" json:"amount,omitempty"`
	Grant    *GrantRef     `cbor:"9,keyasint,omitempty" json:"grant,omitempty"`
	Offline  *OfflineSpend `cbor:"10,keyasint,omitempty" json:"offline,omitempty"`
}

// CardEntries returns the card movements an event makes, by card: a
// card event's one, and a refund's or a return's store-credit tenders
// (each issues credit on the card in its Ref).
func CardEntries(ev *Event) map[string][]CardEntry {
	at := CardEntry{Till: ev.Till, Seq: ev.Seq, Event: ev.ID(), Time: ev.Time}
	switch b := ev.Body.(type) {
	case *CardMove:
		e := at
		e.Op, e.Account, e.Currency, e.Amount, e.Grant, e.Offline = b.Op, b.Account, b.Currency, b.Amount, b.Grant, b.Offline
		return map[string][]CardEntry{b.Card: {e}}
	case *Refund:
		return creditEntries(at, b.Currency, b.Tenders)
	case *Return:
		return creditEntries(at, b.Currency, b.Tenders)
	}
	return nil
}

// creditEntries are the store credit issued by a refund's or a return's
// tenders, on the card in each one's Ref.
func creditEntries(at CardEntry, currency string, tenders []Tender) map[string][]CardEntry {
	var out map[string][]CardEntry
	for _, t := range tenders {
		if t.Kind != StoreCreditTender {
			continue
		}
		if out == nil {
			out = map[string][]CardEntry{}
		}
		e := at
		e.Op, e.Account, e.Currency, e.Amount = CardIssue, StoreCredit, currency, t.Amount
		out[t.Ref] = append(out[t.Ref], e)
	}
	return out
}

// FoldCard folds a card's movements, in any order and counting each
// event once (by ID): card events, and refunds and returns paid out as
// store credit on the card (they issue it). Other events are ignored.
func FoldCard(card string, evs []*Event) CardBalance {
	var es []CardEntry
	seen := map[EventID]bool{}
	for _, ev := range evs {
		if !seen[ev.ID()] {
			seen[ev.ID()] = true
			es = append(es, CardEntries(ev)[card]...)
		}
	}
	return FoldEntries(card, es)
}

// FoldEntries folds a card's movements given as entries (CardEntries of
// each event once), in any order.
func FoldEntries(card string, es []CardEntry) CardBalance {
	b := CardBalance{Card: card}
	deactivated := false
	var first *CardEntry
	for i := range es {
		e := &es[i]
		b.Moves++
		switch e.Op {
		case CardIssue:
			b.Issued += e.Amount
			if first == nil || earlierEntry(e, first) {
				first, b.Owner, b.Account, b.Currency = e, e.Till, e.Account, e.Currency
			}
		case CardRedeem:
			b.Redeemed += e.Amount
			b.Redeems = append(b.Redeems, Spend{Till: e.Till, Seq: e.Seq, Event: e.Event, Kind: KindCard,
				Amount: e.Amount, Grant: e.Grant, Offline: e.Grant == nil})
		case CardDeactivate:
			deactivated = true
		}
	}
	b.Balance = b.Issued - b.Redeemed
	b.issued = first != nil
	b.Active = b.issued && !deactivated
	sort.Slice(b.Redeems, func(i, j int) bool {
		x, y := b.Redeems[i], b.Redeems[j]
		if x.Till != y.Till {
			return string(x.Till[:]) < string(y.Till[:])
		}
		return x.Seq < y.Seq
	})
	return b
}

func earlierEntry(a, b *CardEntry) bool {
	if a.Time != b.Time {
		return a.Time.Before(b.Time)
	}
	if a.Till != b.Till {
		return string(a.Till[:]) < string(b.Till[:])
	}
	return a.Seq < b.Seq
}

// Overspend returns the card's over-spend (redeemed beyond issued), or
// false.
func (b CardBalance) Overspend() (CardOverspend, bool) {
	if b.Balance >= 0 {
		return CardOverspend{}, false
	}
	return CardOverspend{Card: b.Card, Owner: b.Owner, Currency: b.Currency, Limit: b.Issued, Spent: b.Redeemed,
		Over: -b.Balance, Spends: b.Redeems}, true
}

// CardOverspend is a card redeemed beyond what was issued on it.
type CardOverspend struct {
	Card     string  `json:"card"`
	Owner    TillID  `json:"owner"`
	Currency string  `json:"currency"`
	Limit    Money   `json:"limit"`
	Spent    Money   `json:"spent"`
	Over     Money   `json:"over"`
	Spends   []Spend `json:"spends"`
}

// CheckRedeem checks a redemption against a card's balance as the owner
// sees it, less what held grants reserve: an unknown card, a
// deactivated one, another currency or more than is left is refused.
func (b CardBalance) CheckRedeem(amount, held Money, currency string) error {
	switch {
	case !b.issued:
		return fmt.Errorf("%w: unknown card %s", ErrInvalidBody, b.Card)
	case !b.Active:
		return fmt.Errorf("%w: card %s is deactivated", ErrInvalidBody, b.Card)
	case currency != "" && currency != b.Currency:
		return fmt.Errorf("%w: card %s holds %s, not %s", ErrInvalidBody, b.Card, b.Currency, currency)
	case amount <= 0:
		return fmt.Errorf("%w: redeem %v from card %s: must be positive", ErrInvalidBody, amount, b.Card)
	case amount > b.Balance-held:
		return fmt.Errorf("%w: card %s has %v left, %v asked", ErrOverRedeem, b.Card, b.Balance-held, amount)
	}
	return nil
}

// ErrOverRedeem is a redemption above what is left on a card.
var ErrOverRedeem = errors.New("ledger: redemption above the card balance")

// EarnRule is a store's loyalty rule: PerUnit points for each whole
// currency unit (Unit minor units: 100 for EUR, 1 for UZS; 0 means 100)
// paid for lines whose SKU starts with none of Excluded (the catalog has
// no categories; stores number SKUs by category, so a prefix names one).
type EarnRule struct {
	PerUnit  int64
	Excluded []string
	Unit     Money
}

// paid is what the sale paid (after discounts, tax included) for the
// lines the rule counts; false when its totals do not add up.
func (r EarnRule) paid(s *Sale) (Money, bool) {
	t, err := s.Totals()
	if err != nil {
		return 0, false
	}
	var paid Money
	for i, l := range s.Lines {
		if r.counts(l.SKU) {
			paid += t.Lines[i].Amount
		}
	}
	return paid, true
}

// EarnPoints is what a sale earns its customer: PerUnit x the whole
// currency units (Unit) paid (after discounts, tax included) for the lines not
// excluded, rounded down. A sale without a customer earns nothing.
func (r EarnRule) EarnPoints(s *Sale) int64 {
	if s.Customer == "" || r.PerUnit <= 0 {
		return 0
	}
	paid, ok := r.paid(s)
	if !ok || paid <= 0 {
		return 0
	}
	unit := r.Unit
	if unit <= 0 {
		unit = 100
	}
	p, err := mulDivRound(int64(paid/unit), r.PerUnit, 1)
	if err != nil || p > MaxPrice {
		return MaxPrice
	}
	return p
}

// counts reports whether a line of this SKU earns points.
func (r EarnRule) counts(sku string) bool {
	for _, x := range r.Excluded {
		if x != "" && len(sku) >= len(x) && sku[:len(x)] == x {
			return false
		}
	}
	return true
}

// PointsBack is how many of the points a sale earned (earned, as its
// points event recorded them) a refund takes back: earned x the share of
// what the sale paid for the lines the rule counts that the refunds give
// back, counted over all the sale's refunds (before: the lines of its
// refunds before this one), each rounded half up, so refunds of the whole
// sale take back exactly what it earned, however it is split. The rule's
// exclusions are today's: a sale made under other exclusions is shared
// out by today's. A void takes back everything (earned).
func (r EarnRule) PointsBack(s *Sale, earned Money, before, this []RefundLine) Money {
	if earned <= 0 {
		return 0
	}
	paid, ok := r.paid(s)
	if !ok || paid <= 0 {
		return 0
	}
	given := func(ls []RefundLine) Money {
		var m Money
		for _, l := range ls {
			if l.Line >= 0 && l.Line < len(s.Lines) && r.counts(s.Lines[l.Line].SKU) {
				m += l.Amount
			}
		}
		return m
	}
	was := min(given(before), paid)
	now := min(was+given(this), paid)
	a, err1 := mulDivRound(int64(earned), int64(was), int64(paid))
	b, err2 := mulDivRound(int64(earned), int64(now), int64(paid))
	if err1 != nil || err2 != nil || b < a {
		return 0
	}
	return Money(b - a)
}
