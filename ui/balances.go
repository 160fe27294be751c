package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
)

// offlineRefund handles a refund whose sale's till (its owner) could not
// be reached for a grant. Unless the request asks for an offline refund
// the cashier is told so (503, need "offline"); if it does, a supervisor
// (PermRefundOffline) must approve and the till records it without a
// grant, as an offline spend, when the store's policy and offline limit
// allow (node/grants.go). Every such refund that takes a sale over what
// it took is reported as an over-spend.
func (a *API) offlineRefund(r *http.Request, s *session, req RefundRequest, sale *ledger.Event, body *ledger.Refund, cause error) (*ledger.Event, bool, error) {
	if !req.Offline {
		return nil, false, &needError{status: http.StatusServiceUnavailable, need: "offline", reason: cause.Error()}
	}
	var total ledger.Money
	for _, l := range body.Lines {
		total += l.Amount
	}
	by, err := a.authorize(r.Context(), r, s, req.approval, fmt.Sprintf("an offline refund of %v", total), PermRefundOffline)
	if err != nil {
		return nil, false, err
	}
	if by == "" {
		return nil, false, errors.New("offline refund approved by nobody")
	}
	body.Offline = &ledger.OfflineSpend{Owner: sale.Till, Approver: by}
	ev, existing, err := a.till.Record(r.Context(), body, req.IdempotencyKey)
	if err == nil {
		a.log.Warn("offline refund: the sale's till could not be reached", "sale", a.receiptNo(sale.Till, sale.Seq),
			"approved_by", by, "total", total.String())
	}
	return ev, existing, err
}

// OverspendView is a ledger.Overspend with receipt numbers, for the
// manager's screen and GET /api/reports.
type OverspendView struct {
	Sale     string       `json:"sale"` // receipt number
	SaleID   string       `json:"sale_id"`
	Owner    uint32       `json:"owner"` // the till that made the sale
	Currency string       `json:"currency"`
	Limit    ledger.Money `json:"limit"`
	Spent    ledger.Money `json:"spent"`
	Over     ledger.Money `json:"over"`
	Reasons  []string     `json:"reasons"`
	Spends   []SpendView  `json:"spends"`
}

// SpendView is one refund or void of an over-spent sale.
type SpendView struct {
	Receipt string       `json:"receipt"`
	EventID string       `json:"event_id"`
	Till    uint32       `json:"till"`
	Kind    ledger.Kind  `json:"kind"`
	Amount  ledger.Money `json:"amount"`
	Grant   string       `json:"grant,omitempty"`
	Offline bool         `json:"offline,omitempty"` // made without the owner's grant
}

func (a *API) overspendViews(os []ledger.Overspend) []OverspendView {
	out := make([]OverspendView, 0, len(os))
	for _, o := range os {
		v := OverspendView{Sale: a.receiptNo(o.Owner, o.OwnerSeq), SaleID: o.Sale.String(),
			Owner: a.till.TillNumber(o.Owner), Currency: o.Currency, Limit: o.Limit, Spent: o.Spent, Over: o.Over,
			Reasons: o.Reasons, Spends: []SpendView{}}
		for _, s := range o.Spends {
			sv := SpendView{Receipt: a.receiptNo(s.Till, s.Seq), EventID: s.Event.String(),
				Till: a.till.TillNumber(s.Till), Kind: s.Kind, Amount: s.Amount, Offline: s.Offline}
			if s.Grant != nil {
				sv.Grant = s.Grant.String()
			}
			v.Spends = append(v.Spends, sv)
		}
		out = append(out, v)
	}
	return out
}

// Cards is what a till offers for gift cards and store credit; node
// implements it. A till without it answers 501 on the card routes.
type Cards interface {
	// CardBalance folds a card's movements as the till holds them.
	CardBalance(ctx context.Context, card string) (ledger.CardBalance, error)
	// CardOverspends lists the cards redeemed beyond what was issued.
	CardOverspends(ctx context.Context) ([]ledger.CardOverspend, error)
}

// cardLeft is the balance now left on each card a sale paid with (nil
// for none, or a till without cards), for the receipt.
func (a *API) cardLeft(s *ledger.Sale) map[string]ledger.Money {
	c, ok := a.till.(Cards)
	if !ok {
		return nil
	}
	var out map[string]ledger.Money
	for _, tn := range s.Tenders {
		if tn.Kind != ledger.GiftCardTender && tn.Kind != ledger.StoreCreditTender {
			continue
		}
		b, err := c.CardBalance(context.Background(), tn.Ref)
		if err != nil {
			a.log.Warn("receipt: card balance", "card", tn.Ref, "err", err)
			continue
		}
		if out == nil {
			out = map[string]ledger.Money{}
		}
		out[tn.Ref] = b.Balance
	}
	return out
}

// cardOverspends is the report's list of over-spent cards (empty for a
// till without cards).
func (a *API) cardOverspends(ctx context.Context) []CardOverspendView {
	out := []CardOverspendView{}
	c, ok := a.till.(Cards)
	if !ok {
		return out
	}
	os, err := c.CardOverspends(ctx)
	if err != nil {
		a.log.Warn("report: card over-spends", "err", err)
		return out
	}
	for _, o := range os {
		v := CardOverspendView{Card: o.Card, Owner: a.till.TillNumber(o.Owner), Currency: o.Currency, Limit: o.Limit,
			Spent: o.Spent, Over: o.Over, Spends: []SpendView{}}
		for _, s := range o.Spends {
			sv := SpendView{Receipt: a.receiptNo(s.Till, s.Seq), EventID: s.Event.String(),
				Till: a.till.TillNumber(s.Till), Kind: s.Kind, Amount: s.Amount, Offline: s.Offline}
			if s.Grant != nil {
				sv.Grant = s.Grant.String()
			}
			v.Spends = append(v.Spends, sv)
		}
		out = append(out, v)
	}
	return out
}

// CardOverspendView is a card redeemed beyond what was issued on it.
type CardOverspendView struct {
	Card     string       `json:"card"`
	Owner    uint32       `json:"owner"`
	Currency string       `json:"currency"`
	Limit    ledger.Money `json:"limit"`
	Spent    ledger.Money `json:"spent"`
	Over     ledger.Money `json:"over"`
	Spends   []SpendView  `json:"spends"`
}

func (a *API) cardRoutes(h func(string, access, handlerFunc), p func(string, Permission, handlerFunc)) {
	h("GET /api/cards/{card}", staff, a.getCard)
	h("POST /api/cards/issue", staff, a.postCardIssue)
	h("POST /api/cards/redeem", staff, a.postCardRedeem)
	p("POST /api/cards/deactivate", PermVoid, a.postCardDeactivate)
}

func (a *API) cards(w http.ResponseWriter, r *http.Request) (Cards, bool) {
	c, ok := a.till.(Cards)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this till has no gift cards")
	}
	return c, ok
}

// CardView is a card's balance as GET /api/cards/{card} and the card
// routes answer it.
type CardView struct {
	Card     string         `json:"card"`
	Account  ledger.Account `json:"account,omitempty"`
	Currency string         `json:"currency,omitempty"`
	Owner    uint32         `json:"owner,omitempty"` // the till that issued it
	Issued   ledger.Money   `json:"issued"`
	Redeemed ledger.Money   `json:"redeemed"`
	Balance  ledger.Money   `json:"balance"`
	Active   bool           `json:"active"`
	Moves    int            `json:"moves"`
	// Event is the movement a POST recorded; Receipt its number.
	Event    string `json:"event_id,omitempty"`
	Receipt  string `json:"receipt,omitempty"`
	Replayed bool   `json:"replayed,omitempty"`
}

func (a *API) cardView(ctx context.Context, c Cards, card string) (CardView, error) {
	b, err := c.CardBalance(ctx, card)
	if err != nil {
		return CardView{}, err
	}
	v := CardView{Card: card, Account: b.Account, Currency: b.Currency, Issued: b.Issued, Redeemed: b.Redeemed,
		Balance: b.Balance, Active: b.Active, Moves: b.Moves}
	if b.Moves > 0 {
		v.Owner = a.till.TillNumber(b.Owner)
	}
	return v, nil
}

func cardNumber(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", badRequest("which card? scan or type its number")
	}
	if err := ledger.CheckBody(&ledger.CardMove{Card: s, Account: ledger.GiftCard, Op: ledger.CardDeactivate, Currency: "EUR", Staff: "x"}); err != nil {
		return "", badRequest("%v", err)
	}
	return s, nil
}

func (a *API) getCard(w http.ResponseWriter, r *http.Request, _ *session) {
	c, ok := a.cards(w, r)
	if !ok {
		return
	}
	card, err := cardNumber(r.PathValue("card"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.cardView(r.Context(), c, card)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if v.Moves == 0 {
		a.fail(w, r, fmt.Errorf("%w: unknown card %s", ErrNotFound, card))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// CardRequest is the body of the card routes. Issue activates a gift
// card sold by the sale Sale names (its receipt), for Amount; redeem
// takes Amount off the card (a sale paid by card does this itself, from
// a tender of kind gift_card or store_credit whose ref is the card);
// deactivate stops a card.
type CardRequest struct {
	IdempotencyKey string       `json:"idempotency_key"`
	Card           string       `json:"card"`
	Amount         ledger.Money `json:"amount,omitempty"`
	Sale           string       `json:"sale,omitempty"`
	Account        string       `json:"account,omitempty"` // redeem: gift_card (default) or store_credit
	approval
}

func (a *API) cardMove(w http.ResponseWriter, r *http.Request, s *session, op ledger.CardOp, build func(req CardRequest, card string) (*ledger.CardMove, error)) {
	c, ok := a.cards(w, r)
	if !ok {
		return
	}
	var req CardRequest
	if !decode(w, r, &req) {
		return
	}
	ev, ok := a.replayOf(w, r, req.IdempotencyKey)
	if !ok {
		return
	}
	replayed := ev != nil
	if ev == nil {
		card, err := cardNumber(req.Card)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if op != ledger.CardDeactivate && (req.Amount <= 0 || req.Amount > ledger.MaxPrice) {
			a.fail(w, r, badRequest("amount %v: want 0.01..%v", req.Amount, ledger.Money(ledger.MaxPrice)))
			return
		}
		m, err := build(req, card)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		m.Card, m.Op, m.Staff = card, op, s.staff.ID
		if ev, _, err = a.till.Record(r.Context(), m, req.IdempotencyKey); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	m, isCard := ev.Body.(*ledger.CardMove)
	if !isCard || m.Op != op {
		a.fail(w, r, a.reused(ev))
		return
	}
	v, err := a.cardView(r.Context(), c, m.Card)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v.Event, v.Receipt, v.Replayed = ev.ID().String(), a.receiptNo(ev.Till, ev.Seq), replayed
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	a.log.Info("card", "op", op, "card", m.Card, "amount", m.Amount.String(), "staff", s.staff.ID)
	writeJSON(w, status, v)
}

func (a *API) postCardIssue(w http.ResponseWriter, r *http.Request, s *session) {
	a.cardMove(w, r, s, ledger.CardIssue, func(req CardRequest, _ string) (*ledger.CardMove, error) {
		sale, err := a.resolve(req.Sale)
		if err != nil {
			return nil, err
		}
		sb, ok := sale.Body.(*ledger.Sale)
		if !ok {
			return nil, badRequest("%s is not a sale", req.Sale)
		}
		t, _ := sb.Totals()
		if req.Amount > t.Total {
			return nil, badRequest("a card of %v on a sale of %v: the sale must pay for the card", req.Amount, t.Total)
		}
		id := sale.ID()
		return &ledger.CardMove{Account: ledger.GiftCard, Currency: sb.Currency, Amount: req.Amount, Source: &id}, nil
	})
}

func (a *API) postCardRedeem(w http.ResponseWriter, r *http.Request, s *session) {
	a.cardMove(w, r, s, ledger.CardRedeem, func(req CardRequest, card string) (*ledger.CardMove, error) {
		cur := a.settings(r.Context()).Currency
		acct := ledger.GiftCard
		switch ledger.Account(req.Account) {
		case "", ledger.GiftCard:
		case ledger.StoreCredit:
			acct = ledger.StoreCredit
		case ledger.Points:
			acct, cur = ledger.Points, ledger.PointsCurrency
		default:
			return nil, badRequest("account %q: want gift_card, store_credit or points", req.Account)
		}
		return &ledger.CardMove{Account: acct, Currency: cur, Amount: req.Amount}, nil
	})
}

func (a *API) postCardDeactivate(w http.ResponseWriter, r *http.Request, s *session) {
	c, ok := a.cards(w, r)
	if !ok {
		return
	}
	a.cardMove(w, r, s, ledger.CardDeactivate, func(req CardRequest, card string) (*ledger.CardMove, error) {
		b, err := c.CardBalance(r.Context(), card)
		if err != nil {
			return nil, err
		}
		if b.Moves == 0 {
			return nil, fmt.Errorf("%w: unknown card %s", ErrNotFound, card)
		}
		return &ledger.CardMove{Account: b.Account, Currency: b.Currency}, nil
	})
}
