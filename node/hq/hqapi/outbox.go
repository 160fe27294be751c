package hqapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// OutboxPath is where a store's relay reports its outbox (fiscal,
// notifications) to HQ: PUT an OutboxReport, get an OutboxAnswer.
func OutboxPath(store ledger.StoreID) string { return "/v1/stores/" + store.String() + "/outbox" }

// OutboxReport is a store's outbox as its relay sees it: each
// connector's backlog and the dead letters, for HQ's outbox page.
type OutboxReport struct {
	At          time.Time          `json:"at"`
	Connectors  []OutboxConnector  `json:"connectors"`
	DeadLetters []OutboxDeadLetter `json:"dead_letters"`

	// AtHQ names the connectors the store has stood down for HQ (its
	// replicated setting outbox.at).
	AtHQ []string `json:"at_hq,omitempty"`
	// Handover carries the state of connectors the store stood down
	// because HQ asked (OutboxAnswer.Handover): HQ runs them from it.
	Handover []OutboxHandover `json:"handover,omitempty"`
	// Resumed names connectors the store took back from HQ: it imported
	// HQ's state (OutboxAnswer.Resume) and runs them again.
	Resumed []string `json:"resumed,omitempty"`
	// Settings are the store's outbox settings (outbox.fiscal, ...,
	// secrets included), sent while a connector runs at HQ, so HQ sends
	// where the store's manager says. Nil: unchanged.
	Settings map[string]json.RawMessage `json:"settings,omitempty"`
}

// OutboxHandover is one connector's state handed from one side to the
// other: its cursor, the final records above it, its dead letters (the
// entries of node/outbox's Handover, values as the outbox wrote them).
type OutboxHandover struct {
	Connector string        `json:"connector"`
	Entries   []OutboxEntry `json:"entries"`
}

// OutboxEntry is one record of a connector's state.
type OutboxEntry struct {
	Kind  string          `json:"kind"`
	ID    string          `json:"id"`
	Value json.RawMessage `json:"value"`
}

// Where a connector runs (OutboxAnswer.At).
const (
	OutboxAtStore = "store"
	OutboxAtHQ    = "hq"
)

// OutboxConnector is one connector's backlog.
type OutboxConnector struct {
	Connector  string    `json:"connector"`
	Configured bool      `json:"configured"`
	Pending    int       `json:"pending"`
	Oldest     time.Time `json:"oldest,omitzero"`
	Dead       int       `json:"dead"`
	LastError  string    `json:"last_error,omitempty"`
	Line       string    `json:"line"`
}

// OutboxDeadLetter is one item a service refused.
type OutboxDeadLetter struct {
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

// OutboxRetry asks the relay to send a dead letter again.
type OutboxRetry struct {
	Connector string `json:"connector"`
	EventID   string `json:"event_id"`
}

// OutboxAnswer is HQ's answer to a report: the retries HQ's staff asked
// for since the last one.
type OutboxAnswer struct {
	Retry []OutboxRetry `json:"retry"`
	// At is where each connector HQ knows of runs for this store:
	// OutboxAtHQ or OutboxAtStore. A store stands down the ones at HQ.
	At map[string]string `json:"at,omitempty"`
	// Handover names the connectors HQ waits for: the store stands them
	// down, waits for its round in progress, and reports their state.
	Handover []string `json:"handover,omitempty"`
	// Resume hands connectors back to the store with HQ's state; the
	// store imports it before it runs them (then reports Resumed).
	Resume []OutboxHandover `json:"resume,omitempty"`
}

// Bounds on a report.
const (
	maxOutboxConnectors = 16
	maxOutboxDead       = 500 // a report carries the newest 500
	maxOutboxText       = 1024
	maxOutboxEntries    = 20000
	maxOutboxSetting    = 16 << 10
)

// DecodeOutboxReport reads and checks a relay's report.
func DecodeOutboxReport(b []byte) (*OutboxReport, error) {
	var r OutboxReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: outbox report: %v", ErrBadRequest, err)
	}
	if len(r.Connectors) > maxOutboxConnectors || len(r.DeadLetters) > maxOutboxDead {
		return nil, fmt.Errorf("%w: outbox report of %d connectors and %d dead letters: at most %d and %d",
			ErrBadRequest, len(r.Connectors), len(r.DeadLetters), maxOutboxConnectors, maxOutboxDead)
	}
	for _, c := range r.Connectors {
		if c.Connector == "" || len(c.Connector) > 32 || len(c.Line) > maxOutboxText || len(c.LastError) > maxOutboxText || c.Pending < 0 || c.Dead < 0 {
			return nil, fmt.Errorf("%w: outbox report: connector %q out of bounds", ErrBadRequest, c.Connector)
		}
	}
	for _, d := range r.DeadLetters {
		if _, err := ledger.ParseEventID(d.EventID); err != nil || len(d.Connector) > 32 || len(d.Reason) > maxOutboxText ||
			len(d.Receipt) > 64 || len(d.Code) > 64 || len(d.Kind) > 64 {
			return nil, fmt.Errorf("%w: outbox report: dead letter %q out of bounds", ErrBadRequest, d.EventID)
		}
	}
	for _, name := range r.AtHQ {
		if name == "" || len(name) > 32 || len(r.AtHQ) > maxOutboxConnectors {
			return nil, fmt.Errorf("%w: outbox report: connector %q out of bounds", ErrBadRequest, name)
		}
	}
	if len(r.Handover) > maxOutboxConnectors || len(r.Resumed) > maxOutboxConnectors || len(r.Settings) > maxOutboxConnectors {
		return nil, fmt.Errorf("%w: outbox report: more than %d handovers, resumed connectors or settings", ErrBadRequest, maxOutboxConnectors)
	}
	for _, h := range r.Handover {
		if err := h.Check(); err != nil {
			return nil, err
		}
	}
	for name, v := range r.Settings {
		if len(name) > 64 || len(v) > maxOutboxSetting {
			return nil, fmt.Errorf("%w: outbox report: setting %q out of bounds", ErrBadRequest, name)
		}
	}
	return &r, nil
}

// Check bounds a handover.
func (h OutboxHandover) Check() error {
	if h.Connector == "" || len(h.Connector) > 32 || len(h.Entries) > maxOutboxEntries {
		return fmt.Errorf("%w: outbox handover of %q: %d entries out of bounds", ErrBadRequest, h.Connector, len(h.Entries))
	}
	for _, e := range h.Entries {
		if len(e.Kind) == 0 || len(e.Kind) > 32 || len(e.ID) == 0 || len(e.ID) > 128 || len(e.Value) == 0 || len(e.Value) > maxOutboxSetting {
			return fmt.Errorf("%w: outbox handover of %q: entry %q out of bounds", ErrBadRequest, h.Connector, e.ID)
		}
	}
	return nil
}

// PutOutbox reports the store's outbox and returns the retries HQ's
// staff asked for.
func (c *Client) PutOutbox(ctx context.Context, r *OutboxReport) (OutboxAnswer, error) {
	var out OutboxAnswer
	if len(r.DeadLetters) > maxOutboxDead {
		r.DeadLetters = r.DeadLetters[:maxOutboxDead]
	}
	body, err := json.Marshal(r)
	if err != nil {
		return out, fmt.Errorf("encode outbox report: %w", err)
	}
	err = c.do(ctx, http.MethodPut, OutboxPath(c.store), nil, ContentJSON, body, &out)
	return out, err
}

// IsNotFound reports whether HQ answered 404 (an HQ older than the
// request's route, or an unknown store).
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound
}
