package outbox

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
)

// Ledger is what the outbox reads of the till's merged ledger: the
// outbox is the ledger above each connector's cursor. *ledgerdb.DB
// implements it.
type Ledger interface {
	Vector() ledger.Vector
	// Range calls f with a till's chained events from seq from upward,
	// in order, until f returns false or the chain ends.
	Range(till ledger.TillID, from uint64, f func(*ledger.Event) bool) error
}

// Store is where the outbox keeps its state, replicated to every till of
// the store: the store's CRDT (*crdt.Store implements it).
type Store interface {
	PutOutbox(ctx context.Context, entries []crdt.OutboxEntry) error
	// OutboxGet returns a record or an error wrapping crdt.ErrNotFound.
	OutboxGet(ctx context.Context, connector, kind, id string) ([]byte, error)
	OutboxList(ctx context.Context, connector, kind string) (map[string][]byte, error)
}

// Config configures an Outbox. Ledger, Store and Leader are required;
// DefaultConfig sets the rest. The zero Connectors list sends nothing.
type Config struct {
	Connectors []Connector
	Ledger     Ledger
	Store      Store
	// Leader reports whether this till sends now: the store's elected
	// relay, or the lowest-numbered till in reach (node decides). Two
	// tills that both believe it for a moment cost at most a repeated
	// request, which the service answers from its idempotency key.
	Leader func() bool
	// Active reports whether a connector runs here at all; nil: every
	// connector does. A connector a chain runs at HQ stands down at the
	// store (and the other way round): Handover waits for its round in
	// progress and returns what the other side needs to go on.
	Active func(connector string) bool
	// Catchup, if set, returns the peers' state of a connector (each
	// peer's Export) when this till starts sending it: at start, and
	// whenever it becomes the sender again. The till imports it before
	// it sends, so it never repeats what another till sent while this
	// one was away or cut off, whether or not the CRDT has brought those
	// records yet. An error postpones sending to the next round.
	Catchup func(ctx context.Context, connector string) ([][]crdt.OutboxEntry, error)
	// Heard, if set, lists the other tills of the store this till hears
	// from now (connected, synced lately) with the clock each last showed:
	// the store-wide order's watermark (watermark.go). A connector that
	// is not PerTill sends an item only once every till listed has shown
	// an event or a clock at least as late, or once the item waited Hold.
	// nil: items go out in the order this till holds them (HQ).
	Heard func() []Heard
	// Hold bounds how long an item waits for a till's watermark: a till
	// that is listed but whose clock lags (or that went quiet since) is
	// then passed over.
	Hold time.Duration
	// Elsewhere names the side an inactive connector runs at, for its
	// status line ("fiscal: sent by HQ").
	Elsewhere string
	// Number returns a till's number in the store, 0 if unknown.
	Number func(ledger.TillID) uint32
	// Self is this till's number, recorded with each result.
	Self uint32
	// ReceiptNo returns the number an event shows on paper (the node's
	// gapless receipt numbers); nil: "<till number>-<seq>".
	ReceiptNo func(*ledger.Event) string

	// MinBackoff and MaxBackoff bound the delay before a retry: it
	// doubles from MinBackoff per failure, capped, with full jitter in
	// its upper half.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts is how many bad answers (not "unreachable") an item
	// gets before it goes to the dead-letter list.
	MaxAttempts int
	// Batch is the most items one round looks at per connector.
	Batch int
	// Flush is how many results are recorded in one CRDT batch (at
	// most 256); results are also recorded at least every FlushEvery.
	Flush      int
	FlushEvery time.Duration
	// Poll is how often a connector looks for new items when nothing
	// kicked it, and how often every till recounts its backlog.
	Poll time.Duration
	// Timeout bounds one Send.
	Timeout time.Duration
	// Seed seeds the backoff jitter.
	Seed   uint64
	Logger *slog.Logger
	Now    func() time.Time
}

// DefaultConfig returns the defaults of a till.
func DefaultConfig() Config {
	return Config{MinBackoff: time.Second, MaxBackoff: time.Minute, MaxAttempts: 8, Batch: 2000,
		Flush: 64, FlushEvery: 200 * time.Millisecond, Poll: 2 * time.Second, Timeout: 30 * time.Second, Elsewhere: "HQ", Hold: 15 * time.Second,
		Number: func(ledger.TillID) uint32 { return 0 }, Logger: slog.Default(), Now: time.Now}
}

var connectorName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Validate reports what is missing or inconsistent.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for _, k := range c.Connectors {
		if k == nil || !connectorName.MatchString(k.Name()) || seen[k.Name()] {
			return errors.New("outbox: connector names must be distinct, [a-z0-9-], 1-32 characters")
		}
		if k.Window() < 1 || k.Window() > 256 {
			return errors.New("outbox: connector " + k.Name() + ": window must be 1..256")
		}
		seen[k.Name()] = true
	}
	switch {
	case c.Ledger == nil || c.Store == nil || c.Leader == nil || c.Number == nil:
		return errors.New("outbox: ledger, store, leader and number are required")
	case c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff:
		return errors.New("outbox: backoff bounds must be positive and ordered")
	case c.MaxAttempts < 1:
		return errors.New("outbox: max attempts must be at least 1")
	case c.Batch < 1 || c.Flush < 1 || c.Flush > 255 || c.FlushEvery <= 0:
		return errors.New("outbox: batch must be positive, flush 1..255 with a positive interval")
	case c.Poll <= 0 || c.Timeout <= 0 || c.Hold <= 0:
		return errors.New("outbox: poll, timeout and hold must be positive")
	case c.Logger == nil || c.Now == nil:
		return errors.New("outbox: no logger or clock")
	}
	return nil
}
