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
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Slips (issue 16): every event that moves money or opens the drawer
// prints, not only sales and Z reports: refunds, voids, returns without a
// receipt, cash in and out, no-sales, and the X report on demand. A slip
// is a report-form receipt (receipt.Receipt with Title and Summary), so
// it prints at 58 and 80 mm with the Z report's layout, carries the
// event's number and QR code, and is kept in the print queue's history
// for a reprint (POST /api/reprint with its event ID).

// Store settings a printout reads (issue 20): the store's language, in
// which every receipt and slip prints (i18n.ParseLang; default
// English), and its time zone (an IANA name; default the till's local
// zone). The currency is ui.SettingCurrency.
const (
	settingLanguage = "language"
	settingTimeZone = ui.SettingTimeZone
)

// printLocale is how this store's printouts speak: its language, the
// currency for events that name none, and its time zone. A setting that
// is missing or wrong falls back (English, EUR, the local zone): a
// receipt always prints; a wrong one is logged.
func (t *Till) printLocale(ctx context.Context) (i18n.Lang, string, *time.Location) {
	lang, cur, loc := i18n.English, "EUR", time.Local
	if v, ok, err := t.Setting(ctx, settingLanguage); err == nil && ok && v != "" {
		if l, err := i18n.ParseLang(v); err == nil {
			lang = l
		} else {
			t.log.Warn("store language setting: printing in English", "value", v, "err", err)
		}
	}
	if v, ok, err := t.Setting(ctx, ui.SettingCurrency); err == nil && ok && len(v) == 3 {
		cur = v
	}
	if v, ok, err := t.Setting(ctx, settingTimeZone); err == nil && ok && v != "" {
		if l, err := time.LoadLocation(v); err == nil && !strings.EqualFold(v, "local") {
			loc = l
		} else {
			t.log.Warn("store time zone setting: printing in the till's zone", "value", v, "err", err)
		}
	}
	return lang, cur, loc
}

// slipInfo is this till's slipInfo, in the store's language and zone.
func (t *Till) slipInfo(ctx context.Context) slipInfo {
	lang, cur, loc := t.printLocale(ctx)
	return slipInfo{Store: t.cfg.Store.Name, Till: t.cert.Name, Number: t.cert.Number, Currency: cur, Lang: lang,
		Location: loc, SaleNumber: t.saleNumber, EventNumber: t.slipNumber}
}

// receiptWords looks up the receipt catalog's words in the store's
// language, for lines a printout gets from elsewhere (the fiscal footer).
func (t *Till) receiptWords(ctx context.Context) func(key string, args ...any) string {
	lang, _, _ := t.printLocale(ctx)
	return func(key string, args ...any) string { return receipt.T(lang, key, args...) }
}

// slipOf builds the slip of one of this till's events; ok is false for
// events that print none (or print otherwise: sales, shift closes).
func (t *Till) slipOf(ev *ledger.Event) (receipt.Receipt, bool, error) {
	return slipReceipt(ev, t.slipInfo(context.Background()))
}

// slipInfo is what a slip needs besides its event.
type slipInfo struct {
	Store, Till string
	Number      uint32
	Currency    string    // for events that name none
	Lang        i18n.Lang // the store's: every word of the slip
	Location    *time.Location
	SaleNumber  func(ledger.EventID) string
	EventNumber func(*ledger.Event) string // slipNumber
}

// word is the receipt catalog's key in the slip's language.
func (i slipInfo) word(key string, args ...any) string { return receipt.T(i.Lang, key, args...) }

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
	r = receipt.Receipt{Store: info.Store, Till: info.Till, Number: info.EventNumber(ev), Lang: string(info.Lang),
		Time: time.UnixMilli(ev.Time.Wall).In(info.Location), Currency: info.Currency, EventID: ev.ID(), Sig: append([]byte(nil), ev.Sig...)}
	if r.Till == "" {
		r.Till = info.word("receipt.till", "n", info.Number)
	}
	w := info.word
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
			m(w("receipt.report.given_back", "tender", receipt.TenderLabel(info.Lang, tn.Kind)), -tn.Amount)
		}
	}
	// rounding prints a cash rounding of what goes back and the amount
	// after it, between the lines and the tenders; none when zero.
	rounding := func(total, r ledger.Money) {
		if r != 0 {
			m(w("receipt.rounding"), -r)
			m(w("receipt.slip.rounded_back"), -(total + r))
		}
	}
	switch b := ev.Body.(type) {
	case *ledger.Refund:
		r.Title, r.Currency, r.Cashier = w("receipt.slip.refund"), b.Currency, b.Staff
		txt(w("receipt.slip.sale"), info.SaleNumber(b.Sale))
		var total ledger.Money
		for _, l := range b.Lines {
			m(w("receipt.slip.line", "name", l.SKU, "qty", l.Qty), -l.Amount)
			total += l.Amount
		}
		rounding(total, b.Rounding)
		tenders(b.Tenders)
		txt(w("receipt.slip.reason"), b.Reason)
	case *ledger.Return:
		r.Title, r.Currency, r.Cashier = w("receipt.slip.return"), b.Currency, b.Staff
		tot, err := b.Totals()
		if err != nil {
			return r, false, err
		}
		for i, l := range b.Lines {
			m(w("receipt.slip.line", "name", l.Name, "qty", l.Qty), -tot.Lines[i].Amount)
			if l.Overridden() {
				txt("  "+w("receipt.slip.price"), info.priceWas(b.Currency, l))
			}
		}
		tenders(b.Tenders)
		txt(w("receipt.slip.approved_by"), b.Approver)
		txt(w("receipt.slip.reason"), b.Reason)
	case *ledger.Void:
		r.Title, r.Currency, r.Cashier = w("receipt.slip.void"), b.Currency, b.Staff
		txt(w("receipt.slip.sale"), info.SaleNumber(b.Sale))
		m(w("receipt.slip.total_voided"), -b.Total)
		rounding(b.Total, b.Rounding)
		if b.Cash > 0 {
			m(w("receipt.slip.cash_given_back"), -b.Cash)
		}
		txt(w("receipt.slip.approved_by"), b.Manager)
		txt(w("receipt.slip.reason"), b.Reason)
	case *ledger.CashIn:
		r.Title, r.Currency, r.Cashier = w("receipt.slip.cash_in"), b.Currency, b.Staff
		m(w("receipt.slip.into_drawer"), b.Amount)
		txt(w("receipt.slip.reason"), b.Reason)
	case *ledger.CashOut:
		r.Title, r.Currency, r.Cashier = w("receipt.slip.cash_out"), b.Currency, b.Staff
		m(w("receipt.slip.out_of_drawer"), -b.Amount)
		txt(w("receipt.slip.reason"), b.Reason)
	case *ledger.NoSale:
		r.Title, r.Cashier = w("receipt.slip.no_sale"), b.Staff
		txt(w("receipt.slip.drawer"), w("receipt.slip.drawer_opened"))
		txt(w("receipt.slip.reason"), b.Reason)
	default:
		return r, false, nil
	}
	return r, true, r.Validate()
}

// priceWas is a line's overridden price and list price, as amounts of
// cur in the slip's language: "2,00 €, была 2,49 €".
func (i slipInfo) priceWas(cur string, l ledger.Line) string {
	c, err := i18n.LookupCurrency(cur)
	if err != nil {
		c = i18n.Currency{Code: cur, Digits: 2}
	}
	return i.word("receipt.slip.price_was", "price", i18n.FormatMoney(i.Lang, c, l.UnitPrice), "list", i18n.FormatMoney(i.Lang, c, l.ListPrice))
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
	w := info.word
	r := receipt.Receipt{Store: info.Store, Till: info.Till, Cashier: sl.Staff, Number: info.EventNumber(sale), Title: w("receipt.slip.exchange"),
		Lang: string(info.Lang), Time: time.UnixMilli(sale.Time.Wall).In(info.Location), Currency: sl.Currency, EventID: sale.ID(),
		Sig: append([]byte(nil), sale.Sig...)}
	if r.Till == "" {
		r.Till = w("receipt.till", "n", info.Number)
	}
	m := func(label string, v ledger.Money) {
		r.Summary = append(r.Summary, receipt.Row{Label: label, Money: &v})
	}
	txt := func(label, v string) {
		if v != "" {
			r.Summary = append(r.Summary, receipt.Row{Label: label, Text: v})
		}
	}
	tender := func(k ledger.TenderKind) string { return receipt.TenderLabel(info.Lang, k) }
	txt(w("receipt.slip.goods_back"), w("receipt.slip.return_no", "number", info.EventNumber(ret)))
	for i, l := range rt.Lines {
		m("  "+w("receipt.slip.line", "name", l.Name, "qty", l.Qty), -rtot.Lines[i].Amount)
		if l.Overridden() {
			txt("    "+w("receipt.slip.price"), info.priceWas(rt.Currency, l))
		}
	}
	m(w("receipt.slip.total_back"), -rtot.Total)
	txt(w("receipt.slip.new_goods"), w("receipt.slip.sale_no", "number", r.Number))
	for i, l := range sl.Lines {
		m("  "+w("receipt.slip.line", "name", l.Name, "qty", l.Qty), stot.Lines[i].Amount)
		if l.Overridden() {
			txt("    "+w("receipt.slip.price"), info.priceWas(sl.Currency, l))
		}
	}
	if sl.CartDiscount > 0 {
		m("  "+w("receipt.discount"), -sl.CartDiscount)
	}
	m(w("receipt.slip.total_new"), stot.Total)
	m("  "+w("receipt.report.of_which_tax"), stot.Tax)
	if d := stot.Total - rtot.Total; d >= 0 {
		m(w("receipt.slip.difference_paid"), d)
		if sl.Rounding != 0 { // the cash part of the difference, rounded
			m("  "+w("receipt.rounding"), sl.Rounding)
		}
		for _, tn := range sl.Tenders {
			if !(tn.Kind == ledger.Other && tn.Ref == ledger.ExchangeRef) {
				m("  "+w("receipt.slip.paid", "tender", tender(tn.Kind)), tn.Amount)
			}
		}
		if sl.Change > 0 {
			m("  "+w("receipt.change"), -sl.Change)
		}
	} else {
		m(w("receipt.slip.difference_back"), d)
		for _, tn := range rt.Tenders {
			if !(tn.Kind == ledger.Other && tn.Ref == ledger.ExchangeRef) {
				label := "  " + w("receipt.report.given_back", "tender", tender(tn.Kind))
				if tn.Kind == ledger.StoreCreditTender {
					label = "  " + w("receipt.slip.store_credit", "ref", tn.Ref)
				}
				m(label, -tn.Amount)
			}
		}
	}
	txt(w("receipt.slip.approved_by"), rt.Approver)
	txt(w("receipt.slip.reason"), rt.Reason)
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
	r, err := exchangeReceipt(ret, sale, t.slipInfo(context.Background()))
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
	info := t.slipInfo(ctx)
	w := info.word
	r := receipt.Receipt{Store: t.cfg.Store.Name, Till: t.cert.Name, Cashier: sh.Staff, Number: "X " + t.slipNumber(ev),
		Time: time.UnixMilli(sh.Opened.Wall).In(info.Location), Currency: rep.Currency, Lang: string(info.Lang), EventID: id,
		Sig: append([]byte(nil), ev.Sig...), Title: w("receipt.report.x")}
	if r.Currency == "" {
		r.Currency = info.Currency
	}
	if r.Till == "" {
		r.Till = w("receipt.till", "n", t.cert.Number)
	}
	r.Summary = xRows(info, rep)
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

// xRows are an X report's rows: the open shift's figures so far, the
// cash rounding the store took when there was any, and the cash the
// drawer should hold (which holds the rounding already).
func xRows(info slipInfo, rep ledger.Report) []receipt.Row {
	w := info.word
	var rows []receipt.Row
	m := func(label string, v ledger.Money) {
		rows = append(rows, receipt.Row{Label: label, Money: &v})
	}
	m(w("receipt.report.float"), rep.Float)
	m(w("receipt.report.sales", "n", rep.Sales), rep.SalesTotal)
	m(w("receipt.report.refunds", "n", rep.Refunds), -rep.Refunded)
	m(w("receipt.report.voids", "n", rep.Voids), -rep.Voided)
	m(w("receipt.report.total_kept"), rep.Total)
	m(w("receipt.report.of_which_tax"), rep.Tax)
	if rep.Rounding != 0 {
		m(w("receipt.rounding"), rep.Rounding)
	}
	m(w("receipt.report.cash_in"), rep.CashIn)
	m(w("receipt.report.cash_out"), -rep.CashOut)
	m(w("receipt.report.cash_expected"), rep.CashExpected)
	return rows
}
