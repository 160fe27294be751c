package hq

import (
	"context"
	"crypto/ed25519"
	"errors"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// Storage errors.
var (
	ErrNotFound    = errors.New("hq: not found")
	ErrStaleFence  = errors.New("hq: stale fencing token")
	ErrHeadMoved   = errors.New("hq: till head moved under the write (another HQ process?)")
	ErrStoreExists = errors.New("hq: store registered with another CA")
	// ErrRollupMoved: the store's stored rollup is not the generation
	// the write was made from (another HQ process wrote one since).
	ErrRollupMoved = errors.New("hq: store's rollup moved under the write (another HQ process?)")
)

// StoreRecord is a registered store.
type StoreRecord struct {
	ID      ledger.StoreID    `json:"id"`
	Name    string            `json:"name"`
	CA      ed25519.PublicKey `json:"ca"`
	Created int64             `json:"created"` // Unix ms
	// Day is the store's business day for its reports (businessday.go);
	// zero: HQ's report time zone, days ending at midnight.
	Day DayRule `json:"day,omitzero"`
}

// Head is what HQ holds of one till's chain.
type Head struct {
	Seq     uint64
	ID      ledger.EventID
	Flagged bool // the till equivocated or forked: evidence is kept
}

// HeadUpdate moves a till's head from From (seq) to To, whose event is ID.
type HeadUpdate struct {
	Till ledger.TillID
	From uint64
	To   uint64
	ID   ledger.EventID
}

// Evidence is a signed event that conflicts with the chain HQ holds.
type Evidence struct {
	Store  ledger.StoreID `json:"store"`
	Till   ledger.TillID  `json:"till"`
	Seq    uint64         `json:"seq"`
	Have   ledger.EventID `json:"have"` // the event HQ holds at Seq (for a fork: at Seq-1)
	Got    ledger.EventID `json:"got"`
	Reason string         `json:"reason"`
	At     int64          `json:"at"` // Unix ms
	Raw    []byte         `json:"raw"`
}

// Contact is the latest a store's relay told HQ.
type Contact struct {
	At      int64         `json:"at"` // Unix ms
	Relay   ledger.TillID `json:"relay"`
	Token   uint64        `json:"token"`
	Backlog uint64        `json:"backlog"` // events the relay held that HQ lacked
	Vector  ledger.Vector `json:"vector,omitempty"`
}

// User is an HQ staff login.
type User struct {
	Name string `json:"name"`
	Hash string `json:"hash"` // argon2id PHC string
	Role string `json:"role"` // "admin"
}

// Storage is where HQ keeps what it has verified. The embedded Badger
// store and PostgreSQL implement it; the behaviour tests run against both.
//
// Implementations are safe for concurrent use. HQ serialises writes per
// store; Append still checks each head it moves (compare and set), so two
// HQ processes on one database never interleave a chain.
type Storage interface {
	// PutStore registers a store, or renames it. It fails with
	// ErrStoreExists if the store is registered with another CA.
	PutStore(ctx context.Context, s StoreRecord) error
	Stores(ctx context.Context) ([]StoreRecord, error)

	// PutCertificate keeps a till certificate that HQ has verified.
	PutCertificate(ctx context.Context, c *ledger.Certificate) error
	Certificates(ctx context.Context, store ledger.StoreID) ([]*ledger.Certificate, error)

	// RaiseFence records token for the store if it is at least the
	// highest seen, and returns the highest; a lower token fails with
	// ErrStaleFence and changes nothing.
	RaiseFence(ctx context.Context, store ledger.StoreID, token uint64) (uint64, error)
	Fence(ctx context.Context, store ledger.StoreID) (uint64, error)

	// Heads returns every till's head in the store.
	Heads(ctx context.Context, store ledger.StoreID) (map[ledger.TillID]Head, error)
	// Append stores verified events and moves the heads, atomically and
	// durably, with the store's rollup (as PutRollup) when roll is not
	// nil. Events already stored (same EventID) are skipped. A head
	// that is not at its From fails the whole call with ErrHeadMoved,
	// a rollup whose Gen is not the stored one with ErrRollupMoved.
	Append(ctx context.Context, store ledger.StoreID, evs []*ledger.Event, heads []HeadUpdate, roll *Rollup) error
	// IDs returns the IDs of a till's events from seq from to to.
	IDs(ctx context.Context, store ledger.StoreID, till ledger.TillID, from, to uint64) ([]ledger.EventID, error)
	// Event returns an event's bytes by ID, or ErrNotFound.
	Event(ctx context.Context, id ledger.EventID) ([]byte, error)
	// Range calls f with the bytes of every event of the store, each
	// till's in chain order, until f returns an error.
	Range(ctx context.Context, store ledger.StoreID, f func(raw []byte) error) error
	// Count returns how many events of the store are stored.
	Count(ctx context.Context, store ledger.StoreID) (uint64, error)

	// PutEvidence keeps a conflicting event and flags its till.
	PutEvidence(ctx context.Context, e Evidence) error
	Evidence(ctx context.Context, store ledger.StoreID) ([]Evidence, error)

	SetContact(ctx context.Context, store ledger.StoreID, c Contact) error
	Contacts(ctx context.Context) (map[ledger.StoreID]Contact, error)

	// AddChange appends a downlink change and returns it with its cursor.
	AddChange(ctx context.Context, c hqapi.Change) (hqapi.Change, error)
	// Changes returns up to limit changes for the store (its own and
	// those for every store) with a cursor above after, oldest first.
	Changes(ctx context.Context, store ledger.StoreID, after uint64, limit int) ([]hqapi.Change, error)
	// AllChanges returns every change with a cursor above after.
	AllChanges(ctx context.Context, after uint64, limit int) ([]hqapi.Change, error)

	// PutStoreCatalog keeps the store's catalog as its relay last sent
	// it, replacing the one before; StoreCatalog returns it, or
	// ErrNotFound if the store has sent none.
	PutStoreCatalog(ctx context.Context, store ledger.StoreID, c hqapi.StoreCatalog) error
	StoreCatalog(ctx context.Context, store ledger.StoreID) (hqapi.StoreCatalog, error)

	// PutRollup keeps a store's report folds: the head replaces the one
	// before, the days given replace theirs and the others stay (all go
	// with Replace). It writes over generation r.Gen only (0: none
	// stored), storing r.Gen+1, and fails with ErrRollupMoved, writing
	// nothing, when the stored one is another. Rollup returns the head
	// with every day and its generation, or ErrNotFound; RollupGen the
	// generation alone, 0 when none is stored (rollup.go).
	PutRollup(ctx context.Context, store ledger.StoreID, r Rollup) error
	Rollup(ctx context.Context, store ledger.StoreID) (Rollup, error)
	RollupGen(ctx context.Context, store ledger.StoreID) (uint64, error)
	// RollupSpend returns one record of a store's over-spend tracker
	// (Rollup.Spends), or ErrNotFound.
	RollupSpend(ctx context.Context, store ledger.StoreID, key string) ([]byte, error)
	// RangeTill calls f with the bytes of a till's events above seq
	// after, up to its head, in chain order, until f returns an error.
	RangeTill(ctx context.Context, store ledger.StoreID, till ledger.TillID, after uint64, f func(raw []byte) error) error

	// PutSession keeps a dashboard session under a key (the SHA-256 of
	// its cookie) until it expires; Session returns it, or ErrNotFound;
	// DeleteSession ends it (sessions.go).
	PutSession(ctx context.Context, key []byte, s Session) error
	Session(ctx context.Context, key []byte) (Session, error)
	DeleteSession(ctx context.Context, key []byte) error

	PutUser(ctx context.Context, u User) error
	User(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error)

	Close() error
}
