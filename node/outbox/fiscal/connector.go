package fiscal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/outbox"
)

// SettingName is the store setting (replicated, the same at every till)
// that configures fiscal registration: a JSON Settings.
const SettingName = "outbox.fiscal"

// Settings configure the store's fiscal registration.
type Settings struct {
	URL string `json:"url"` // the service, for the reference provider
	TIN string `json:"tin"` // the store's (seller's) tax ID
	// Token is the service's API token; never shown back on a screen.
	Token string `json:"token,omitempty"`
	// Since is when the store started fiscalizing (Unix ms): earlier
	// events are not registered.
	Since int64 `json:"since"`
	// PerTill registers each till's receipts in the till's order (a
	// service that numbers a terminal's receipts and refuses one older
	// than the last); tills still go in parallel.
	PerTill bool `json:"per_till_order,omitempty"`
}

// Check reports what is wrong with s.
func (s Settings) Check() error {
	if _, err := CheckURL(s.URL); err != nil {
		return err
	}
	if s.TIN == "" || len(s.TIN) > 32 {
		return errors.New("fiscal settings: the store's tax ID must be 1-32 characters")
	}
	if len(s.Token) > 512 {
		return errors.New("fiscal settings: token over 512 characters")
	}
	return nil
}

// SettingsReader reads a store setting; ok is false when it is unset.
type SettingsReader func(ctx context.Context, name string) (value []byte, ok bool, err error)

// Connector is the outbox connector "fiscal": it registers every sale,
// refund, void and shift close with the store's fiscal service.
type Connector struct {
	read  SettingsReader
	fixed Provider
	// Window is how many receipts are in flight at once.
	window int

	mu       sync.Mutex
	settings Settings
	provider Provider
}

// New returns the connector over the store's settings; it builds the
// reference provider from them. window is how many receipts may be in
// flight (the service must accept receipts of one till out of order;
// 1 keeps strict order).
func New(read SettingsReader, window int) *Connector {
	return &Connector{read: read, window: window}
}

// NewWithProvider returns a connector that always uses p with s (tests,
// other providers).
func NewWithProvider(p Provider, s Settings, window int) *Connector {
	return &Connector{fixed: p, settings: s, provider: p, window: window}
}

func (c *Connector) Name() string { return "fiscal" }
func (c *Connector) Noun() string { return "receipts" }
func (c *Connector) Window() int  { return c.window }

// PerTill reports whether the service needs each till's receipts in
// order (Settings.PerTill): outbox.PerTiller.
func (c *Connector) PerTill() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settings.PerTill
}

// Prepare reads the settings and rebuilds the provider when they change.
func (c *Connector) Prepare(ctx context.Context) (bool, error) {
	if c.fixed != nil {
		return true, nil
	}
	raw, ok, err := c.read(ctx, SettingName)
	if err != nil || !ok {
		return false, err
	}
	var s Settings
	if err := json.Unmarshal(raw, &s); err != nil {
		return false, fmt.Errorf("setting %s: %w", SettingName, err)
	}
	if err := s.Check(); err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider == nil || s.URL != c.settings.URL || s.Token != c.settings.Token {
		p, err := NewHTTP(s.URL, s.Token, nil)
		if err != nil {
			return false, err
		}
		c.provider = p
	}
	c.settings = s
	return true, nil
}

// Wants is true for sales, refunds, voids and shift closes made since the
// store started fiscalizing.
func (c *Connector) Wants(ev *ledger.Event) bool {
	c.mu.Lock()
	since := c.settings.Since
	c.mu.Unlock()
	if ev.Time.Wall < since {
		return false
	}
	switch ev.Body.(type) {
	case *ledger.Sale, *ledger.Refund, *ledger.Void, *ledger.ShiftClose:
		return true
	}
	return false
}

// Send registers one event.
func (c *Connector) Send(ctx context.Context, it outbox.Item) (outbox.Result, error) {
	c.mu.Lock()
	p, s := c.provider, c.settings
	c.mu.Unlock()
	var reg Registration
	var err error
	switch b := it.Event.Body.(type) {
	case *ledger.ShiftClose:
		reg, err = p.RegisterZReport(ctx, ZReportRequest{ID: it.Event.ID().String(), Time: when(it.Event),
			TIN: s.TIN, Terminal: terminal(it.Number), Cashier: b.Staff, Currency: b.Currency, CountedCash: int64(b.CountedCash())})
	case *ledger.Sale:
		var r ReceiptRequest
		if r, err = SaleRequest(it, s.TIN, b); err != nil {
			return outbox.Result{}, outbox.Reject("bad_receipt", "%v", err)
		}
		reg, err = p.RegisterReceipt(ctx, r)
	case *ledger.Refund, *ledger.Void:
		reg, err = p.RegisterRefund(ctx, RefundRequest(it, s.TIN))
	default:
		return outbox.Result{}, outbox.Reject("not_fiscal", "a %s event is not registered", it.Event.Kind())
	}
	if err != nil {
		return outbox.Result{}, err
	}
	return outbox.Result{Ref: reg.Number, Sign: reg.Sign, URL: reg.URL}, nil
}

func when(ev *ledger.Event) string {
	return time.UnixMilli(ev.Time.Wall).UTC().Format(time.RFC3339Nano)
}

func terminal(n uint32) string { return fmt.Sprintf("till-%d", n) }

func qty(q int64, u ledger.Unit) int64 {
	if u == ledger.Kilogram {
		return q // grams are thousandths of a kilogram
	}
	return q * 1000
}

func unit(u ledger.Unit) string {
	if u == "" {
		return string(ledger.Each)
	}
	return string(u)
}

// SaleRequest builds the receipt of a sale.
func SaleRequest(it outbox.Item, tin string, s *ledger.Sale) (ReceiptRequest, error) {
	t, err := s.Totals()
	if err != nil {
		return ReceiptRequest{}, fmt.Errorf("sale %s: %w", it.Receipt, err)
	}
	r := ReceiptRequest{ID: it.Event.ID().String(), Type: TypeSale, Time: when(it.Event), TIN: tin,
		Terminal: terminal(it.Number), Receipt: it.Receipt, Cashier: s.Staff, Currency: s.Currency,
		Total: int64(t.Total), VAT: int64(t.Tax), Rounding: int64(s.Rounding)}
	for i, l := range s.Lines {
		lt := t.Lines[i]
		r.Items = append(r.Items, Item{Name: l.Name, SKU: l.SKU, Qty: qty(l.Qty, l.Unit), Unit: unit(l.Unit),
			Price: int64(l.UnitPrice), Discount: int64(lt.Discount + lt.CartDiscount), Amount: int64(lt.Amount),
			VATRate: int32(l.TaxRate), VAT: int64(lt.Tax)})
	}
	for _, td := range s.Tenders {
		switch td.Kind {
		case ledger.Cash:
			r.Payments.Cash += int64(td.Amount)
		case ledger.Card:
			r.Payments.Card += int64(td.Amount)
		default:
			r.Payments.Other += int64(td.Amount)
		}
	}
	r.Payments.Cash -= int64(s.Change)
	return r, nil
}

// RefundRequest builds the receipt of a refund or void.
func RefundRequest(it outbox.Item, tin string) ReceiptRequest {
	r := ReceiptRequest{ID: it.Event.ID().String(), Time: when(it.Event), TIN: tin,
		Terminal: terminal(it.Number), Receipt: it.Receipt}
	orig := &Original{}
	if it.Original != nil && it.Original.State == outbox.Sent {
		orig.FiscalNumber = it.Original.Ref
	}
	switch b := it.Event.Body.(type) {
	case *ledger.Refund:
		r.Type, r.Cashier, r.Currency, orig.ID = TypeRefund, b.Staff, b.Currency, b.Sale.String()
		r.Rounding = int64(b.Rounding)
		for _, l := range b.Lines {
			r.Items = append(r.Items, Item{SKU: l.SKU, Qty: l.Qty * 1000, Unit: string(ledger.Each), Amount: int64(l.Amount),
				VATRate: int32(l.Rate), VAT: int64(l.Tax)})
			r.Total += int64(l.Amount)
			r.VAT += int64(l.Tax)
		}
		for _, td := range b.Tenders {
			switch td.Kind {
			case ledger.Cash:
				r.Payments.Cash += int64(td.Amount)
			case ledger.Card:
				r.Payments.Card += int64(td.Amount)
			default:
				r.Payments.Other += int64(td.Amount)
			}
		}
	case *ledger.Void:
		r.Type, r.Cashier, r.Currency, orig.ID = TypeVoid, b.Staff, b.Currency, b.Sale.String()
		r.Total = int64(b.Total)
		for _, bd := range b.Bands {
			r.Items = append(r.Items, Item{Name: "VAT band " + bd.Rate.String(), Amount: int64(bd.Net + bd.Tax),
				VATRate: int32(bd.Rate), VAT: int64(bd.Tax), Unit: string(ledger.Each), Qty: 1000})
			r.VAT += int64(bd.Tax)
		}
		r.Payments.Cash = int64(b.Cash)
		r.Payments.Card = int64(b.Total + b.Rounding - b.Cash)
		r.Rounding = int64(b.Rounding)
	}
	r.Original = orig
	return r
}
