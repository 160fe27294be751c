package ui

import (
	"context"
	"net/http"
	"time"
)

// OutboxStatus is one outbox connector (fiscal, telegram, webhook) as a
// till sees it; every till shows it, and /api/status carries it.
type OutboxStatus struct {
	Connector  string    `json:"connector"`
	Configured bool      `json:"configured"`
	Sending    bool      `json:"sending"` // this till sends for the store
	Reachable  bool      `json:"reachable"`
	Pending    int       `json:"pending"`
	Oldest     time.Time `json:"oldest,omitzero"`
	Dead       int       `json:"dead"`
	LastError  string    `json:"last_error,omitempty"`
	// Line is the backlog in words: "fiscal: 42 receipts pending,
	// oldest 3 h 10 min".
	Line string `json:"line"`
	// LineNote is Line for the page to translate: a till.outbox.line.*
	// key (OutboxLineKeys) and its args, with "age_s" (the oldest
	// pending item's age in seconds), "dead" (dead letters) and
	// "waiting" (the till the store-wide order waits for) added to the
	// sentence when present. Its Text is Line.
	LineNote Note `json:"line_note"`
}

// The keys of an outbox connector's line (OutboxStatus.LineNote).
const (
	OutboxLineNotConfigured   = "till.outbox.line.not_configured"   // {connector}
	OutboxLineElsewhere       = "till.outbox.line.elsewhere"        // {connector} {where}
	OutboxLineCounting        = "till.outbox.line.counting"         // {connector}
	OutboxLineAllSent         = "till.outbox.line.all_sent"         // {connector}
	OutboxLineNothingPending  = "till.outbox.line.nothing_pending"  // {connector}
	OutboxLinePendingReceipts = "till.outbox.line.pending_receipts" // {connector} {n}
	OutboxLinePendingMessages = "till.outbox.line.pending_messages" // {connector} {n}
	OutboxLinePending         = "till.outbox.line.pending"          // {connector} {n} {noun}
	OutboxLineOldest          = "till.outbox.line.oldest"           // {age}, appended
	OutboxLineDead            = "till.outbox.line.dead"             // {n}, appended
	OutboxLineWaiting         = "till.outbox.line.waiting"          // {till}, appended
)

// OutboxLineKeys lists every key of an outbox line.
var OutboxLineKeys = []string{OutboxLineNotConfigured, OutboxLineElsewhere, OutboxLineCounting, OutboxLineAllSent,
	OutboxLineNothingPending, OutboxLinePendingReceipts, OutboxLinePendingMessages, OutboxLinePending, OutboxLineOldest, OutboxLineDead, OutboxLineWaiting}

// DeadLetter is an item a service refused for good, or that failed too
// often, waiting for a manager.
type DeadLetter struct {
	Connector string    `json:"connector"`
	EventID   string    `json:"event_id"`
	Receipt   string    `json:"receipt"`
	Kind      string    `json:"kind"`
	Code      string    `json:"code,omitempty"`
	Reason    string    `json:"reason"`
	Attempts  int       `json:"attempts"`
	At        time.Time `json:"at"`
	Retrying  bool      `json:"retrying,omitempty"`
}

// OutboxSettings are the store's outbox settings as screens read and
// write them. Secrets are never read back: the *Set fields say whether
// one is stored, and an empty secret in a write keeps the stored one.
type OutboxSettings struct {
	Fiscal   FiscalSettings   `json:"fiscal"`
	Telegram TelegramSettings `json:"telegram"`
	Webhook  WebhookSettings  `json:"webhook"`
	Rules    NotifyRules      `json:"rules"`
}

// FiscalSettings configure fiscal registration; an empty URL turns it off.
type FiscalSettings struct {
	URL      string `json:"url"`
	TIN      string `json:"tin"`
	Token    string `json:"token,omitempty"`
	TokenSet bool   `json:"token_set,omitempty"`
	// PerTill registers each till's receipts in the till's order, for
	// a service that needs it.
	PerTill bool `json:"per_till_order,omitempty"`
}

// TelegramSettings configure Telegram messages; an empty chat turns them off.
type TelegramSettings struct {
	API      string `json:"api,omitempty"`
	Chat     string `json:"chat"`
	Token    string `json:"token,omitempty"`
	TokenSet bool   `json:"token_set,omitempty"`
}

// WebhookSettings configure signed webhooks; an empty URL turns them off.
type WebhookSettings struct {
	URL           string `json:"url"`
	AllowInternal bool   `json:"allow_internal,omitempty"`
	Secret        string `json:"secret,omitempty"`
	SecretSet     bool   `json:"secret_set,omitempty"`
}

// NotifyRules are what a manager wants to hear about; amounts are minor
// units, nil leaves the rule off.
type NotifyRules struct {
	ShiftClosed bool   `json:"shift_closed"`
	RefundOver  *int64 `json:"refund_over,omitempty"`
	VoidOver    *int64 `json:"void_over,omitempty"`
	// FiscalBacklogHours and TillOfflineMinutes alert once when the
	// oldest receipt waiting for fiscal registration, or a till's
	// silence, reaches them; nil leaves them off.
	FiscalBacklogHours *int64 `json:"fiscal_backlog_hours,omitempty"`
	TillOfflineMinutes *int64 `json:"till_offline_minutes,omitempty"`
	// LowStock, Overspend and Anomaly alert once for each product at or
	// below its reorder point (once a day while it stays there), each
	// over-spent sale, each anomaly in the ledger.
	LowStock  bool `json:"low_stock,omitempty"`
	Overspend bool `json:"overspend,omitempty"`
	Anomaly   bool `json:"anomaly,omitempty"`
}

// FiscalRecord is a receipt's fiscal registration: pending until the
// fiscal service answers.
type FiscalRecord struct {
	State  string `json:"state"` // "pending", "sent", "rejected", "retry", "off"
	Number string `json:"fiscal_number,omitempty"`
	Sign   string `json:"fiscal_sign,omitempty"`
	URL    string `json:"url,omitempty"`
	// QR is the verification URL as a QR code image, a data: URL the
	// receipt screen shows; empty without a URL.
	QR     string `json:"qr,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Outboxer is what a Till implements to show and steer its store's
// outbox. A Till without it answers 501 on these routes.
type Outboxer interface {
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
	// RetryDeadLetter sends a dead letter again (ErrNotFound if it is
	// not in the list).
	RetryDeadLetter(ctx context.Context, connector, eventID string) error
	OutboxSettings(ctx context.Context) (OutboxSettings, error)
	// PutOutboxSettings checks and stores s (ErrBadRequest naming what
	// is wrong; nothing changes then).
	PutOutboxSettings(ctx context.Context, s OutboxSettings) error
	// FiscalRecord returns a sale's fiscal registration.
	FiscalRecord(ctx context.Context, eventID string) (FiscalRecord, error)
}

// outboxRoutes registers the outbox's routes: its state and dead letters
// for staff, settings and retries for managers (settings permission).
func (a *API) outboxRoutes(h func(string, access, handlerFunc), p func(string, Permission, handlerFunc)) {
	h("GET /api/outbox", staff, a.getOutbox)
	h("GET /api/outbox/fiscal/{event}", staff, a.getFiscalRecord)
	p("POST /api/outbox/retry", PermSettings, a.postOutboxRetry)
	p("GET /api/outbox/settings", PermSettings, a.getOutboxSettings)
	p("PUT /api/outbox/settings", PermSettings, a.putOutboxSettings)
}

func (a *API) outboxer(w http.ResponseWriter) (Outboxer, bool) {
	o, ok := a.till.(Outboxer)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this till has no outbox")
	}
	return o, ok
}

func (a *API) getOutbox(w http.ResponseWriter, r *http.Request, _ *session) {
	o, ok := a.outboxer(w)
	if !ok {
		return
	}
	dl, err := o.DeadLetters(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if dl == nil {
		dl = []DeadLetter{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": a.till.Status(r.Context()).Outbox, "dead_letters": dl})
}

func (a *API) getFiscalRecord(w http.ResponseWriter, r *http.Request, _ *session) {
	o, ok := a.outboxer(w)
	if !ok {
		return
	}
	rec, err := o.FiscalRecord(r.Context(), r.PathValue("event"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (a *API) postOutboxRetry(w http.ResponseWriter, r *http.Request, s *session) {
	o, ok := a.outboxer(w)
	if !ok {
		return
	}
	var req struct {
		Connector string `json:"connector"`
		EventID   string `json:"event_id"`
	}
	if !decode(w, r, &req) {
		return
	}
	if err := o.RetryDeadLetter(r.Context(), req.Connector, req.EventID); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("dead letter sent again by a manager", "staff", s.staff.ID, "connector", req.Connector, "event", req.EventID)
	writeJSON(w, http.StatusOK, map[string]string{"retrying": req.EventID})
}

func (a *API) getOutboxSettings(w http.ResponseWriter, r *http.Request, _ *session) {
	o, ok := a.outboxer(w)
	if !ok {
		return
	}
	st, err := o.OutboxSettings(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *API) putOutboxSettings(w http.ResponseWriter, r *http.Request, s *session) {
	o, ok := a.outboxer(w)
	if !ok {
		return
	}
	var req OutboxSettings
	if !decode(w, r, &req) {
		return
	}
	if err := o.PutOutboxSettings(r.Context(), req); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("outbox settings changed", "staff", s.staff.ID)
	st, err := o.OutboxSettings(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
