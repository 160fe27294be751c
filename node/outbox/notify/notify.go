package notify

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

// Store settings (replicated, the same at every till), each JSON.
const (
	RulesSetting    = "outbox.rules"    // Rules
	TelegramSetting = "outbox.telegram" // TelegramSettings
	WebhookSetting  = "outbox.webhook"  // WebhookSettings
)

// Rules are what a manager wants to hear about.
type Rules struct {
	// ShiftClosed sends each closed shift's summary.
	ShiftClosed bool `json:"shift_closed"`
	// RefundOver and VoidOver send each refund or void whose amount is
	// at least this many minor units (tax included); nil leaves them
	// out. RefundOver also covers returns without a receipt: money goes
	// back all the same.
	RefundOver *int64 `json:"refund_over,omitempty"`
	VoidOver   *int64 `json:"void_over,omitempty"`
	// FiscalBacklogHours sends an alert once when the oldest receipt
	// waiting for fiscal registration is this many hours old.
	FiscalBacklogHours *int64 `json:"fiscal_backlog_hours,omitempty"`
	// TillOfflineMinutes sends an alert once when a till of the store
	// has not been heard from for this many minutes.
	TillOfflineMinutes *int64 `json:"till_offline_minutes,omitempty"`
	// LowStock alerts once a day for each product at or below its
	// reorder point; Overspend once for each sale refunded or spent
	// beyond what it held (ledger.Fold.Overspends), again if more is
	// spent; Anomaly once for each anomaly in the ledger
	// (ledger.Fold.Anomalies).
	LowStock  bool `json:"low_stock,omitempty"`
	Overspend bool `json:"overspend,omitempty"`
	Anomaly   bool `json:"anomaly,omitempty"`
}

// Check reports what is wrong with r.
func (r Rules) Check() error {
	if (r.RefundOver != nil && *r.RefundOver < 0) || (r.VoidOver != nil && *r.VoidOver < 0) {
		return errors.New("notification rules: amounts must not be negative")
	}
	if (r.FiscalBacklogHours != nil && (*r.FiscalBacklogHours < 1 || *r.FiscalBacklogHours > 24*30)) ||
		(r.TillOfflineMinutes != nil && (*r.TillOfflineMinutes < 1 || *r.TillOfflineMinutes > 24*60*30)) {
		return errors.New("notification rules: a fiscal backlog alert takes 1-720 hours, a till offline alert 1-43200 minutes")
	}
	return nil
}

// SettingsReader reads a store setting; ok is false when it is unset.
type SettingsReader func(ctx context.Context, name string) (value []byte, ok bool, err error)

// Describe writes an event's message. Node gives one that adds what
// only the ledger's folds know (a shift's Z figures); nil uses Text.
type Describe func(it outbox.Item) string

// sender delivers one message: Telegram or a webhook.
type sender interface {
	name() string
	setting() string
	// load parses the sender's setting; it returns the "since" time.
	load(raw []byte) (since int64, err error)
	send(ctx context.Context, m Payload) (outbox.Result, error)
}

// Connector sends the events a manager's rules pick to one destination,
// in order (Window 1), each once.
type Connector struct {
	read     SettingsReader
	s        sender
	describe Describe

	mu    sync.Mutex
	rules Rules
	since int64
	// sendMu serialises the sender's settings (load) with its sends: the
	// outbox's loop and alerts (Alert) share it.
	sendMu sync.Mutex
}

func (c *Connector) Name() string { return c.s.name() }
func (c *Connector) Noun() string { return "messages" }
func (c *Connector) Window() int  { return 1 }

// Prepare reads the rules and the destination's settings.
func (c *Connector) Prepare(ctx context.Context) (bool, error) {
	raw, ok, err := c.read(ctx, c.s.setting())
	if err != nil || !ok {
		return false, err
	}
	c.sendMu.Lock()
	since, err := c.s.load(raw)
	c.sendMu.Unlock()
	if err != nil {
		return false, err
	}
	var r Rules
	if raw, ok, err := c.read(ctx, RulesSetting); err != nil {
		return false, err
	} else if ok {
		if err := json.Unmarshal(raw, &r); err != nil {
			return false, fmt.Errorf("setting %s: %w", RulesSetting, err)
		}
	}
	c.mu.Lock()
	c.rules, c.since = r, since
	c.mu.Unlock()
	return true, nil
}

// Wants applies the rules.
func (c *Connector) Wants(ev *ledger.Event) bool {
	c.mu.Lock()
	r, since := c.rules, c.since
	c.mu.Unlock()
	if ev.Time.Wall < since {
		return false
	}
	switch b := ev.Body.(type) {
	case *ledger.ShiftClose:
		return r.ShiftClosed
	case *ledger.Refund:
		return r.RefundOver != nil && int64(refundTotal(b)) >= *r.RefundOver
	case *ledger.Void:
		return r.VoidOver != nil && int64(b.Total) >= *r.VoidOver
	case *ledger.Return:
		t, err := b.Totals()
		return r.RefundOver != nil && err == nil && int64(t.Total) >= *r.RefundOver
	}
	return false
}

func refundTotal(b *ledger.Refund) ledger.Money {
	var t ledger.Money
	for _, l := range b.Lines {
		t += l.Amount
	}
	return t
}

// Send writes the message and delivers it.
func (c *Connector) Send(ctx context.Context, it outbox.Item) (outbox.Result, error) {
	text := ""
	if c.describe != nil {
		text = c.describe(it)
	}
	if text == "" {
		text = Text(it)
	}
	body, _ := json.Marshal(it.Event.Body)
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.s.send(ctx, Payload{ID: it.Event.ID().String(), Kind: string(it.Event.Kind()), Till: it.Number, Receipt: it.Receipt,
		Time: time.UnixMilli(it.Event.Time.Wall).UTC().Format(time.RFC3339Nano), Text: text, Body: body})
}

// Alert sends a message that no event stands for (a fiscal backlog
// grown old, a till gone quiet), if this destination is configured (its
// Prepare said so). key names the alert for the receiver (webhook:
// Tillmesh-Event-Id) and must be unique per alert.
func (c *Connector) Alert(ctx context.Context, key, text string, at time.Time) (outbox.Result, error) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.s.send(ctx, Payload{ID: key, Kind: "alert", Time: at.UTC().Format(time.RFC3339Nano), Text: text, Body: json.RawMessage("null")})
}

// AlertRules returns the rules Prepare last read.
func (c *Connector) AlertRules() Rules {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rules
}

// Text describes an event from the event alone.
func Text(it outbox.Item) string {
	at := time.UnixMilli(it.Event.Time.Wall).UTC().Format("2006-01-02 15:04 UTC")
	switch b := it.Event.Body.(type) {
	case *ledger.ShiftClose:
		return fmt.Sprintf("Till %d closed its shift at %s (staff %s): counted cash %s %s.", it.Number, at, b.Staff, b.CountedCash(), b.Currency)
	case *ledger.Refund:
		s := fmt.Sprintf("Refund of %s %s at till %d, receipt %s, %s (staff %s)", refundTotal(b), b.Currency, it.Number, it.Receipt, at, b.Staff)
		if b.Reason != "" {
			s += ": " + b.Reason
		}
		return s + "."
	case *ledger.Return:
		var total ledger.Money
		if t, err := b.Totals(); err == nil {
			total = t.Total
		}
		s := fmt.Sprintf("Return without a receipt of %s %s at till %d, %s %s (staff %s)", total, b.Currency, it.Number, it.Receipt, at, b.Staff)
		if b.Approver != "" {
			s += ", approved by " + b.Approver
		}
		if b.Reason != "" {
			s += ": " + b.Reason
		}
		return s + "."
	case *ledger.Void:
		s := fmt.Sprintf("Void of %s %s at till %d, receipt %s, %s (approved by %s)", b.Total, b.Currency, it.Number, it.Receipt, at, b.Manager)
		if b.Reason != "" {
			s += ": " + b.Reason
		}
		return s + "."
	}
	return fmt.Sprintf("%s at till %d, receipt %s, %s.", it.Event.Kind(), it.Number, it.Receipt, at)
}
