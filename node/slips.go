package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// Slips (issue 16): every event that moves money or opens the drawer
// prints, not only sales and Z reports: refunds, voids, returns without a
// receipt, cash in and out, no-sales, and the X report on demand. A slip
// is a report-form receipt (receipt.Receipt with Title and Summary), so
// it prints at 58 and 80 mm with the Z report's layout, carries the
// event's number and QR code, and is kept in the print queue's history
// for a reprint (POST /api/reprint with its event ID).

// slipOf builds the slip of one of this till's events; ok is false for
// events that print none (or print otherwise: sales, shift closes).
func (t *Till) slipOf(ev *ledger.Event) (receipt.Receipt, bool, error) {
	info := slipInfo{Store: t.cfg.Store.Name, Till: t.cert.Name, Number: t.cert.Number,
		Currency: t.currency(context.Background()), // a no-sale names none (money.go)
		Location: time.Local, SaleNumber: t.saleNumber, EventNumber: t.slipNumber}
	return slipReceipt(ev, info)
}

// slipInfo is what a slip needs besides its event.
type slipInfo struct {
	Store, Till string
	Number      uint32
	Currency    string // for events that name none
	Location    *time.Location
	SaleNumber  func(ledger.EventID) string
	EventNumber func(*ledger.Event) string // slipNumber
}

// slipNumber is the number a slip shows: a receipt number for the kinds
// that take one (refunds, voids, returns: ledger.IsReceiptKind), else
// ledger.EventNo, the event's place in its till's chain: cash movements
// and no-sales are internal and use up no receipt number.
func (t *Till) slipNumber(ev *ledger.Event) string {
	if n := t.receiptNumber(ev); n > 0 {
		return ledger.ReceiptNo(t.number(ev.Till), n)
	}
	return ledger.EventNo(t.number(ev.Till), ev.Seq)
}

// slipReceipt is the slip of ev, or ok false for events without one.
func slipReceipt(ev *ledger.Event, info slipInfo) (r receipt.Receipt, ok bool, err error) {
	r = receipt.Receipt{Store: info.Store, Till: info.Till, Number: info.EventNumber(ev),
		Time: time.UnixMilli(ev.Time.Wall).In(info.Location), Currency: info.Currency, EventID: ev.ID(), Sig: append([]byte(nil), ev.Sig...)}
	if r.Till == "" {
		r.Till = fmt.Sprintf("Till %d", info.Number)
	}
	m := func(label string, v ledger.Money) {
		r.Summary = append(r.Summary, receipt.Row{Label: label, Money: &v})
	}
	txt := func(label, v string) {
		if v != "" {
			r.Summary = append(r.Summary, receipt.Row{Label: label, Text: v})
		}
	}
	tenders := func(ts []ledger.Tender) {
		for _, tn := range ts {
			m("Given back "+string(tn.Kind), -tn.Amount)
		}
	}
	switch b := ev.Body.(type) {
	case *ledger.Refund:
		r.Title, r.Currency, r.Cashier = "REFUND", b.Currency, b.Staff
		txt("Sale", info.SaleNumber(b.Sale))
		for _, l := range b.Lines {
			m(fmt.Sprintf("%s x %d", l.SKU, l.Qty), -l.Amount)
		}
		tenders(b.Tenders)
		txt("Reason", b.Reason)
	case *ledger.Return:
		r.Title, r.Currency, r.Cashier = "RETURN, NO RECEIPT", b.Currency, b.Staff
		tot, err := b.Totals()
		if err != nil {
			return r, false, err
		}
		for i, l := range b.Lines {
			m(fmt.Sprintf("%s x %d", l.Name, l.Qty), -tot.Lines[i].Amount)
			if l.Overridden() {
				txt("  price", fmt.Sprintf("%v, was %v", l.UnitPrice, l.ListPrice))
			}
		}
		tenders(b.Tenders)
		txt("Approved by", b.Approver)
		txt("Reason", b.Reason)
	case *ledger.Void:
		r.Title, r.Currency, r.Cashier = "VOID", b.Currency, b.Staff
		txt("Sale", info.SaleNumber(b.Sale))
		m("Total voided", -b.Total)
		if b.Cash > 0 {
			m("Cash given back", -b.Cash)
		}
		txt("Approved by", b.Manager)
		txt("Reason", b.Reason)
	case *ledger.CashIn:
		r.Title, r.Currency, r.Cashier = "CASH IN", b.Currency, b.Staff
		m("Into the drawer", b.Amount)
		txt("Reason", b.Reason)
	case *ledger.CashOut:
		r.Title, r.Currency, r.Cashier = "CASH OUT", b.Currency, b.Staff
		m("Out of the drawer", -b.Amount)
		txt("Reason", b.Reason)
	case *ledger.NoSale:
		r.Title, r.Cashier = "NO SALE", b.Staff
		txt("Drawer", "opened without a sale")
		txt("Reason", b.Reason)
	default:
		return r, false, nil
	}
	return r, true, r.Validate()
}

// isExchange reports whether tenders carry an exchange's credit
// (ledger.ExchangeRef): the event is half of an exchange.
func isExchange(ts []ledger.Tender) bool {
	for _, tn := range ts {
		if tn.Kind == ledger.Other && tn.Ref == ledger.ExchangeRef {
			return true
		}
	}
	return false
}

// exchangeReceipt is the one document an exchange prints (ui's
// POST /api/exchanges records a Return and a Sale): the goods brought
// back, the new goods, and the difference paid or given back. It carries
// the sale's number, ID and signature, and names the return's number.
func exchangeReceipt(ret, sale *ledger.Event, info slipInfo) (receipt.Receipt, error) {
	rt, ok1 := ret.Body.(*ledger.Return)
	sl, ok2 := sale.Body.(*ledger.Sale)
	if !ok1 || !ok2 {
		return receipt.Receipt{}, fmt.Errorf("exchange receipt: want a return and a sale, got %s and %s", ret.Kind(), sale.Kind())
	}
	rtot, err := rt.Totals()
	if err != nil {
		return receipt.Receipt{}, fmt.Errorf("exchange receipt: %w", err)
	}
	stot, err := sl.Totals()
	if err != nil {
		return receipt.Receipt{}, fmt.Errorf("exchange receipt: %w", err)
	}
	r := receipt.Receipt{Store: info.Store, Till: info.Till, Cashier: sl.Staff, Number: info.EventNumber(sale), Title: "EXCHANGE",
		Time: time.UnixMilli(sale.Time.Wall).In(info.Location), Currency: sl.Currency, EventID: sale.ID(), Sig: append([]byte(nil), sale.Sig...)}
	if r.Till == "" {
		r.Till = fmt.Sprintf("Till %d", info.Number)
	}
	m := func(label string, v ledger.Money) {
		r.Summary = append(r.Summary, receipt.Row{Label: label, Money: &v})
	}
	txt := func(label, v string) {
		if v != "" {
			r.Summary = append(r.Summary, receipt.Row{Label: label, Text: v})
		}
	}
	txt("Goods back", "return "+info.EventNumber(ret))
	for i, l := range rt.Lines {
		m(fmt.Sprintf("  %s x %d", l.Name, l.Qty), -rtot.Lines[i].Amount)
		if l.Overridden() {
			txt("    price", fmt.Sprintf("%v, was %v", l.UnitPrice, l.ListPrice))
		}
	}
	m("Total back", -rtot.Total)
	txt("New goods", "sale "+r.Number)
	for i, l := range sl.Lines {
		m(fmt.Sprintf("  %s x %d", l.Name, l.Qty), stot.Lines[i].Amount)
		if l.Overridden() {
			txt("    price", fmt.Sprintf("%v, was %v", l.UnitPrice, l.ListPrice))
		}
	}
	if sl.CartDiscount > 0 {
		m("  Discount", -sl.CartDiscount)
	}
	m("Total new", stot.Total)
	m("  of which tax", stot.Tax)
	if d := stot.Total - rtot.Total; d >= 0 {
		m("Difference paid", d)
		for _, tn := range sl.Tenders {
			if !(tn.Kind == ledger.Other && tn.Ref == ledger.ExchangeRef) {
				m("  Paid "+string(tn.Kind), tn.Amount)
			}
		}
		if sl.Change > 0 {
			m("  Change", -sl.Change)
		}
	} else {
		m("Difference given back", d)
		for _, tn := range rt.Tenders {
			if !(tn.Kind == ledger.Other && tn.Ref == ledger.ExchangeRef) {
				label := "  Given back " + string(tn.Kind)
				if tn.Kind == ledger.StoreCreditTender {
					label = "  Store credit " + tn.Ref
				}
				m(label, -tn.Amount)
			}
		}
	}
	txt("Approved by", rt.Approver)
	txt("Reason", rt.Reason)
	return r, r.Validate()
}

// printExchange queues the exchange receipt of a sale recorded under
// the key <key>/sale (ui.ExchangeRequest), whose return is <key>/return.
// ok is false when sale is no such half of an exchange, to print as a
// plain sale.
func (t *Till) printExchange(sale *ledger.Event, idem string) (ok bool) {
	s, isSale := sale.Body.(*ledger.Sale)
	key, isKey := strings.CutSuffix(idem, "/sale")
	if !isSale || !isKey || !isExchange(s.Tenders) {
		return false
	}
	ret, err := t.db.ByIdempotencyKey(t.id, key+"/return")
	if err != nil || ret == nil || ret.Kind() != ledger.KindReturn {
		t.log.Warn("exchange sale without its return: printed as a sale", "seq", sale.Seq, "err", err)
		return false
	}
	info := slipInfo{Store: t.cfg.Store.Name, Till: t.cert.Name, Number: t.cert.Number, Location: time.Local,
		SaleNumber: t.saleNumber, EventNumber: t.slipNumber}
	r, err := exchangeReceipt(ret, sale, info)
	if err != nil {
		t.log.Warn("exchange receipt not built: printed as a sale", "seq", sale.Seq, "err", err)
		return false
	}
	if _, err := t.hw.Enqueue(r); err != nil && !errors.Is(err, hw.ErrNoDevice) {
		t.log.Warn("exchange receipt not queued", "seq", sale.Seq, "err", err)
	}
	return true
}

// saleNumber is a sale's receipt number, or its short ID when unknown.
func (t *Till) saleNumber(id ledger.EventID) string {
	var till ledger.TillID
	var seq uint64
	var ok bool
	t.db.View(func(s *ledger.State) { _, till, seq, ok = s.Fold().Sale(id) })
	if !ok {
		return id.String()[:12]
	}
	var n uint64
	t.db.View(func(s *ledger.State) { n, ok = s.ReceiptNumber(till, seq) })
	if !ok {
		return id.String()[:12]
	}
	return ledger.ReceiptNo(t.number(till), n)
}

// printSlip queues an event's slip, if it has one. It never fails the
// event: a slip that cannot be built or queued is logged.
func (t *Till) printSlip(ev *ledger.Event) {
	r, ok, err := t.slipOf(ev)
	switch {
	case err != nil:
		t.log.Warn("slip not built", "seq", ev.Seq, "kind", ev.Kind(), "err", err)
	case ok:
		if _, err := t.hw.Enqueue(r); err != nil && !errors.Is(err, hw.ErrNoDevice) {
			t.log.Warn("slip not queued", "seq", ev.Seq, "kind", ev.Kind(), "err", err)
		}
	}
}

// PrintX prints the open shift's X report (ui.XPrinter): the Z report's
// figures so far, numbered after the till's newest event.
func (t *Till) PrintX(ctx context.Context) error {
	var sh *ledger.Shift
	var seq uint64
	t.db.View(func(s *ledger.State) {
		if o := s.Fold().OpenShift(t.id); o != nil {
			c := *o
			sh = &c
		}
		seq, _, _ = s.Head(t.id)
	})
	if sh == nil {
		return fmt.Errorf("%w: no shift is open: nothing to print an X report of", ui.ErrBadRequest)
	}
	ev, err := t.db.Get(t.id, seq)
	if err != nil {
		return err
	}
	rep := sh.Report
	// An X report is no event: its ID (the print queue's key) is a hash
	// of the newest event's ID and the time, so each X prints; its
	// signature is that event's, which its figures include.
	h := sha256.New()
	fmt.Fprintf(h, "tillmesh X report|%s|%d", ev.ID(), t.cfg.Now().UnixNano())
	var id ledger.EventID
	copy(id[:], h.Sum(nil))
	r := receipt.Receipt{Store: t.cfg.Store.Name, Till: t.cert.Name, Cashier: sh.Staff, Number: "X " + t.slipNumber(ev),
		Time: time.UnixMilli(sh.Opened.Wall).In(time.Local), Currency: rep.Currency, EventID: id,
		Sig: append([]byte(nil), ev.Sig...), Title: "X REPORT"}
	if r.Currency == "" {
		r.Currency = t.currency(context.Background()) // money.go
	}
	if r.Till == "" {
		r.Till = fmt.Sprintf("Till %d", t.cert.Number)
	}
	m := func(label string, v ledger.Money) {
		r.Summary = append(r.Summary, receipt.Row{Label: label, Money: &v})
	}
	m("Float", rep.Float)
	m(fmt.Sprintf("Sales (%d)", rep.Sales), rep.SalesTotal)
	m(fmt.Sprintf("Refunds (%d)", rep.Refunds), -rep.Refunded)
	m(fmt.Sprintf("Voids (%d)", rep.Voids), -rep.Voided)
	m("Total kept", rep.Total)
	m("of which tax", rep.Tax)
	m("Cash in", rep.CashIn)
	m("Cash out", -rep.CashOut)
	m("Cash expected", rep.CashExpected)
	if err := r.Validate(); err != nil {
		return err
	}
	if _, err := t.hw.Enqueue(r); err != nil {
		if errors.Is(err, hw.ErrNoDevice) {
			return fmt.Errorf("%w: this till has no receipt printer", ui.ErrUnavailable)
		}
		return err
	}
	return nil
}
