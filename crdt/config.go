package crdt

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	ds "github.com/ipfs/go-datastore"
	badger4 "github.com/ipfs/go-ds-badger4"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Sentinel errors. Errors returned by this package wrap one of these where
// it applies, so callers can test with errors.Is.
var (
	ErrNotFound = errors.New("crdt: not found")
	ErrInvalid  = errors.New("crdt: invalid value")
	ErrCorrupt  = errors.New("crdt: corrupt stored value")
	ErrClosed   = errors.New("crdt: store closed")
)

// Config configures a Store. Start from DefaultConfig and fill in the
// fields marked required.
type Config struct {
	// Datastore holds everything: go-ds-crdt's state, the DAG blocks and
	// this incarnation's epoch, all under Namespace. Required. On a till
	// this is the till's Badger (see BadgerOptions); the Store never
	// closes it.
	Datastore ds.Batching
	// Host and PubSub belong to the caller, who should construct the
	// Store before dialing any peer (a peer that joins the topic later
	// is pushed our heads; one already there waits for an announcement).
	// Required.
	//
	// For a store LAN build the gossipsub with
	// pubsub.WithFloodPublish(true) (off by default in v0.16: until the
	// next heartbeat grafts a new peer into the mesh, a publish reaches
	// no one), pubsub.WithValidateQueueSize(1024) (signed messages
	// beyond its default 32 are dropped) and a larger
	// pubsub.WithPeerOutboundQueueSize. The Store copes without them,
	// but later.
	Host   host.Host
	PubSub *pubsub.PubSub
	// Topic is the pubsub topic for head announcements, one per store
	// (e.g. "tillmesh/<store>/inventory"). Required. Register topic
	// validators before New.
	Topic string
	// Namespace is the datastore key prefix for this Store, e.g.
	// "/inventory". Default "/inventory".
	Namespace string
	// TillID names this till in stock keys. Required; an ID as accepted
	// for SKUs ([A-Za-z0-9._-], 1-128 characters).
	TillID string
	// Logger receives the Store's and go-ds-crdt's logs. nil means
	// slog.Default().
	Logger *slog.Logger

	// RepairInterval is how often go-ds-crdt checks the dirty bit and, if
	// set, re-walks the DAG to finish interrupted merges. Minutes, not
	// go-ds-crdt's 1 h default: until a repair, keys of an interrupted
	// walk stay missing.
	RepairInterval time.Duration
	// RebroadcastInterval is how often heads not recently heard from
	// others are announced again (go-ds-crdt adds ±30% jitter).
	RebroadcastInterval time.Duration
	// FetchTimeout bounds one catch-up fetch from a peer, also when
	// go-ds-crdt's walk asks the DAG service for a missing block.
	FetchTimeout time.Duration
	// SubscriptionBuffer is the pubsub subscription buffer in messages;
	// pubsub drops messages for a full buffer.
	SubscriptionBuffer int
	// Workers is the number of go-ds-crdt DAG workers.
	Workers int
	// SyncInterval is how often merged remote state is flushed to disk.
	// Local writes are flushed before they return.
	SyncInterval time.Duration
	// MoveInterval is the least time between two DAG nodes of this
	// till's queued stock movements (QueueMovements): movements queued
	// meanwhile go out together in the next node. A movement queued
	// after a quiet spell goes out at once. 0: at once always (still
	// together when several are queued).
	MoveInterval time.Duration
	// Unclean says the previous process exited without closing the
	// Store (the node knows, e.g. from its own lock file). The Store also
	// detects this itself from a marker it keeps while open. Either way
	// the CRDT is marked dirty and repaired at start.
	Unclean bool
	// CustomerKeys keeps the keys that seal customers' personal fields
	// (customer_seal.go). nil: fields are written in plain, and sealed
	// slots from peers show as unavailable.
	CustomerKeys CustomerKeys

	// AllowPeer, when set, says whether a peer may be served an
	// inventory snapshot and asked for one (the node admits only tills
	// whose certificate the store CA signed). nil: any connected peer
	// (the host's connection gater already admits only those).
	AllowPeer func(peer.ID) bool
	// SnapshotWait is how long New waits for a connected peer when it
	// opens an empty inventory, to take the store's state as a snapshot
	// (snapshot.go) instead of walking the whole DAG. 0: only peers
	// already connected are asked; negative: never take a snapshot.
	SnapshotWait time.Duration
	// SnapshotTimeout bounds serving or taking one snapshot.
	SnapshotTimeout time.Duration

	// mergeHook, for tests, sees every key go-ds-crdt writes while it
	// merges; an error fails that merge.
	mergeHook func(key string) error
	// commitHook, for tests, sees every value key go-ds-crdt wrote once its
	// batch has committed and before the Store's indexes hear of it.
	commitHook func(key string)
}

// DefaultConfig returns a Config with every optional field set for a till
// on a store LAN. The required fields are left empty.
func DefaultConfig() Config {
	return Config{
		Namespace:           "/inventory",
		RepairInterval:      5 * time.Minute,
		RebroadcastInterval: 30 * time.Second,
		FetchTimeout:        30 * time.Second,
		SubscriptionBuffer:  4096,
		Workers:             4,
		SyncInterval:        100 * time.Millisecond,
		MoveInterval:        50 * time.Millisecond,
		SnapshotTimeout:     10 * time.Minute,
	}
}

// Validate reports the first problem with c, or nil.
func (c Config) Validate() error {
	switch {
	case c.Datastore == nil:
		return errors.New("crdt config: Datastore is required")
	case c.Host == nil:
		return errors.New("crdt config: Host is required")
	case c.PubSub == nil:
		return errors.New("crdt config: PubSub is required")
	case c.Topic == "":
		return errors.New("crdt config: Topic is required")
	}
	if err := validID(c.TillID); err != nil {
		return fmt.Errorf("crdt config: TillID: %w", err)
	}
	if c.Namespace == "" || c.Namespace == "/" || ds.NewKey(c.Namespace).String() != c.Namespace {
		return fmt.Errorf("crdt config: Namespace %q must be a clean key below the root, like /inventory", c.Namespace)
	}
	if c.RepairInterval <= 0 || c.RebroadcastInterval <= 0 || c.FetchTimeout <= 0 {
		return fmt.Errorf("crdt config: RepairInterval %v, RebroadcastInterval %v and FetchTimeout %v must be positive",
			c.RepairInterval, c.RebroadcastInterval, c.FetchTimeout)
	}
	if c.SnapshotTimeout <= 0 {
		return fmt.Errorf("crdt config: SnapshotTimeout %v must be positive", c.SnapshotTimeout)
	}
	if c.MoveInterval < 0 {
		return fmt.Errorf("crdt config: MoveInterval %v must not be negative", c.MoveInterval)
	}
	if c.SyncInterval <= 0 {
		return fmt.Errorf("crdt config: SyncInterval %v must be positive", c.SyncInterval)
	}
	if c.SubscriptionBuffer < 1 || c.Workers < 1 {
		return fmt.Errorf("crdt config: SubscriptionBuffer %d and Workers %d must be at least 1", c.SubscriptionBuffer, c.Workers)
	}
	return nil
}

// BadgerOptions returns go-ds-badger4 options sized for a till. Writes are
// group-committed, not fsynced one by one: go-ds-crdt commits a batch and a
// marker per merged DAG node, and one fsync each held catch-up to ~1,800
// nodes/s. The Store instead syncs after every local write (an
// acknowledged catalog edit or stock movement is durable) and every
// SyncInterval while it merges from peers; a power loss can only drop the
// last interval of merged remote state, which go-ds-crdt's repair and the
// peers restore. A node whose inventory store does not open retries,
// salvages what it can read and only then starts a new one, re-seeded
// from a snapshot kept in the ledger (see node's doc). Memtables and caches are
// small (the defaults cost ~490 MB RSS for three replicas; a memtable is
// an arena of 1.3x its size on the Go heap, and flushing it builds its
// table in memory), sized with the ledger's for a till of under 60 MB
// (BENCHMARKS.md, "Till footprint"), and value log files are 16 MB. Open with
// badger4.NewDatastore(dir, BadgerOptions(dir)).
func BadgerOptions(dir string) *badger4.Options {
	o := badger4.DefaultOptions
	o.Options = badger.DefaultOptions(dir).
		WithSyncWrites(false).
		WithMemTableSize(memTableSizeFor(dir, 1<<20)).
		WithNumMemtables(2).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(12).
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(8 << 20).
		WithBlockCacheSize(1 << 20).
		WithIndexCacheSize(1 << 20).
		WithValueLogFileSize(16 << 20).
		WithValueThreshold(4 << 10).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithCompression(options.None).
		WithMetricsEnabled(false).
		WithLoggingLevel(badger.WARNING)
	return &o
}

// memTableSizeFor returns the memtable size to open the Badger directory
// dir with: want, or the size the memtables of a write-ahead log left in
// dir were written with, if bigger. Badger replays such a log (a file
// *.mem of twice its memtable size, left by a crash) into an arena of the
// configured size and exits the process if it does not fit, so an
// inventory an earlier release (4 MB memtables) left after a crash opens
// with those once. (The same rule as ledgerdb.MemTableSizeFor; crdt does
// not import node packages.)
func memTableSizeFor(dir string, want int64) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return want
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".mem") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Size()/2 > want {
			want = fi.Size() / 2
		}
	}
	return want
}
