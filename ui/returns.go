package ui

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// Returns without a receipt and exchanges (issue 16).

// ReturnLine is a product brought back without a receipt: by barcode or
// SKU, a quantity (grams for goods sold by weight), and the price per
// unit given back when it is not the catalog's (a price override: its
// reason and permission apply).
type ReturnLine struct {
	Barcode string        `json:"barcode,omitempty"`
	SKU     string        `json:"sku,omitempty"`
	Qty     int64         `json:"qty"`
	Price   *ledger.Money `json:"price,omitempty"`
}

// ReturnRequest is the body of POST /api/returns. Tender is how the
// money goes back (cash unless "card", or "store_credit" on the card
// numbered Ref); Reason is required.
type ReturnRequest struct {
	IdempotencyKey string            `json:"idempotency_key"`
	Lines          []ReturnLine      `json:"lines"`
	Tender         ledger.TenderKind `json:"tender,omitempty"`
	Ref            string            `json:"ref,omitempty"`
	Reason         string            `json:"reason"`
	approval
}

// ExchangeRequest is the body of POST /api/exchanges: goods back
// without a receipt against the till's cart, one transaction: the
// customer pays only the difference with Tenders, or gets it back by
// Tender (as a return's: cash, card, or store credit on the card Ref).
type ExchangeRequest struct {
	IdempotencyKey string          `json:"idempotency_key"`
	Lines          []ReturnLine    `json:"lines"`
	Tenders        []ledger.Tender `json:"tenders,omitempty"`
	// Pay, without Tenders, pays the difference exactly by this kind.
	Pay    ledger.TenderKind `json:"pay,omitempty"`
	Tender ledger.TenderKind `json:"tender,omitempty"`
	Ref    string            `json:"ref,omitempty"`
	Reason string            `json:"reason"`
	approval
}

// ExchangeResult is a recorded exchange: the return, the sale, and what
// changed hands (positive: the customer paid; negative: the till paid
// back).
type ExchangeResult struct {
	Return     EventView    `json:"return"`
	Sale       SaleDetail   `json:"sale"`
	Difference ledger.Money `json:"difference"`
	Replayed   bool         `json:"replayed,omitempty"`
}

func refundTender(k ledger.TenderKind) (ledger.TenderKind, error) {
	switch k {
	case "":
		return ledger.Cash, nil
	case ledger.Cash, ledger.Card:
		return k, nil
	}
	return "", badRequest("tender %q: want cash or card", k)
}

// backTender is how money goes back to the customer: cash (the
// default), card, or store credit on the card numbered ref (issued by
// the event itself, as a refund's is: ledger.CardEntries). Amount is
// left to the caller.
func backTender(k ledger.TenderKind, ref string) (ledger.Tender, error) {
	if k == ledger.StoreCreditTender {
		card, err := cardNumber(ref)
		if err != nil {
			return ledger.Tender{}, fmt.Errorf("store credit: %w", err)
		}
		return ledger.Tender{Kind: k, Ref: card}, nil
	}
	kind, err := refundTender(k)
	if err != nil {
		return ledger.Tender{}, badRequest("tender %q: want cash, card or store_credit", k)
	}
	return ledger.Tender{Kind: kind}, nil
}

// returnBody prices the goods brought back and checks who may take them
// back: return_no_receipt, and price_override for a stated price. The
// tenders are left to the caller.
func (a *API) returnBody(ctx context.Context, r *http.Request, s *session, ap approval, lines []ReturnLine, reason string) (*ledger.Return, ledger.Money, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, 0, badRequest("a return without a receipt needs a reason")
	}
	if len(lines) == 0 {
		return nil, 0, badRequest("name at least one product brought back")
	}
	if err := a.requireShift(ledger.KindReturn); err != nil {
		return nil, 0, err
	}
	approver, err := a.authorize(ctx, r, s, ap, "a return without a receipt", PermReturnNoReceipt)
	if err != nil {
		return nil, 0, err
	}
	set := a.settings(ctx)
	var items []basket.Item
	for i, l := range lines {
		p, err := a.lookup(ctx, strings.TrimSpace(l.Barcode), strings.TrimSpace(l.SKU))
		if err != nil {
			return nil, 0, fmt.Errorf("returned line %d: %w", i+1, err)
		}
		if err := checkQty(l.Qty, p); err != nil {
			return nil, 0, fmt.Errorf("returned line %d: %w", i+1, err)
		}
		it := basket.Item{Product: p, Qty: l.Qty}
		if l.Price != nil && *l.Price != p.Price {
			if it.Override, err = a.approveOverride(ctx, r, s, ap, p, basket.Override{Price: *l.Price, Reason: reason}); err != nil {
				return nil, 0, fmt.Errorf("returned line %d: %w", i+1, err)
			}
		}
		items = append(items, it)
	}
	bp, err := basket.Price(basket.Basket{Items: items, TaxIncluded: set.TaxIncluded, LimitBP: -1})
	if err != nil {
		return nil, 0, badRequest("%v", err)
	}
	if bp.Totals.Total <= 0 {
		return nil, 0, badRequest("the goods brought back are worth nothing: record a stock adjustment instead")
	}
	return &ledger.Return{Currency: bp.Sale.Currency, TaxIncluded: set.TaxIncluded, Lines: bp.Sale.Lines, Reason: reason,
		Staff: s.staff.ID, Approver: approver}, bp.Totals.Total, nil
}

// postReturn takes goods back without a receipt.
func (a *API) postReturn(w http.ResponseWriter, r *http.Request, s *session) {
	var req ReturnRequest
	if !decode(w, r, &req) {
		return
	}
	ev, ok := a.replayOf(w, r, req.IdempotencyKey)
	if !ok {
		return
	}
	if ev != nil {
		if rt, isReturn := ev.Body.(*ledger.Return); !isReturn || rt.Staff != s.staff.ID {
			a.fail(w, r, a.reused(ev))
			return
		}
		v := a.eventView(ev).(EventView)
		v.Replayed = true
		writeJSON(w, http.StatusOK, v)
		return
	}
	back, err := backTender(req.Tender, req.Ref)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body, total, err := a.returnBody(r.Context(), r, s, req.approval, req.Lines, req.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	back.Amount = total
	body.Tenders = []ledger.Tender{back}
	ev, existing, err := a.till.Record(r.Context(), body, req.IdempotencyKey)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("return without receipt", "staff", s.staff.ID, "approver", body.Approver, "total", total.String())
	v := a.eventView(ev).(EventView)
	v.Replayed = existing
	status := http.StatusCreated
	if existing {
		status = http.StatusOK
	}
	writeJSON(w, status, v)
}

// postExchange records goods back against the till's cart: a Return and
// the Sale of the cart, recorded one after the other, the return's value
// carried to the sale by Other tenders with Ref ledger.ExchangeRef. A
// retry with the same key finishes an exchange cut off between the two.
func (a *API) postExchange(w http.ResponseWriter, r *http.Request, s *session) {
	var req ExchangeRequest
	if !decode(w, r, &req) {
		return
	}
	if !a.keyed(w, r, req.IdempotencyKey) {
		return
	}
	ctx := r.Context()
	retKey, saleKey := req.IdempotencyKey+"/return", req.IdempotencyKey+"/sale"
	if sev, err := a.till.Replay(saleKey); err != nil {
		a.fail(w, r, err)
		return
	} else if sev != nil {
		rev, err := a.till.Replay(retKey)
		if err != nil || rev == nil {
			a.fail(w, r, fmt.Errorf("%w: exchange %s: the sale is recorded without its return", ErrConflict, req.IdempotencyKey))
			return
		}
		a.exchangeDone(w, rev, sev, true)
		return
	}
	lines, d, version := a.cart.snapshot()
	if len(lines) == 0 {
		a.fail(w, r, badRequest("an exchange needs the new goods in the cart: the cart is empty"))
		return
	}
	set := a.settings(ctx)
	if err := a.approveOver(ctx, r, s, req.approval, lines, d, set.DiscountLimitBP); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := price(lines, d, version, set.DiscountLimitBP, set.TaxIncluded)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	giveBack, err := backTender(req.Tender, req.Ref)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body, back, err := a.returnBody(ctx, r, s, req.approval, req.Lines, req.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if body.Currency != p.view.Currency {
		a.fail(w, r, badRequest("the goods back are in %s, the cart in %s", body.Currency, p.view.Currency))
		return
	}
	total := p.view.Total
	if total <= 0 {
		a.fail(w, r, badRequest("the cart comes to nothing: take the goods back as a return instead"))
		return
	}
	credit := min(back, total)
	body.Tenders = []ledger.Tender{{Kind: ledger.Other, Amount: credit, Ref: ledger.ExchangeRef}}
	if back > total {
		giveBack.Amount = back - total
		body.Tenders = append(body.Tenders, giveBack)
	}
	saleTenders := []ledger.Tender{{Kind: ledger.Other, Amount: credit, Ref: ledger.ExchangeRef}}
	if total > back {
		if len(req.Tenders) == 0 && req.Pay == "" && giveBack.Kind == ledger.StoreCreditTender {
			a.fail(w, r, badRequest("the customer owes %v: store credit only takes a difference given back; pay it by cash or card", total-back))
			return
		}
		if len(req.Tenders) == 0 && req.Pay != "" {
			k, err := refundTender(req.Pay)
			if err != nil {
				a.fail(w, r, err)
				return
			}
			req.Tenders = []ledger.Tender{{Kind: k, Amount: total - back}}
		}
		if err := checkTenders(req.Tenders, total-back, set.CashRounding); err != nil {
			a.fail(w, r, err)
			return
		}
		saleTenders = append(saleTenders, req.Tenders...)
	}
	rev, _, err := a.till.Record(ctx, body, retKey)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sr := SaleRequest{IdempotencyKey: saleKey, Tenders: saleTenders, CartDiscount: p.Sale.CartDiscount,
		Staff: s.staff.ID, Approver: p.view.Approver, TaxAdded: !set.TaxIncluded}
	for i, l := range p.Sale.Lines {
		sr.Lines = append(sr.Lines, SaleLine{SKU: l.SKU, Qty: l.Qty, Discount: l.Discount, Override: lines[i].Override})
	}
	sev, _, err := a.till.Sell(ctx, sr)
	if err != nil {
		a.log.Error("exchange: return recorded, sale not: retry with the same key", "key", req.IdempotencyKey, "err", err)
		a.fail(w, r, fmt.Errorf("exchange: the return is recorded, the sale is not (%w): send it again", err))
		return
	}
	a.cart.replace(version, nil, nil)
	a.log.Info("exchange", "staff", s.staff.ID, "back", back.String(), "sale", total.String())
	a.exchangeDone(w, rev, sev, false)
}

func (a *API) exchangeDone(w http.ResponseWriter, rev, sev *ledger.Event, replayed bool) {
	rt, _ := rev.Body.(*ledger.Return)
	sale, _ := sev.Body.(*ledger.Sale)
	res := ExchangeResult{Return: a.eventView(rev).(EventView), Sale: a.detail(sev), Replayed: replayed}
	if rt != nil && sale != nil {
		rtot, _ := rt.Totals()
		stot, _ := sale.Totals()
		res.Difference = stot.Total - rtot.Total
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, res)
}
