package receipt

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// ErrInvalid means a receipt or a layout is malformed.
var ErrInvalid = errors.New("receipt: invalid")

// A Receipt is what a printed receipt says. Amounts are the ledger's, in
// minor units of Currency.
type Receipt struct {
	Store   string   `json:"store"`
	Header  []string `json:"header,omitempty"` // address, tax number: printed centred under the name
	Footer  []string `json:"footer,omitempty"`
	Till    string   `json:"till"` // "Till 3", or the till's name
	Cashier string   `json:"cashier,omitempty"`
	Number  string   `json:"number"` // receipt number (ledger.ReceiptNo); a Z report's "<till>-<shift>"
	// Code is what the barcode encodes (ledger.ReceiptCode), the same as
	// the receipt screen's barcode. Empty (a receipt queued by an earlier
	// release): Number, as that release printed it.
	Code     string    `json:"code,omitempty"`
	Time     time.Time `json:"time"` // printed in its own location
	Currency string    `json:"currency"`
	// Lang is the store's language, in which every word prints
	// (i18n.Lang); empty or unknown: English. The labels of a report's
	// rows are already in it.
	Lang         string       `json:"lang,omitempty"`
	TaxIncluded  bool         `json:"tax_included,omitempty"`
	Lines        []Line       `json:"lines"`
	CartDiscount ledger.Money `json:"cart_discount,omitempty"`
	Tax          ledger.Money `json:"tax"`
	Total        ledger.Money `json:"total"`
	// Rounding is the sale's cash rounding (ledger.Sale.Rounding): when
	// not zero it prints under the total with the amount due after it,
	// Total plus Rounding, before the tenders.
	Rounding ledger.Money   `json:"rounding,omitempty"`
	Bands    []Band         `json:"bands,omitempty"` // by rate, ascending
	Tenders  []Tender       `json:"tenders"`
	Change   ledger.Money   `json:"change,omitempty"`
	Customer string         `json:"customer,omitempty"`
	EventID  ledger.EventID `json:"event_id"`
	Sig      []byte         `json:"sig"`
	// Verify is the start of the QR payload: a URL where the receipt can
	// be checked, or empty for DefaultVerify.
	Verify string `json:"verify,omitempty"`
	// FiscalQR is the fiscal service's verification URL of a registered
	// receipt, printed as a QR code of its own under the footer.
	FiscalQR string `json:"fiscal_qr,omitempty"`

	// Title, when set, makes the printout a report (a shift's Z report):
	// the title and Summary print instead of sale lines, totals, tenders
	// and tax bands.
	Title   string     `json:"title,omitempty"`
	Summary []Row      `json:"summary,omitempty"`
	Closed  *time.Time `json:"closed,omitempty"` // a report's end; Time is its start
}

// Row is one line of a report: a label and an amount, or a label and a
// text (a count, a name).
type Row struct {
	Label string        `json:"label"`
	Money *ledger.Money `json:"money,omitempty"`
	Text  string        `json:"text,omitempty"`
}

// maxRows bounds a report's summary.
const maxRows = 64

// Line is one sale line as printed.
type Line struct {
	Name      string         `json:"name"`
	SKU       string         `json:"sku,omitempty"`
	Qty       int64          `json:"qty"` // units, or grams for Kilogram
	Unit      ledger.Unit    `json:"unit,omitempty"`
	UnitPrice ledger.Money   `json:"unit_price"`
	Gross     ledger.Money   `json:"gross"`              // quantity x unit price
	Discount  ledger.Money   `json:"discount,omitempty"` // the line's own discount
	Rate      ledger.TaxRate `json:"rate"`
	// A price override (issue 16): the catalog price and the reason.
	ListPrice      ledger.Money `json:"list_price,omitempty"`
	OverrideReason string       `json:"override_reason,omitempty"`
}

// Band is the net and tax of the lines at one rate.
type Band struct {
	Rate ledger.TaxRate `json:"rate"`
	Net  ledger.Money   `json:"net"`
	Tax  ledger.Money   `json:"tax"`
}

// Tender is one payment.
type Tender struct {
	Kind   ledger.TenderKind `json:"kind"`
	Amount ledger.Money      `json:"amount"`
	Ref    string            `json:"ref,omitempty"`
	// Left is the balance left on the card of a gift card or store
	// credit tender after the sale (nil: not known, not printed).
	Left *ledger.Money `json:"left,omitempty"`
}

// Info is what a receipt needs besides the sale event: the store's and
// the till's names and where the time is printed.
type Info struct {
	Store  string
	Header []string
	Footer []string
	Till   string // empty: "Till <number>"
	Number uint32 // the till's number in the store
	// Receipt is the sale's receipt number (ledger.State.ReceiptNumber);
	// for a Z report, the shift's number at its till (1 for the first).
	Receipt uint64
	Cashier string // empty: the sale's staff
	// Lang is the store's language (the store setting "language"); the
	// receipt prints in it. Empty: English.
	Lang     i18n.Lang
	Location *time.Location
	Verify   string // QR payload prefix; empty: DefaultVerify
	FiscalQR string // the fiscal verification URL (Receipt.FiscalQR)
	// CardLeft is the balance left on each card (by number) a gift card
	// or store credit tender paid with, printed under the tender.
	CardLeft map[string]ledger.Money
}

// FromSale fills a Receipt from a signed sale event.
func FromSale(ev *ledger.Event, info Info) (Receipt, error) {
	if ev == nil {
		return Receipt{}, fmt.Errorf("no event: %w", ErrInvalid)
	}
	s, ok := ev.Body.(*ledger.Sale)
	if !ok {
		return Receipt{}, fmt.Errorf("event %d is a %s, not a sale: %w", ev.Seq, ev.Kind(), ErrInvalid)
	}
	if ev.ID().IsZero() || len(ev.Sig) == 0 {
		return Receipt{}, fmt.Errorf("event %d is not signed: %w", ev.Seq, ErrInvalid)
	}
	if info.Receipt == 0 {
		return Receipt{}, fmt.Errorf("sale %d has no receipt number: %w", ev.Seq, ErrInvalid)
	}
	t, err := s.Totals()
	if err != nil {
		return Receipt{}, fmt.Errorf("sale %d: %v: %w", ev.Seq, err, ErrInvalid)
	}
	loc := info.Location
	if loc == nil {
		loc = time.UTC
	}
	r := Receipt{
		Store: info.Store, Header: info.Header, Footer: info.Footer, FiscalQR: info.FiscalQR,
		Till: info.Till, Cashier: info.Cashier, Number: ledger.ReceiptNo(info.Number, info.Receipt),
		Code: ledger.ReceiptCode(info.Number, info.Receipt),
		Time: time.UnixMilli(ev.Time.Wall).In(loc), Currency: s.Currency, Lang: string(info.Lang), TaxIncluded: s.TaxIncluded,
		CartDiscount: s.CartDiscount, Tax: t.Tax, Total: t.Total, Rounding: s.Rounding, Change: s.Change,
		EventID: ev.ID(), Sig: append([]byte(nil), ev.Sig...), Verify: info.Verify,
	}
	if r.Till == "" {
		r.Till = T(info.Lang, "receipt.till", "n", info.Number)
	}
	if r.Cashier == "" {
		r.Cashier = s.Staff
	}
	r.Customer = s.Customer // the number only: erasure leaves receipts as printed
	for i, l := range s.Lines {
		name := l.Name
		if name == "" {
			name = l.SKU
		}
		r.Lines = append(r.Lines, Line{Name: name, SKU: l.SKU, Qty: l.Qty, Unit: l.Unit, UnitPrice: l.UnitPrice,
			Gross: t.Lines[i].Gross, Discount: l.Discount, Rate: l.TaxRate, ListPrice: l.ListPrice, OverrideReason: l.OverrideReason})
	}
	for _, b := range t.Bands {
		r.Bands = append(r.Bands, Band{Rate: b.Rate, Net: b.Net, Tax: b.Tax})
	}
	for _, tn := range s.Tenders {
		rt := Tender{Kind: tn.Kind, Amount: tn.Amount, Ref: tn.Ref}
		if left, ok := info.CardLeft[tn.Ref]; ok && (tn.Kind == ledger.GiftCardTender || tn.Kind == ledger.StoreCreditTender) {
			rt.Left = &left
		}
		r.Tenders = append(r.Tenders, rt)
	}
	return r, r.Validate()
}

// FromShiftClose fills a Z report printout from a signed shift_close
// event and the shift the ledger folded up to it.
func FromShiftClose(ev *ledger.Event, sh *ledger.Shift, info Info) (Receipt, error) {
	if ev == nil || sh == nil {
		return Receipt{}, fmt.Errorf("no event or shift: %w", ErrInvalid)
	}
	if _, ok := ev.Body.(*ledger.ShiftClose); !ok {
		return Receipt{}, fmt.Errorf("event %d is a %s, not a shift close: %w", ev.Seq, ev.Kind(), ErrInvalid)
	}
	if ev.ID().IsZero() || len(ev.Sig) == 0 {
		return Receipt{}, fmt.Errorf("event %d is not signed: %w", ev.Seq, ErrInvalid)
	}
	loc := info.Location
	if loc == nil {
		loc = time.UTC
	}
	rep := sh.Report
	closed := time.UnixMilli(ev.Time.Wall).In(loc)
	r := Receipt{
		Store: info.Store, Header: info.Header, Till: info.Till, Cashier: info.Cashier, Number: ledger.ReceiptNo(info.Number, info.Receipt),
		Time: time.UnixMilli(sh.Opened.Wall).In(loc), Closed: &closed, Currency: rep.Currency, Lang: string(info.Lang),
		EventID: ev.ID(), Sig: append([]byte(nil), ev.Sig...), Verify: info.Verify, Title: T(info.Lang, "receipt.report.z"),
	}
	if r.Currency == "" {
		r.Currency = "EUR"
	}
	if r.Till == "" {
		r.Till = T(info.Lang, "receipt.till", "n", info.Number)
	}
	if r.Cashier == "" {
		r.Cashier = sh.Staff
	}
	l := info.Lang
	m := func(v ledger.Money, key string, args ...any) {
		r.Summary = append(r.Summary, Row{Label: T(l, key, args...), Money: &v})
	}
	m(rep.Float, "receipt.report.float")
	m(rep.SalesTotal, "receipt.report.sales", "n", rep.Sales)
	if rep.Refunds > 0 {
		m(-rep.Refunded, "receipt.report.refunds", "n", rep.Refunds)
	}
	if rep.Voids > 0 {
		m(-rep.Voided, "receipt.report.voids", "n", rep.Voids)
	}
	m(rep.Total, "receipt.report.total_kept")
	m(rep.Tax, "receipt.report.of_which_tax")
	for _, k := range []ledger.TenderKind{ledger.Cash, ledger.Card, ledger.Other} {
		if v, ok := rep.Tenders[k]; ok {
			m(v, "receipt.report.taken", "tender", TenderLabel(l, k))
		}
		if v, ok := rep.RefundTenders[k]; ok {
			m(-v, "receipt.report.given_back", "tender", TenderLabel(l, k))
		}
	}
	if rep.Rounding != 0 {
		m(rep.Rounding, "receipt.rounding")
	}
	if rep.CashIn != 0 {
		m(rep.CashIn, "receipt.report.cash_in")
	}
	if rep.CashOut != 0 {
		m(-rep.CashOut, "receipt.report.cash_out")
	}
	if rep.NoSales > 0 {
		r.Summary = append(r.Summary, Row{Label: T(l, "receipt.report.no_sales"), Text: fmt.Sprint(rep.NoSales)})
	}
	m(sh.Expected, "receipt.report.cash_expected")
	m(sh.Counted, "receipt.report.cash_counted")
	switch d := sh.OverShort; {
	case d > 0:
		m(d, "receipt.report.over")
	case d < 0:
		m(d, "receipt.report.short")
	default:
		r.Summary = append(r.Summary, Row{Label: T(l, "receipt.report.drawer"), Text: T(l, "receipt.report.drawer_right")})
	}
	return r, r.Validate()
}

// Bounds on what a receipt may hold, so that a damaged queue file cannot
// make the till print forever.
const (
	maxText   = 256
	maxExtras = 16 // header and footer lines each
)

// Validate checks that the receipt can be printed: it has a number, a
// currency, at most ledger.MaxLines lines, bounded text and a signature.
func (r *Receipt) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("receipt %q: %s: %w", r.Number, fmt.Sprintf(format, args...), ErrInvalid)
	}
	report := r.Title != ""
	switch {
	case r.Number == "":
		return bad("no number")
	case len(r.Currency) != 3:
		return bad("currency %q", r.Currency)
	case report && (len(r.Summary) == 0 || len(r.Summary) > maxRows || len(r.Lines) > 0):
		return bad("report with %d rows and %d sale lines, want 1..%d rows and none", len(r.Summary), len(r.Lines), maxRows)
	case !report && (len(r.Lines) == 0 || len(r.Lines) > ledger.MaxLines):
		return bad("%d lines, want 1..%d", len(r.Lines), ledger.MaxLines)
	case r.Rounding < -ledger.MaxRoundStep || r.Rounding > ledger.MaxRoundStep:
		return bad("rounding %d outside ±%d", r.Rounding, ledger.MaxRoundStep)
	case len(r.Tenders) > ledger.MaxTenders || len(r.Bands) > ledger.MaxLines:
		return bad("%d tenders, %d tax bands", len(r.Tenders), len(r.Bands))
	case len(r.Header) > maxExtras || len(r.Footer) > maxExtras:
		return bad("%d header and %d footer lines, limit %d", len(r.Header), len(r.Footer), maxExtras)
	case len(r.Sig) == 0 || len(r.Sig) > 64 || r.EventID.IsZero():
		return bad("no signature or event id")
	case len(r.FiscalQR) > maxFiscalQR:
		return bad("fiscal QR of %d bytes, limit %d", len(r.FiscalQR), maxFiscalQR)
	}
	texts := []string{r.Store, r.Till, r.Cashier, r.Number, r.Code, r.Verify, r.Title, r.Lang}
	for _, row := range r.Summary {
		texts = append(texts, row.Label, row.Text)
	}
	texts = append(texts, r.Header...)
	texts = append(texts, r.Footer...)
	for _, l := range r.Lines {
		texts = append(texts, l.Name, l.OverrideReason)
		if l.Qty <= 0 || l.Qty > ledger.MaxQty {
			return bad("line %q: quantity %d", l.Name, l.Qty)
		}
	}
	for _, t := range r.Tenders {
		texts = append(texts, string(t.Kind), t.Ref)
	}
	for _, s := range texts {
		if len(s) > maxText || !utf8.ValidString(s) {
			return bad("text %.20q: want valid UTF-8 up to %d bytes", s, maxText)
		}
	}
	return nil
}

// maxFiscalQR bounds the fiscal verification URL a receipt prints as a QR
// code.
const maxFiscalQR = 512

// DefaultVerify starts the QR payload when the receipt names no URL.
const DefaultVerify = "tillmesh:receipt"

// QRPayload is what the receipt's QR code says: prefix, then the EventID
// in hex and the till's ed25519 signature in unpadded base64url, such as
// "tillmesh:receipt?e=<64 hex digits>&s=<86 characters>". The event can
// be fetched from any till or HQ by its ID and its signature checked.
func QRPayload(prefix string, id ledger.EventID, sig []byte) string {
	if prefix == "" {
		prefix = DefaultVerify
	}
	sep := "?"
	if strings.Contains(prefix, "?") {
		sep = "&"
	}
	return prefix + sep + "e=" + id.String() + "&s=" + base64.RawURLEncoding.EncodeToString(sig)
}

// ParseQR reads a payload written by QRPayload back into the EventID and
// the signature.
func ParseQR(payload string) (ledger.EventID, []byte, error) {
	var id ledger.EventID
	i := strings.LastIndex(payload, "e=")
	if i < 1 || (payload[i-1] != '?' && payload[i-1] != '&') {
		return id, nil, fmt.Errorf("qr payload %.40q: no event id: %w", payload, ErrInvalid)
	}
	rest := payload[i+2:]
	hexID, sigPart, ok := strings.Cut(rest, "&s=")
	if !ok {
		return id, nil, fmt.Errorf("qr payload %.40q: no signature: %w", payload, ErrInvalid)
	}
	id, err := ledger.ParseEventID(hexID)
	if err != nil {
		return id, nil, fmt.Errorf("qr payload: %v: %w", err, ErrInvalid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigPart)
	if err != nil || len(sig) != 64 {
		return id, nil, fmt.Errorf("qr payload: signature %.20q: %w", sigPart, ErrInvalid)
	}
	return id, sig, nil
}

// catalog is the built-in message catalogs, loaded once: they never
// change (ui/i18n's tests keep them complete).
var catalog = sync.OnceValues(i18n.Embedded)

// T is the message key of the built-in catalogs in language l (English
// for an empty or unknown one), its placeholders filled from args as
// name, value pairs. The receipt's words are the catalog's receipt.*
// keys (ui/i18n/catalog/receipt.<lang>.json).
func T(l i18n.Lang, key string, args ...any) string {
	c, err := catalog()
	if err != nil {
		return key // Render reports the error
	}
	return c.T(l, key, args...)
}

// lang is the language a receipt prints in: its own, or English.
func lang(code string) i18n.Lang {
	l, err := i18n.ParseLang(code)
	if err != nil {
		return i18n.English
	}
	return l
}

// TenderLabel is a tender kind's name in l ("Cash", "Naqd").
func TenderLabel(l i18n.Lang, k ledger.TenderKind) string {
	switch k {
	case ledger.Cash:
		return T(l, "receipt.tender.cash")
	case ledger.Card:
		return T(l, "receipt.tender.card")
	case ledger.Other:
		return T(l, "receipt.tender.other_tender")
	case ledger.GiftCardTender:
		return T(l, "receipt.tender.gift_card")
	case ledger.StoreCreditTender:
		return T(l, "receipt.tender.store_credit")
	}
	return string(k)
}

// IsCopyMark reports whether a printed line is the copy mark of a
// reprint, in any language.
func IsCopyMark(line string) bool {
	line = strings.TrimSpace(line)
	for _, l := range i18n.Langs {
		if line == T(l, "receipt.copy") {
			return true
		}
	}
	return line == CopyMark
}
