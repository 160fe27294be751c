package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// Connector sends one kind of the store's events to one service outside
// the store: a fiscal service, a messenger, a webhook. The outbox calls
// it; a connector keeps no queue of its own.
type Connector interface {
	// Name is the connector's key in the store's outbox state and on
	// screens: [a-z0-9-], e.g. "fiscal", "telegram".
	Name() string
	// Noun names what one item is, plural, for the backlog line:
	// "receipts", "messages".
	Noun() string
	// Prepare is called before each round: it (re)reads the connector's
	// settings and reports whether it is configured. An unconfigured
	// connector sends nothing and has no backlog.
	Prepare(ctx context.Context) (bool, error)
	// Wants reports whether an event is an item for this connector. It
	// is called after Prepare and must be quick and pure.
	Wants(ev *ledger.Event) bool
	// Window is how many items may be in flight at once; 1 sends in
	// strict order (a failing item holds back the ones after it).
	Window() int
	// Send delivers one item, with the event's ID as the idempotency
	// key, and returns what the service answered. Errors: a *Rejection
	// is permanent (the item goes to the dead-letter list); an error
	// wrapping ErrUnreachable means the service could not be reached
	// (retried for as long as it takes, the whole connector backing
	// off); anything else is a bad answer, retried up to MaxAttempts.
	Send(ctx context.Context, it Item) (Result, error)
}

// PerTiller is implemented by a connector whose service needs each
// till's items in the till's order (a fiscal service that numbers a
// terminal's receipts), while different tills' items may overlap. With
// PerTill true and a Window above 1, one till's items are sent one after
// the other, a failure holding back that till's later items, and up to
// Window tills are sent for at once.
type PerTiller interface {
	PerTill() bool
}

// Item is one event on its way out.
type Item struct {
	Event   *ledger.Event
	Number  uint32 // the till's number in the store; 0 if unknown
	Receipt string // "<till number>-<seq>"
	Attempt int    // 1 for the first try
	// Original is the recorded result of the sale a refund or void
	// names, when this connector has one (its fiscal number, say).
	Original *Record
}

// Result is what the service answered for an item: a fiscal number,
// sign and verification URL, or a message ID.
type Result struct {
	Ref  string `json:"ref,omitempty"`
	Sign string `json:"sign,omitempty"`
	URL  string `json:"url,omitempty"`
}

// ErrUnreachable marks an error as "the service could not be reached":
// the connection failed, the service said it is down (502, 503, 504) or
// asked us to slow down (429). Such an item is never dead-lettered.
var ErrUnreachable = errors.New("outbox: service unreachable")

// Unreachable wraps err as ErrUnreachable.
func Unreachable(err error) error { return fmt.Errorf("%w: %w", ErrUnreachable, err) }

// Rejection is a permanent refusal: the service understood the item and
// said no. It goes to the dead-letter list with its code and reason.
type Rejection struct {
	Code   string
	Reason string
}

func (r *Rejection) Error() string {
	if r.Code == "" {
		return "rejected: " + r.Reason
	}
	return "rejected (" + r.Code + "): " + r.Reason
}

// Reject returns a *Rejection.
func Reject(code, format string, args ...any) error {
	return &Rejection{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// State is an item's state in the store's outbox.
type State string

const (
	Sent     State = "sent"     // the service accepted it; Result holds its answer
	Rejected State = "rejected" // dead letter: Code and Reason say why
	Retry    State = "retry"    // a manager asked for a dead letter to be sent again
)

// Record is what the store keeps of an item, replicated to every till.
type Record struct {
	State    State  `json:"state"`
	Till     string `json:"till"` // till ID, hex
	Seq      uint64 `json:"seq"`
	Receipt  string `json:"receipt,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Result          // Sent
	Code     string `json:"code,omitempty"`   // Rejected
	Reason   string `json:"reason,omitempty"` // Rejected
	Attempts int    `json:"attempts,omitempty"`
	At       int64  `json:"at"` // Unix ms of the last change
	By       uint32 `json:"by,omitempty"`
}

// final reports whether the item needs no more sending.
func (r *Record) final() bool { return r != nil && (r.State == Sent || r.State == Rejected) }

// DeadLetter is a rejected item as screens list it.
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
