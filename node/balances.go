package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/grant"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Gift cards and store credit (ledger/card.go). A card's balance is the
// fold of its movements, found through the ledger's card index. The till
// that issued a card owns it: a redemption anywhere takes the owner's
// grant for the amount first (the same grant book and protocol as
// refunds), and is refused when the owner cannot be reached.

// CardBalance folds a card's movements as this till holds them. A card
// with no movements here that is not of this chain (chainCard) is
// refused with ui.ErrNotFound, "card belongs to another chain".
func (t *Till) CardBalance(ctx context.Context, card string) (ledger.CardBalance, error) {
	b, err := t.cardBalance(ctx, card)
	if err == nil && b.Moves == 0 {
		if _, cerr := t.inv.Customer(card); cerr != nil { // a customer's points account: not a card number
			if err := t.chainCard(ctx, card); err != nil {
				return ledger.CardBalance{}, fmt.Errorf("%w: %v", ui.ErrNotFound, err)
			}
		}
	}
	return b, err
}

func (t *Till) cardBalance(_ context.Context, card string) (ledger.CardBalance, error) {
	es, err := t.db.CardEntries(card)
	if err != nil {
		return ledger.CardBalance{}, fmt.Errorf("%w: read card %s: %v", ui.ErrUnavailable, card, err)
	}
	return ledger.FoldEntries(card, es), nil
}

// SettingCardPrefixes lists the chain's card number prefixes.
const SettingCardPrefixes = ui.SettingCardPrefixes

// ErrForeignCard is a gift card or store credit number of another chain.
var ErrForeignCard = errors.New("card belongs to another chain")

// chainCard checks that a card number is of this chain: gift cards and
// store credit cards are numbered by ranges a chain buys (as payment
// cards are by issuer prefix), and the store's card_prefixes setting
// names them. A card that starts with none is another chain's: a clear
// error instead of "unknown card", before anything is asked of an owner.
// No setting (the default): every number is taken. A card that already
// has movements here is this chain's, whatever the prefixes say now.
func (t *Till) chainCard(ctx context.Context, card string) error {
	v, ok, err := t.Setting(ctx, SettingCardPrefixes)
	if err != nil || !ok {
		return nil
	}
	var ps []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if strings.HasPrefix(card, p) {
			return nil
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s starts with none of this chain's card prefixes (%s)", ErrForeignCard, card, strings.Join(ps, ", "))
}

// newCardOfChain checks a card number a movement names when the card has
// no movements here yet (issue, or store credit on a new card).
func (t *Till) newCardOfChain(ctx context.Context, card string) error {
	b, err := t.cardBalance(ctx, card)
	if err != nil || b.Moves > 0 {
		return err
	}
	if err := t.chainCard(ctx, card); err != nil {
		return fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	return nil
}

// beforeCard checks a card movement against the card as this till sees
// it, and takes the owner's grant for a redemption.
func (t *Till) beforeCard(ctx context.Context, m *ledger.CardMove, idem string) (time.Time, error) {
	if err := ledger.CheckBody(m); err != nil {
		return time.Time{}, err
	}
	b, err := t.cardBalance(ctx, m.Card)
	if err != nil {
		return time.Time{}, err
	}
	if b.Moves == 0 && m.Account != ledger.Points {
		if err := t.chainCard(ctx, m.Card); err != nil {
			return time.Time{}, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
		}
	}
	switch m.Op {
	case ledger.CardIssue:
		if b.Moves > 0 && !b.Active {
			return time.Time{}, fmt.Errorf("%w: card %s is deactivated", ui.ErrBadRequest, m.Card)
		}
		if b.Moves > 0 && (b.Account != m.Account || b.Currency != m.Currency) {
			return time.Time{}, fmt.Errorf("%w: card %s holds %s in %s, not %s in %s", ui.ErrBadRequest, m.Card, b.Account, b.Currency, m.Account, m.Currency)
		}
		var known bool
		t.db.View(func(st *ledger.State) {
			_, _, _, known = st.Fold().Sale(*m.Source)
		})
		if !known {
			if !t.redeemSource(m.Card, *m.Source) {
				return time.Time{}, fmt.Errorf("%w: card %s: the sale that paid for it is not known here", ui.ErrBadRequest, m.Card)
			}
		}
		return time.Time{}, nil
	case ledger.CardDeactivate:
		if !b.Active {
			return time.Time{}, fmt.Errorf("%w: card %s is unknown or already deactivated", ui.ErrBadRequest, m.Card)
		}
		return time.Time{}, nil
	}
	// A redemption.
	if m.Grant != nil || m.Offline != nil {
		return time.Time{}, fmt.Errorf("%w: a redemption's grant is asked for by the till, not sent in", ui.ErrBadRequest)
	}
	if err := b.CheckRedeem(m.Amount, 0, m.Currency); err != nil && !errors.Is(err, ledger.ErrOverRedeem) {
		return time.Time{}, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	if idem == "" {
		return time.Time{}, fmt.Errorf("%w: a redemption needs an idempotency key", ui.ErrBadRequest)
	}
	req := grant.Request{Card: m.Card, Amount: m.Amount, Currency: m.Currency, Key: idem}
	asked := time.Now()
	var res grant.Response
	if b.Owner == t.id {
		res = t.giveGrant(ctx, t.id, req)
	} else {
		p, ok := t.peerOf(b.Owner)
		if !ok {
			return time.Time{}, fmt.Errorf("%w: till %s, which issued card %s, cannot be reached; cards are not redeemed offline",
				ledger.ErrOwnerUnreachable, t.tillName(b.Owner.String()), m.Card)
		}
		actx, cancel := context.WithTimeout(ctx, grantTimeout)
		res, err = grant.Ask(actx, t.host.Host(), p, req)
		cancel()
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: till %s, which issued card %s, cannot be reached (%v); cards are not redeemed offline",
				ledger.ErrOwnerUnreachable, t.tillName(b.Owner.String()), m.Card, err)
		}
	}
	switch res.Code {
	case grant.CodeOverRedeem:
		return time.Time{}, fmt.Errorf("%w: %s", ledger.ErrOverRedeem, res.Error)
	case grant.CodeBadCard:
		return time.Time{}, fmt.Errorf("%w: %s", ui.ErrBadRequest, res.Error)
	}
	if err := grantError(res); err != nil {
		return time.Time{}, err
	}
	if res.Amount != m.Amount {
		return time.Time{}, fmt.Errorf("%w: the owner granted %v of %v", ui.ErrUnavailable, res.Amount, m.Amount)
	}
	ref := res.Ref
	m.Grant = &ref
	return asked.Add(grantUseWithin), nil
}

// redeemSource reports whether id is a redemption of card that this till
// made: a give-back (reverse) names it as the source of the card issue
// that returns the amount. The card's index has it; no chain is scanned.
func (t *Till) redeemSource(card string, id ledger.EventID) bool {
	es, err := t.db.CardEntries(card)
	if err != nil {
		return false
	}
	for _, e := range es {
		if e.Event == id && e.Op == ledger.CardRedeem && e.Till == t.id {
			return true
		}
	}
	return false
}

// giveCardGrant is the owner's answer to a redemption request: the
// card's balance less what unused grants hold must cover the amount.
// Called with the grant book's mutex held.
func (t *Till) giveCardGrant(ctx context.Context, from ledger.TillID, req grant.Request) grant.Response {
	b := &t.grants
	bal, err := t.cardBalance(ctx, req.Card)
	if err != nil {
		return grant.Response{Code: grant.CodeUnavailable, Error: err.Error()}
	}
	if bal.Moves == 0 {
		return grant.Response{Code: grant.CodeBadCard, Error: fmt.Sprintf("unknown card %s", req.Card)}
	}
	if bal.Owner != t.id {
		return grant.Response{Code: grant.CodeNotOwner, Error: fmt.Sprintf("card %s was issued at till %s", req.Card, t.tillName(bal.Owner.String()))}
	}
	used := map[ledger.GrantRef]bool{}
	for _, r := range bal.Redeems {
		if r.Grant != nil {
			used[*r.Grant] = true
		}
	}
	keep := b.cards[req.Card][:0]
	var held ledger.Money
	for _, g := range b.cards[req.Card] {
		if used[g.Ref] || t.releasable(g) {
			continue
		}
		keep = append(keep, g)
		held += g.Amount
	}
	b.cards[req.Card] = keep
	if err := bal.CheckRedeem(req.Amount, held, req.Currency); err != nil {
		code := grant.CodeBadCard
		if errors.Is(err, ledger.ErrOverRedeem) {
			code = grant.CodeOverRedeem
		}
		return grant.Response{Code: code, Error: err.Error()}
	}
	g := ledgerdb.Grant{Ref: ledger.GrantRef{Owner: t.id, N: b.next}, Card: req.Card, Amount: req.Amount, Requester: from,
		Key: req.Key, Made: t.cfg.Now().UnixMilli()}
	if err := t.db.PutGrant(g); err != nil {
		return grant.Response{Code: grant.CodeUnavailable, Error: err.Error()}
	}
	b.next++
	b.cards[req.Card] = append(b.cards[req.Card], g)
	b.byKey[grantKey{from, req.Key}] = g
	return grant.Response{Ref: g.Ref, Amount: g.Amount}
}

// beforeSale redeems the card tenders of a sale before it is recorded:
// past the kind gate (older releases refuse a sale with such a tender),
// each card tender becomes a redemption with the owner's grant. It
// returns the redemptions, to reverse if the sale is then not recorded.
func (t *Till) beforeSale(ctx context.Context, s *ledger.Sale, idem string) ([]*ledger.Event, error) {
	var cards []int
	for i, tn := range s.Tenders {
		if tn.Kind == ledger.GiftCardTender || tn.Kind == ledger.StoreCreditTender {
			cards = append(cards, i)
		}
	}
	if len(cards) == 0 {
		return nil, nil
	}
	if err := t.kindAllowed(ctx, ledger.KindCard); err != nil {
		return nil, fmt.Errorf("%w (a sale paid by gift card or store credit)", err)
	}
	if err := ledger.CheckBody(s); err != nil {
		return nil, err
	}
	if idem == "" {
		return nil, fmt.Errorf("%w: a sale paid by card needs an idempotency key", ui.ErrBadRequest)
	}
	var done []*ledger.Event
	for _, i := range cards {
		tn := s.Tenders[i]
		acct := ledger.GiftCard
		if tn.Kind == ledger.StoreCreditTender {
			acct = ledger.StoreCredit
		}
		m := &ledger.CardMove{Card: tn.Ref, Account: acct, Op: ledger.CardRedeem, Currency: s.Currency, Amount: tn.Amount, Staff: s.Staff}
		ev, _, err := t.Record(ctx, m, fmt.Sprintf("%s/tender/%d", idem, i))
		if err != nil {
			t.reverse(ctx, done, idem)
			return nil, fmt.Errorf("tender %d (card %s): %w", i+1, tn.Ref, err)
		}
		done = append(done, ev)
	}
	return done, nil
}

// reverse gives back redemptions whose sale was not recorded.
func (t *Till) reverse(ctx context.Context, evs []*ledger.Event, idem string) {
	for _, ev := range evs {
		m := ev.Body.(*ledger.CardMove)
		id := ev.ID()
		back := &ledger.CardMove{Card: m.Card, Account: m.Account, Op: ledger.CardIssue, Currency: m.Currency, Amount: m.Amount,
			Source: &id, Staff: m.Staff}
		if _, _, err := t.Record(ctx, back, fmt.Sprintf("%s/reverse/%d", idem, ev.Seq)); err != nil {
			t.log.Error("card redemption of a sale that was not recorded could not be given back", "card", m.Card,
				"amount", m.Amount.String(), "err", err)
		}
	}
}

// cardLeft is the balance now left on each card a sale paid with, for
// its receipt (hw/receipt prints it under the tender).
func (t *Till) cardLeft(s *ledger.Sale) map[string]ledger.Money {
	var out map[string]ledger.Money
	for _, tn := range s.Tenders {
		if tn.Kind != ledger.GiftCardTender && tn.Kind != ledger.StoreCreditTender {
			continue
		}
		b, err := t.cardBalance(context.Background(), tn.Ref)
		if err != nil {
			t.log.Warn("receipt: card balance", "card", tn.Ref, "err", err)
			continue
		}
		if out == nil {
			out = map[string]ledger.Money{}
		}
		out[tn.Ref] = b.Balance
	}
	return out
}

func paidByCard(s *ledger.Sale) bool {
	for _, tn := range s.Tenders {
		if tn.Kind == ledger.GiftCardTender || tn.Kind == ledger.StoreCreditTender {
			return true
		}
	}
	return false
}

// Loyalty points: a sale naming a customer earns points by the store's
// rule (settings loyalty_points_per_unit and loyalty_excluded_skus),
// recorded as a card event of account points on the customer's number
// right after the sale, and spent once like a gift card (the till that
// first credited the customer owns the account). A crash between the
// sale and the points event loses those points (shown in the logs). A
// refund or void takes the points of what it gives back (points.go).
const (
	SettingLoyaltyPerUnit = ui.SettingLoyaltyPerUnit
	SettingLoyaltyExclude = ui.SettingLoyaltyExclude // comma-separated SKU prefixes
)

func (t *Till) earnRule(ctx context.Context) ledger.EarnRule {
	var r ledger.EarnRule
	if c, err := i18n.LookupCurrency(t.currency(ctx)); err == nil {
		r.Unit = c.Unit() // points per whole so'm, not per 100
	}
	if v, ok, err := t.Setting(ctx, SettingLoyaltyPerUnit); err == nil && ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > 0 && n <= 10_000 {
			r.PerUnit = n
		}
	}
	if v, ok, err := t.Setting(ctx, SettingLoyaltyExclude); err == nil && ok {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				r.Excluded = append(r.Excluded, x)
			}
		}
	}
	return r
}

// earnPoints records what a recorded sale earns its customer.
func (t *Till) earnPoints(ctx context.Context, ev *ledger.Event, idem string) {
	s, ok := ev.Body.(*ledger.Sale)
	if !ok || s.Customer == "" {
		return
	}
	pts := t.earnRule(ctx).EarnPoints(s)
	if pts <= 0 {
		return
	}
	id := ev.ID()
	m := &ledger.CardMove{Card: s.Customer, Account: ledger.Points, Op: ledger.CardIssue, Currency: ledger.PointsCurrency,
		Amount: ledger.Money(pts), Source: &id, Staff: s.Staff}
	key := idem + "/points"
	if idem == "" {
		key = "points/" + id.String()
	}
	if _, _, err := t.Record(ctx, m, key); err != nil {
		t.log.Warn("loyalty points not credited", "customer", s.Customer, "points", pts, "sale", ev.Seq, "err", err)
	}
}

// CardOverspends lists the cards (gift cards, store credit, points)
// redeemed beyond what was issued on them, for the manager's report.
// It reads every card's movements.
func (t *Till) CardOverspends(context.Context) ([]ledger.CardOverspend, error) {
	var out []ledger.CardOverspend
	err := t.db.EachCard(func(card string, es []ledger.CardEntry) {
		if o, ok := ledger.FoldEntries(card, es).Overspend(); ok {
			out = append(out, o)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%w: read cards: %v", ui.ErrUnavailable, err)
	}
	return out, nil
}
