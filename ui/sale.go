package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// receiptNo is the receipt number of a till's event at seq as every
// screen shows it (ledger.ReceiptNo of its ledger.State.ReceiptNumber),
// or "" for an event that takes none (shift, cash, stock).
func (a *API) receiptNo(till ledger.TillID, seq uint64) string {
	n, ok := a.receiptN(till, seq)
	if !ok {
		return ""
	}
	return ledger.ReceiptNo(a.till.TillNumber(till), n)
}

func (a *API) receiptN(till ledger.TillID, seq uint64) (n uint64, ok bool) {
	a.till.View(func(s *ledger.State) { n, ok = s.ReceiptNumber(till, seq) })
	return n, ok
}

// ParseReceipt reads a receipt number ("2-17"), a receipt barcode
// ("RCN2-17") or a barcode of a release before receipt numbers
// ("RCT2-17": till 2's seq 17); see ledger.ParseReceiptRef.
func ParseReceipt(s string) (ledger.ReceiptRef, error) {
	ref, err := ledger.ParseReceiptRef(s)
	if err != nil {
		return ref, badRequest("receipt %q: want a receipt number like 2-17, or scan the receipt", s)
	}
	return ref, nil
}

// resolve finds a sale by receipt number, receipt barcode or event ID.
func (a *API) resolve(ref string) (*ledger.Event, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, badRequest("which sale? give its receipt number")
	}
	var till ledger.TillID
	var seq uint64
	if len(ref) == 64 {
		id, err := ledger.ParseEventID(ref)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		var ok bool
		a.till.View(func(s *ledger.State) { _, till, seq, ok = s.Fold().Sale(id) })
		if !ok {
			return nil, fmt.Errorf("%w: no sale %s in this till's ledger", ErrNotFound, ref[:8])
		}
	} else {
		rc, err := ParseReceipt(ref)
		if err != nil {
			return nil, err
		}
		t, ok := a.till.TillByNumber(rc.Till)
		if !ok {
			return nil, fmt.Errorf("%w: receipt %s: no till %d known here", ErrNotFound, ledger.ReceiptNo(rc.Till, rc.N), rc.Till)
		}
		till, seq = t, rc.N
		if !rc.Legacy {
			var receipts uint64
			a.till.View(func(s *ledger.State) { seq, ok = s.ReceiptSeq(t, rc.N); receipts = s.Receipts(t) })
			if !ok {
				return nil, fmt.Errorf("%w: receipt %s is not here (yet): this till holds till %d's receipts up to %s",
					ErrNotFound, ledger.ReceiptNo(rc.Till, rc.N), rc.Till, ledger.ReceiptNo(rc.Till, receipts))
			}
		}
	}
	var head uint64
	a.till.View(func(s *ledger.State) { head, _, _ = s.Head(till) })
	if seq > head {
		return nil, fmt.Errorf("%w: that receipt of till %d is not here (yet): this till holds till %d's events up to %d",
			ErrNotFound, a.till.TillNumber(till), a.till.TillNumber(till), head)
	}
	ev, err := a.till.Event(till, seq)
	if err != nil {
		return nil, err
	}
	if ev.Kind() != ledger.KindSale {
		what := a.receiptNo(till, seq)
		if what == "" {
			what = fmt.Sprintf("of till %d", a.till.TillNumber(till))
		}
		return nil, badRequest("receipt %s is a %s, not a sale", what, strings.ReplaceAll(string(ev.Kind()), "_", " "))
	}
	return ev, nil
}

// SaleDetail is a recorded sale with its computed amounts and what
// remains refundable of it.
type SaleDetail struct {
	EventID    string          `json:"event_id"`
	Receipt    string          `json:"receipt"`
	Barcode    string          `json:"barcode"` // ledger.ReceiptCode, as printed
	TillNumber uint32          `json:"till_number"`
	Seq        uint64          `json:"seq"`
	Time       time.Time       `json:"time"`
	Staff      string          `json:"staff"`
	Approver   string          `json:"approver,omitempty"`
	Customer   string          `json:"customer,omitempty"` // the customer's number
	Currency   string          `json:"currency"`
	Lines      []SaleLineView  `json:"lines"`
	Gross      ledger.Money    `json:"gross"`
	Discounts  ledger.Money    `json:"discounts"`
	Cart       ledger.Money    `json:"cart_discount"`
	Net        ledger.Money    `json:"net"`
	Tax        ledger.Money    `json:"tax"`
	Total      ledger.Money    `json:"total"`
	Bands      []Band          `json:"bands"`
	Tenders    []ledger.Tender `json:"tenders"`
	// CardLeft is the balance now left on each card (by number) a gift
	// card or store credit tender paid with (balances.go).
	CardLeft   map[string]ledger.Money `json:"card_left,omitempty"`
	Change     ledger.Money            `json:"change"`
	Rounding   ledger.Money            `json:"rounding,omitempty"` // cash rounding: paid Total plus Rounding
	Remaining  []ledger.Remaining      `json:"remaining"`
	Refundable ledger.Money            `json:"refundable"`
	Voided     bool                    `json:"voided"`
}

// SaleLineView is a sale line with its computed amounts.
type SaleLineView struct {
	ledger.Line
	Gross        ledger.Money `json:"gross"`
	LineDiscount ledger.Money `json:"line_discount"`
	CartDiscount ledger.Money `json:"cart_discount"`
	Tax          ledger.Money `json:"tax"`
	Amount       ledger.Money `json:"amount"`
}

func (a *API) detail(ev *ledger.Event) SaleDetail {
	s := ev.Body.(*ledger.Sale)
	t, _ := s.Totals() // recorded: it validated
	n := a.till.TillNumber(ev.Till)
	rn, _ := a.receiptN(ev.Till, ev.Seq)
	d := SaleDetail{EventID: ev.ID().String(), Receipt: ledger.ReceiptNo(n, rn), Barcode: ledger.ReceiptCode(n, rn),
		TillNumber: n, Seq: ev.Seq, Time: time.UnixMilli(ev.Time.Wall).UTC(), Staff: s.Staff, Approver: s.Approver,
		Customer: s.Customer, Currency: s.Currency, Gross: t.Gross, Discounts: t.Discounts, Cart: s.CartDiscount, Net: t.Net, Tax: t.Tax,
		Total: t.Total, Bands: bandsOf(t.Bands), Tenders: s.Tenders, Change: s.Change, Rounding: s.Rounding}
	for i, l := range s.Lines {
		lt := t.Lines[i]
		d.Lines = append(d.Lines, SaleLineView{Line: l, Gross: lt.Gross, LineDiscount: lt.Discount,
			CartDiscount: lt.CartDiscount, Tax: lt.Tax, Amount: lt.Amount})
	}
	a.till.View(func(st *ledger.State) {
		f := st.Fold()
		d.Remaining, _ = f.Refundable(ev.ID())
		_, err := f.VoidOf(ev.ID())
		d.Voided = errors.Is(err, ledger.ErrAlreadyVoided)
	})
	for _, r := range d.Remaining {
		d.Refundable += r.Amount
	}
	d.CardLeft = a.cardLeft(s)
	return d
}

func (a *API) getSale(w http.ResponseWriter, r *http.Request, _ *session) {
	ev, err := a.resolve(r.PathValue("ref"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.detail(ev))
}

// SaleSummary is a line of the recent sales list.
type SaleSummary struct {
	Receipt  string       `json:"receipt"`
	Time     time.Time    `json:"time"`
	Staff    string       `json:"staff"`
	Currency string       `json:"currency"`
	Total    ledger.Money `json:"total"`
	Lines    int          `json:"lines"`
}

// getSales lists this till's most recent sales, newest first.
func (a *API) getSales(w http.ResponseWriter, r *http.Request, _ *session) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			a.fail(w, r, badRequest("limit %q: want 1..200", v))
			return
		}
		limit = n
	}
	self := a.till.Self()
	var head uint64
	a.till.View(func(s *ledger.State) { head, _, _ = s.Head(self.ID) })
	out := []SaleSummary{}
	for seq := head; seq > 0 && len(out) < limit && head-seq < 2000; seq-- {
		ev, err := a.till.Event(self.ID, seq)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if s, ok := ev.Body.(*ledger.Sale); ok {
			t, _ := s.Totals()
			out = append(out, SaleSummary{Receipt: a.receiptNo(self.ID, seq), Time: time.UnixMilli(ev.Time.Wall).UTC(),
				Staff: s.Staff, Currency: s.Currency, Total: t.Total, Lines: len(s.Lines)})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// postSale records a sale given as lines (tools, tests, the testnet); the
// page sells from the cart instead. Staff is the session's; discounts
// above the limit need a manager's PIN (approver, approver_pin) unless a
// manager is logged in.
func (a *API) postSale(w http.ResponseWriter, r *http.Request, s *session) {
	var req SaleRequest
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	ev, ok := a.replayOf(w, r, req.IdempotencyKey)
	if !ok {
		return
	}
	if ev != nil {
		if !a.saleMatches(ctx, ev, req, s.staff.ID) {
			a.fail(w, r, a.reused(ev))
			return
		}
		writeJSON(w, http.StatusOK, a.saleOf(ev, true))
		return
	}
	approver, err := a.checkSale(ctx, r, s, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	req.Staff, req.Approver, req.ApproverPIN = s.staff.ID, approver, ""
	req.TaxAdded = !a.settings(ctx).TaxIncluded
	ev, replayed, err := a.till.Sell(ctx, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, a.saleOf(ev, replayed))
}

// checkSale prices a new sale request as the till will, so a discount
// above the limit gets a manager's approval and bad tenders a clear
// answer before anything is recorded. It returns the approver.
func (a *API) checkSale(ctx context.Context, r *http.Request, s *session, req SaleRequest) (string, error) {
	if len(req.Lines) == 0 {
		return "", badRequest("a sale needs at least one line")
	}
	var lines []cartLine
	var products []Product
	for i, l := range req.Lines {
		p, err := a.lookup(ctx, l.Barcode, l.SKU)
		if err != nil {
			return "", fmt.Errorf("line %d: %w", i+1, err)
		}
		if err := checkQty(l.Qty, p); err != nil {
			return "", fmt.Errorf("line %d: %w", i+1, err)
		}
		products = append(products, p)
	}
	// Price overrides (override.go) are approved in place in req.Lines.
	if err := a.approveSaleOverrides(ctx, r, s, approval{req.Approver, req.ApproverPIN}, req, products); err != nil {
		return "", err
	}
	for i, l := range req.Lines {
		lines = append(lines, cartLine{Product: products[i], Qty: l.Qty, Discount: basket.AmountOff(l.Discount), Override: l.Override})
	}
	d := basket.AmountOff(req.CartDiscount)
	limit := a.settings(ctx).DiscountLimitBP
	if err := a.approveOver(ctx, r, s, approval{req.Approver, req.ApproverPIN}, lines, d, limit); err != nil {
		return "", err
	}
	p, err := price(lines, d, 0, limit, a.settings(ctx).TaxIncluded)
	if err != nil {
		return "", err
	}
	if err := checkTenders(req.Tenders, p.view.Total, a.settings(ctx).CashRounding); err != nil {
		return "", err
	}
	return p.view.Approver, nil
}

// saleOf is a recorded sale as POST /api/sales answers it.
func (a *API) saleOf(ev *ledger.Event, replayed bool) Sale {
	s, _ := ev.Body.(*ledger.Sale)
	if s == nil {
		return Sale{}
	}
	t, _ := s.Totals() // recorded: it validated
	return Sale{EventID: ev.ID().String(), Receipt: a.receiptNo(ev.Till, ev.Seq), Till: ev.Till.String(),
		Seq: ev.Seq, Time: time.UnixMilli(ev.Time.Wall).UTC(), Currency: s.Currency, Total: t.Total, Tax: t.Tax,
		Change: s.Change, Rounding: s.Rounding, Lines: s.Lines, Tenders: s.Tenders, Replayed: replayed}
}

// RefundRequest is the body of POST /api/refunds. Lines pick sale lines
// (0-based) and quantities; the amounts come from what remains
// refundable. The money goes back by Tender (cash unless "card").
type RefundRequest struct {
	IdempotencyKey string            `json:"idempotency_key"`
	Sale           string            `json:"sale"` // receipt number, receipt barcode or event ID
	Lines          []ledger.Pick     `json:"lines"`
	Tender         ledger.TenderKind `json:"tender,omitempty"`
	Ref            string            `json:"ref,omitempty"`
	Reason         string            `json:"reason,omitempty"`
	// Offline asks for the refund to be made without the sale's till's
	// grant when that till cannot be reached (balances.go).
	Offline bool `json:"offline,omitempty"`
	// An approver's number and PIN, when the refund needs a permission
	// the cashier lacks (above the refund limit, another till's sale).
	approval
}

// RefundResult is a recorded refund and the sale as it now stands.
type RefundResult struct {
	Receipt  string              `json:"receipt"` // the refund's own number
	EventID  string              `json:"event_id"`
	Seq      uint64              `json:"seq"`
	Time     time.Time           `json:"time"`
	Lines    []ledger.RefundLine `json:"lines"`
	Total    ledger.Money        `json:"total"`
	Tenders  []ledger.Tender     `json:"tenders"`
	Sale     SaleDetail          `json:"sale"`
	Replayed bool                `json:"replayed,omitempty"`
}

func (a *API) postRefund(w http.ResponseWriter, r *http.Request, s *session) {
	var req RefundRequest
	if !decode(w, r, &req) {
		return
	}
	ev, ok := a.replayOf(w, r, req.IdempotencyKey)
	if !ok {
		return
	}
	sale, err := a.resolve(req.Sale)
	if ev != nil {
		rf, isRefund := ev.Body.(*ledger.Refund)
		if err != nil || !isRefund || rf.Sale != sale.ID() || !refundMatches(rf, req, s.staff.ID) {
			a.fail(w, r, a.reused(ev))
			return
		}
		a.refundDone(w, r, ev, true)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if len(req.Lines) == 0 {
		a.fail(w, r, badRequest("pick at least one line to refund"))
		return
	}
	for _, p := range req.Lines {
		if p.Qty <= 0 {
			a.fail(w, r, badRequest("line %d: quantity %d: must be positive", p.Line+1, p.Qty))
			return
		}
	}
	kind := req.Tender
	switch kind {
	case "":
		kind = ledger.Cash
	case ledger.Cash, ledger.Card, ledger.Other:
	case ledger.StoreCreditTender: // balances.go: the refund issues store credit on the card in ref
		if _, err := cardNumber(req.Ref); err != nil {
			a.fail(w, r, err)
			return
		}
	default:
		a.fail(w, r, badRequest("tender %q: want cash, card or store_credit", kind))
		return
	}
	var lines []ledger.RefundLine
	a.till.View(func(st *ledger.State) { lines, err = st.Fold().RefundLines(sale.ID(), req.Lines) })
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body := &ledger.Refund{Sale: sale.ID(), Currency: sale.Body.(*ledger.Sale).Currency, Lines: lines,
		Reason: strings.TrimSpace(req.Reason), Staff: s.staff.ID}
	var total ledger.Money
	for _, l := range lines {
		total += l.Amount
	}
	perms := []Permission{PermRefund}
	if int64(total) > a.settings(r.Context()).RefundLimit {
		perms = append(perms, PermRefundLarge)
	}
	if sale.Till != a.till.Self().ID {
		perms = append(perms, PermRefundOtherTill)
	}
	by, err := a.authorize(r.Context(), r, s, req.approval, fmt.Sprintf("a refund of %v", total), perms...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if total > 0 {
		body.Tenders = []ledger.Tender{{Kind: kind, Amount: total, Ref: strings.TrimSpace(req.Ref)}}
	}
	if err := a.requireShift(ledger.KindRefund); err != nil {
		a.fail(w, r, err)
		return
	}
	ev, existing, err := a.till.Record(r.Context(), body, req.IdempotencyKey)
	if errors.Is(err, ledger.ErrOwnerUnreachable) {
		ev, existing, err = a.offlineRefund(r, s, req, sale, body, err) // balances.go
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("refund", "sale", a.receiptNo(sale.Till, sale.Seq), "staff", s.staff.ID, "approved_by", by, "total", total.String())
	a.refundDone(w, r, ev, existing)
}

func (a *API) refundDone(w http.ResponseWriter, r *http.Request, ev *ledger.Event, replayed bool) {
	rf, ok := ev.Body.(*ledger.Refund)
	if !ok {
		a.fail(w, r, a.reused(ev))
		return
	}
	res := RefundResult{Receipt: a.receiptNo(ev.Till, ev.Seq), EventID: ev.ID().String(), Seq: ev.Seq,
		Time: time.UnixMilli(ev.Time.Wall).UTC(), Lines: rf.Lines, Tenders: rf.Tenders, Replayed: replayed}
	for _, l := range rf.Lines {
		res.Total += l.Amount
	}
	var till ledger.TillID
	var seq uint64
	var ok2 bool
	a.till.View(func(s *ledger.State) { _, till, seq, ok2 = s.Fold().Sale(rf.Sale) })
	if ok2 {
		if sev, err := a.till.Event(till, seq); err == nil {
			res.Sale = a.detail(sev)
		}
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, res)
}

// VoidRequest is the body of POST /api/voids. Someone with the void
// permission (a supervisor by default) must be logged in, or give their
// number and PIN as manager and manager_pin.
type VoidRequest struct {
	IdempotencyKey string `json:"idempotency_key"`
	Sale           string `json:"sale"`
	Reason         string `json:"reason"`
	Manager        string `json:"manager,omitempty"`
	ManagerPIN     string `json:"manager_pin,omitempty"`
}

func (a *API) postVoid(w http.ResponseWriter, r *http.Request, s *session) {
	var req VoidRequest
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	ev, ok := a.replayOf(w, r, req.IdempotencyKey)
	if !ok {
		return
	}
	sale, err := a.resolve(req.Sale)
	if ev != nil {
		v, isVoid := ev.Body.(*ledger.Void)
		if err != nil || !isVoid || v.Sale != sale.ID() || v.Reason != strings.TrimSpace(req.Reason) || v.Staff != s.staff.ID {
			a.fail(w, r, a.reused(ev))
			return
		}
		a.voidDone(w, r, ev, true)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		a.fail(w, r, badRequest("a void needs a reason"))
		return
	}
	mgr, err := a.authorize(ctx, r, s, approval{req.Manager, req.ManagerPIN}, "voiding a sale", PermVoid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var v *ledger.Void
	a.till.View(func(st *ledger.State) { v, err = st.Fold().VoidOf(sale.ID()) })
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v.Manager, v.Reason, v.Staff = mgr, strings.TrimSpace(req.Reason), s.staff.ID
	ev, existing, err := a.till.Record(ctx, v, req.IdempotencyKey)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("void", "sale", a.receiptNo(sale.Till, sale.Seq), "manager", mgr, "staff", s.staff.ID)
	a.voidDone(w, r, ev, existing)
}

func (a *API) voidDone(w http.ResponseWriter, r *http.Request, ev *ledger.Event, replayed bool) {
	v, ok := ev.Body.(*ledger.Void)
	if !ok {
		a.fail(w, r, a.reused(ev))
		return
	}
	res := map[string]any{"receipt": a.receiptNo(ev.Till, ev.Seq), "event_id": ev.ID().String(), "seq": ev.Seq,
		"total": v.Total, "cash": v.Cash, "manager": v.Manager, "replayed": replayed}
	var till ledger.TillID
	var seq uint64
	var ok2 bool
	a.till.View(func(s *ledger.State) { _, till, seq, ok2 = s.Fold().Sale(v.Sale) })
	if ok2 {
		if sev, err := a.till.Event(till, seq); err == nil {
			res["sale"] = a.detail(sev)
		}
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, res)
}

// saleMatches reports whether a sale request sent again with an
// idempotency key is the one that made ev: the same staff, lines,
// discounts and tenders.
func (a *API) saleMatches(ctx context.Context, ev *ledger.Event, req SaleRequest, staff string) bool {
	sale, ok := ev.Body.(*ledger.Sale)
	if !ok || sale.Staff != staff || sale.CartDiscount != req.CartDiscount || len(sale.Lines) != len(req.Lines) ||
		!sameTenders(sale.Tenders, req.Tenders) {
		return false
	}
	for i, l := range req.Lines {
		sku := l.SKU
		if l.Barcode != "" {
			p, err := a.lookup(ctx, l.Barcode, l.SKU)
			if err != nil {
				return false
			}
			sku = p.SKU
		}
		got := sale.Lines[i]
		if got.SKU != sku || got.Qty != l.Qty || got.Discount != l.Discount {
			return false
		}
	}
	return true
}

func sameTenders(a, b []ledger.Tender) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// refundMatches reports whether a refund request sent again with an
// idempotency key is the one that made rf (its sale is checked by the
// caller).
func refundMatches(rf *ledger.Refund, req RefundRequest, staff string) bool {
	if rf.Staff != staff || rf.Reason != strings.TrimSpace(req.Reason) || len(rf.Lines) != len(req.Lines) {
		return false
	}
	for i, p := range req.Lines {
		if rf.Lines[i].Line != p.Line || rf.Lines[i].Qty != p.Qty {
			return false
		}
	}
	kind := req.Tender
	if kind == "" {
		kind = ledger.Cash
	}
	return len(rf.Tenders) == 0 || rf.Tenders[0].Kind == kind
}

// Sale is the sale a request makes, by ledger/basket's rules: each line's
// product from find (prices include tax unless TaxAdded), a line's price
// override as approved by the caller, the line and cart discounts as
// the amounts given (approved by the caller), the tenders with their
// change, and the request's staff and approver. node.Sell records it.
// Errors from the rules wrap ErrBadRequest; find's are returned as they
// are, with the line number.
func (r SaleRequest) Sale(find func(SaleLine) (Product, error)) (*ledger.Sale, error) {
	if len(r.Lines) == 0 {
		return nil, badRequest("a sale needs at least one line")
	}
	b := basket.Basket{Discount: basket.AmountOff(r.CartDiscount), TaxIncluded: !r.TaxAdded, LimitBP: -1}
	for i, l := range r.Lines {
		p, err := find(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		b.Items = append(b.Items, basket.Item{Product: p, Qty: l.Qty, Discount: basket.AmountOff(l.Discount), Override: l.Override})
	}
	priced, err := basket.Price(b)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	s, err := priced.PayRounded(r.Tenders, r.CashStep)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	s.Staff, s.Approver, s.Customer = r.Staff, r.Approver, r.Customer
	return s, nil
}
