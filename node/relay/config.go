package relay

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net/http"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
)

// Ledger is what the relay reads of the till's ledger: the outbox is the
// ledger itself above HQ's vector. *ledgerdb.DB implements it.
type Ledger interface {
	Vector() ledger.Vector
	// RangeRaw calls f with the stored bytes (as signed) of a till's
	// chained events from seq from upward, in order, until f returns
	// false or the chain ends. HQ verifies what it is sent, so the
	// relay does not decode them.
	RangeRaw(till ledger.TillID, from uint64, f func(seq uint64, raw []byte) bool) error
	// Certificates returns the certificates the till holds, by till.
	Certificates() (map[ledger.TillID]*ledger.Certificate, error)
}

// Inventory is where HQ's catalog, price and staff changes go: the
// store's CRDT (*crdt.Store implements it), which brings them to every
// till. The downlink cursor is kept there too, as a setting, so the next
// relay goes on where this one stopped.
type Inventory interface {
	PutProduct(ctx context.Context, p crdt.Product) error
	// Product returns a product, or an error wrapping crdt.ErrNotFound.
	Product(ctx context.Context, sku string) (crdt.Product, error)
	// Products returns the whole catalog, which the relay reports to HQ.
	Products(ctx context.Context) ([]crdt.Product, error)
	PutStaff(ctx context.Context, s crdt.Staff) error
	// Staff returns a staff member, or an error wrapping crdt.ErrNotFound.
	Staff(ctx context.Context, id string) (crdt.Staff, error)
	// Revoke adds a till revocation HQ sent down (signed by the store CA).
	Revoke(ctx context.Context, r crdt.Revocation) error
	// Setting returns a setting, or an error wrapping crdt.ErrNotFound.
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSetting(ctx context.Context, name string, value []byte) error
	// Settings returns every setting, by name.
	Settings(ctx context.Context) (map[string][]byte, error)
	DeleteSetting(ctx context.Context, name string) error
}

// CursorSetting is the CRDT setting that holds the downlink cursor.
const CursorSetting = "hq.cursor"

// Config configures a Relay. Store, Key, Cert, HQ, Ledger, Host, PubSub
// and Admitted are required; DefaultConfig sets the rest.
type Config struct {
	Store ledger.StoreID
	Key   ed25519.PrivateKey  // this till's key: signs requests to HQ
	Cert  *ledger.Certificate // this till's certificate: its number elects
	// HQ is HQ's base URL, e.g. "https://hq.example.com".
	HQ     string
	Ledger Ledger
	// Inventory receives the downlink; nil turns the downlink off.
	Inventory Inventory
	Host      host.Host
	PubSub    *pubsub.PubSub
	// Admitted returns the certificate of a connected peer whose
	// certificate the store CA signed (p2p.Host.Admitted).
	Admitted func(peer.ID) (ledger.Certificate, bool)
	// HTTPClient talks to HQ; nil means one with a 30 s timeout.
	HTTPClient *http.Client

	// Heartbeat is how often every till announces itself on the relay
	// topic, and how often the election runs. Lease is how long a
	// relay's claim, and a till's candidacy, last without a heartbeat:
	// a dead relay is replaced about Lease after its last heartbeat.
	Heartbeat time.Duration
	Lease     time.Duration
	// HoldOff is how long a relay that HQ fenced off (a newer relay
	// uploaded) waits before it may claim again.
	HoldOff time.Duration
	// Probe is how often a till that is not the relay asks HQ for its
	// vector (reachability, unsent count).
	Probe time.Duration
	// Poll is how often the relay looks for new events once HQ holds
	// everything; it also tells HQ the relay is alive.
	Poll time.Duration
	// Downlink is how often the relay asks HQ for catalog changes.
	Downlink time.Duration
	// StockEvery is how often the relay brings HQ's cross-store stock
	// snapshot into the CRDT (chain.go): each write stays in the DAG for
	// good, so not at every Downlink.
	StockEvery time.Duration
	// Batch is the number of events per upload.
	Batch int
	// MinBackoff and MaxBackoff bound the delay between retries after HQ
	// failed: it doubles from MinBackoff, capped, with jitter.
	MinBackoff, MaxBackoff time.Duration

	Logger *slog.Logger
	Now    func() time.Time
	// Versions returns the tillmesh releases of the store's tills this
	// till knows (its own, its peers'), sent to HQ with each upload for
	// its stores view. nil sends none.
	Versions func() map[ledger.TillID]string
	// CostGate says whether the store's tills may be given cost prices
	// (every till announces ledger.FeatureCostPrice: node/kindgate.go).
	// While it returns an error, a cost HQ sends is held back in a
	// setting (HeldCostSetting) and written once it returns nil. nil
	// writes costs at once.
	CostGate func(ctx context.Context) error
}

// HeldCostSetting prefixes the settings that hold HQ cost prices the
// store's tills cannot take yet, by SKU: an older till that edits the
// product would write it back without the cost.
const HeldCostSetting = "hq.cost."

// DefaultConfig returns the defaults for a store LAN and an HQ on the
// internet.
func DefaultConfig() Config {
	return Config{Heartbeat: 500 * time.Millisecond, Lease: 2 * time.Second, HoldOff: 10 * time.Second,
		Probe: 5 * time.Second, Poll: time.Second, Downlink: 10 * time.Second, StockEvery: 5 * time.Minute, Batch: 1000,
		MinBackoff: 500 * time.Millisecond, MaxBackoff: time.Minute, Logger: slog.Default(), Now: time.Now}
}

// Validate reports what is missing or inconsistent.
func (c Config) Validate() error {
	switch {
	case c.Store == (ledger.StoreID{}):
		return errors.New("relay: no store")
	case len(c.Key) != ed25519.PrivateKeySize || c.Cert == nil:
		return errors.New("relay: no till key or certificate")
	case c.Cert.Till != ledger.TillOf(c.Key) || c.Cert.Store != c.Store || c.Cert.Number == 0:
		return errors.New("relay: the certificate is not this till's in this store")
	case c.HQ == "":
		return errors.New("relay: no HQ URL")
	case c.Ledger == nil || c.Host == nil || c.PubSub == nil || c.Admitted == nil:
		return errors.New("relay: ledger, host, pubsub and admission check are required")
	case c.Heartbeat <= 0 || c.Lease < 2*c.Heartbeat:
		return errors.New("relay: heartbeat must be positive and the lease at least two heartbeats")
	case c.HoldOff < 0 || c.Probe <= 0 || c.Poll <= 0 || c.Downlink <= 0 || c.StockEvery <= 0:
		return errors.New("relay: probe, poll, downlink and stock intervals must be positive")
	case c.Batch < 1 || c.Batch > 10_000:
		return errors.New("relay: batch must be 1..10000")
	case c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff:
		return errors.New("relay: backoff bounds must be positive and ordered")
	case c.Logger == nil || c.Now == nil:
		return errors.New("relay: no logger or clock")
	}
	return nil
}

// Topic is the gossip topic of a store's relay election.
func Topic(store ledger.StoreID) string { return "tillmesh/" + store.String() + "/relay" }
