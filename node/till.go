package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	badger4 "github.com/ipfs/go-ds-badger4"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/badgeropen"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/node/ledgersync"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/notify"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/node/relay"
	"github.com/tillmesh/tillmesh/ui"
)

// Config configures a till. DataDir and Store are required.
type Config struct {
	DataDir string         // holds till.key, till.cert, ledger/, crdt/, peers.json
	Store   *pki.StoreFile // the store's file (pki.LoadStoreFile)
	// HTTPAddr is where the UI and API listen; empty for none. Bind to
	// loopback unless the till's screen is on another machine.
	HTTPAddr    string
	ListenAddrs []string // libp2p; default all interfaces, a free TCP port
	StaticPeers []string // multiaddrs with /p2p/<id>, for LANs that block multicast
	MDNS        bool
	// HW configures the till's devices; with no devices the hub does
	// nothing. QueueDir defaults to printq in DataDir.
	HW hw.Config
	// Sim, when set, is the simulated device set behind HW; the till then
	// serves what the simulated printer printed under /sim/receipts.
	// Not a testnet hook: `tillmesh till --hw sim` and the demo use it.
	Sim *sim.Set
	// HQ is the HQ's base URL; empty runs the till without a relay.
	HQ string
	// SyncInterval is the anti-entropy period of ledger sync.
	SyncInterval time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
	// Shaper, for the testnet only, adds latency and loss to the
	// connections the till dials (see p2p.Shaper); nil in production.
	// It is in every build because the process-mode testnet runs the
	// release binary (docs/ARCHITECTURE.md, "Testnet hooks").
	Shaper *p2p.Shaper
	// Release is this till's tillmesh version (`tillmesh version`):
	// shown on its status, announced to its peers, reported to HQ.
	Release string
	// InventorySnapshotWait, when positive, lets a till whose inventory
	// is empty (new, or wiped and re-enrolled) start its mesh (static
	// peers, mDNS) before the inventory opens and wait up to this long
	// for a peer to connect, be admitted and serve the store's inventory
	// state as a snapshot instead of walking the whole DAG
	// (crdt/snapshot.go). 0: only a peer already connected is asked,
	// i.e. none.
	InventorySnapshotWait time.Duration
}

// DefaultConfig returns a till config with everything but DataDir and
// Store set.
func DefaultConfig() Config {
	return Config{HW: hw.DefaultConfig(), HTTPAddr: "127.0.0.1:8081", ListenAddrs: []string{"/ip4/0.0.0.0/tcp/0"}, MDNS: true,
		SyncInterval: 3 * time.Second, Logger: slog.Default(), Now: time.Now}
}

// Validate reports what is missing.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("till: no data directory")
	case c.Store == nil:
		return errors.New("till: no store file")
	case c.Logger == nil || c.Now == nil:
		return errors.New("till: no logger or clock")
	case c.SyncInterval <= 0:
		return errors.New("till: sync interval must be positive")
	}
	return nil
}

// Till is one till of a store: its ledger, mesh, inventory CRDT and API.
// New builds it; Run runs it until its context ends; Close releases it.
type Till struct {
	cfg  Config
	log  *slog.Logger
	key  ed25519.PrivateKey
	id   ledger.TillID
	cert *ledger.Certificate

	db   *ledgerdb.DB
	host *p2p.Host
	// meshDone and meshCancel are set when the mesh was started before
	// the inventory opened (meshForSnapshot); Run then waits on it.
	meshDone   chan error
	meshCancel context.CancelFunc
	invDS      *badger4.Datastore
	inv        *crdt.Store
	sync       *ledgersync.Syncer
	relay      *relay.Relay // nil without HQ
	hw         *hw.Hub
	api        *ui.API

	// outbox sends fiscal receipts and notifications (node/outbox.go).
	outbox    *outbox.Outbox
	outboxAt  time.Time // when the outbox opened (outboxLeader's hold)
	notifiers []*notify.Connector
	placed    placeCache // which connectors run at HQ (outbox_place.go)
	gate      outboxGate // a started till meets its peers before it sends (outbox_catchup.go)

	// sellMu serialises local events so each one's CRDT stock write
	// follows the ledger in seq order.
	sellMu sync.Mutex
	// setupMu serialises the first-run set-up (staff.go).
	setupMu sync.Mutex
	// xferMu serialises transfer_outs so each takes its own number (transfers.go).
	xferMu    sync.Mutex
	snapCache chainStockCache // the decoded cross-store stock snapshot (transfers.go)

	revs   revocations // node/revoke.go
	grants grantBook   // node/grants.go
	park   parkState   // node/parked.go

	custClock customerClock // node/customers.go
	kindGate  kindGateCache // node/kindgate.go
	custKeys  *customerKeys // node/customerkeys.go

	mu       sync.Mutex
	httpAddr string
	numbers  map[ledger.TillID]uint32 // from certificates seen
	// startNotes say what start-up had to recover (an inventory restored
	// from the snapshot, ...), for the status page.
	startNotes []ui.Note

	// restoreWhy is set by New when the inventory may need records back
	// from the snapshot in the ledger; Run then restores it.
	restoreWhy string

	stopInvDirs func() // the inventory directory's background fsync check

	snapMu   sync.Mutex
	snapHold bool              // no snapshot writes until the restore has run
	snapLast map[string][]byte // the snapshot's records as last written
}

// New opens the till's stores and builds its mesh host, but dials no one:
// Run does. The order matters: the CRDT's block service must exist before
// any peer connects (docs/ARCHITECTURE.md).
//
// Every start-up error is returned, naming the file or directory at fault,
// and whatever New had opened is closed again.
func New(ctx context.Context, cfg Config) (*Till, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Till{cfg: cfg, log: cfg.Logger, numbers: map[ledger.TillID]uint32{}}
	if err := t.open(ctx); err != nil {
		if cerr := t.Close(); cerr != nil {
			t.log.Warn("close what a failed start had opened", "err", cerr)
		}
		return nil, err
	}
	return t, nil
}

// open does New's work on t, in the order the parts depend on each
// other; on error the caller closes what it opened.
func (t *Till) open(ctx context.Context) error {
	if err := t.openLedger(); err != nil {
		return err
	}
	if err := t.openHost(ctx); err != nil {
		return err
	}
	t.custKeys = newCustomerKeys(t) // the inventory opens sealed customers with it
	if err := t.openInventoryState(ctx); err != nil {
		return err
	}
	if err := t.openSync(); err != nil {
		return err
	}
	if err := t.openGrants(); err != nil {
		return err
	}
	t.openCustomerKeys()
	if err := t.openOutbox(); err != nil {
		return err
	}
	return t.openDevices()
}

// openLedger loads the till's key and certificate and opens its ledger.
func (t *Till) openLedger() (err error) {
	cfg := t.cfg
	// The key must exist: enrolling creates it, and a new one here would
	// only fail the certificate check after leaving a wrong key behind.
	keyPath := filepath.Join(cfg.DataDir, pki.TillKeyFileName)
	if t.key, err = pki.LoadKey(keyPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("till key %s is missing: restore it from a backup, or enroll this till again (tillmesh store enroll) under a new till number", keyPath)
		}
		return err
	}
	t.id = ledger.TillOf(t.key)
	if t.cert, err = pki.LoadCertificate(filepath.Join(cfg.DataDir, pki.TillCertFileName), cfg.Store, t.key); err != nil {
		return err
	}
	t.numbers[t.id] = t.cert.Number
	lc := ledgerdb.DefaultConfig(filepath.Join(cfg.DataDir, "ledger"), cfg.Store.ID)
	lc.Logger = cfg.Logger
	if t.db, err = ledgerdb.Open(lc); err != nil {
		return err
	}
	if err := t.db.PutCertificate(t.cert); err != nil {
		return fmt.Errorf("store own certificate in the ledger: %w", err)
	}
	certs, err := t.db.Certificates()
	if err != nil {
		return fmt.Errorf("read certificates from the ledger: %w", err)
	}
	for id, c := range certs {
		t.numbers[id] = c.Number
	}
	return nil
}

// openHost starts the till's libp2p host.
func (t *Till) openHost(ctx context.Context) (err error) {
	cfg := t.cfg
	pc := p2p.DefaultConfig()
	pc.Key, pc.Store, pc.PSK, pc.CA, pc.Cert = t.key, cfg.Store.ID, cfg.Store.PSKBytes(), cfg.Store.CA, t.cert
	pc.ListenAddrs, pc.StaticPeers, pc.MDNS = cfg.ListenAddrs, cfg.StaticPeers, cfg.MDNS
	pc.PeerCache = filepath.Join(cfg.DataDir, "peers.json")
	pc.Logger = cfg.Logger
	pc.Release = cfg.Release
	pc.Revoked = t.revoked
	pc.Shaper = cfg.Shaper
	t.host, err = p2p.New(ctx, pc)
	return err
}

// openInventoryState opens the CRDT inventory (salvaging a store that
// does not open), plans its restore from the snapshot, publishes the
// till's certificate and brings its stock slots in step with its ledger.
func (t *Till) openInventoryState(ctx context.Context) (err error) {
	cfg := t.cfg
	invDir := filepath.Join(cfg.DataDir, "crdt")
	var inv inventoryOpen
	if t.invDS, inv, err = openInventory(ctx, invDir, cfg.Now(), cfg.Logger); err != nil {
		return err
	}
	t.stopInvDirs = badgeropen.NewDirSyncer(invDir).Start(100*time.Millisecond,
		func(err error) { t.log.Warn("inventory directory", "err", err) })
	ic := crdt.DefaultConfig()
	ic.Datastore, ic.Host, ic.PubSub = t.invDS, t.host.Host(), t.host.PubSub()
	ic.Topic = "tillmesh/" + cfg.Store.ID.String() + "/inventory"
	ic.TillID, ic.Logger = t.id.String(), cfg.Logger
	ic.Unclean = inv.how == invSalvaged // a salvaged DAG may miss blocks: repair it
	ic.CustomerKeys = t.custKeys
	ic.AllowPeer = func(p peer.ID) bool { _, ok := t.host.Admitted(p); return ok }
	ic.SnapshotWait = t.meshForSnapshot(ctx, ic)
	if t.inv, err = crdt.New(ctx, ic); err != nil {
		return fmt.Errorf("open inventory %s: %w", invDir, err)
	}
	t.watchRevocations() // before any peer's events: node/revoke.go
	t.planRestore(ctx, inv)
	if cb, err := t.cert.Encode(); err == nil {
		if err := t.inv.PutCertificate(ctx, t.id.String(), cb); err != nil {
			return fmt.Errorf("publish own certificate in the inventory: %w", err)
		}
	}
	if err := t.announceKinds(ctx); err != nil {
		return err
	}
	if err := t.repairStock(ctx); err != nil {
		return err
	}
	if err := t.saveSnapshot(ctx); err != nil {
		t.log.Warn("inventory snapshot", "err", err) // the last one stays
	}
	return nil
}

// meshForSnapshot starts the mesh before the inventory opens when the
// inventory is empty, InventorySnapshotWait is set and the till can
// find peers (static peers or mDNS), so that crdt.New can take the
// store's inventory state from an admitted peer instead of walking the
// whole DAG (the host accepts and dials no connection before it runs).
// It returns how long crdt.New should wait for such a peer: 0 when the
// mesh was not started. Peers that connect meanwhile find the ledger
// sync and outbox protocols not yet served for the rest of the start;
// they retry. The first till of a new store (nobody to find) waits the
// whole InventorySnapshotWait once, at its first start.
func (t *Till) meshForSnapshot(ctx context.Context, ic crdt.Config) time.Duration {
	wait := t.cfg.InventorySnapshotWait
	if wait <= 0 || (len(t.cfg.StaticPeers) == 0 && !t.cfg.MDNS) {
		return 0
	}
	need, err := crdt.NeedsSnapshot(ctx, ic.Datastore, ic.Namespace)
	if err != nil || !need {
		return 0
	}
	hctx, cancel := context.WithCancel(context.Background())
	t.meshDone, t.meshCancel = make(chan error, 1), cancel
	go func() { t.meshDone <- t.host.Run(hctx) }()
	t.log.Info("inventory empty: starting the mesh early to take it as a snapshot from a peer", "wait", wait)
	return wait
}

// openSync makes ledger sync and, with an HQ, the relay.
func (t *Till) openSync() (err error) {
	cfg := t.cfg
	sc := ledgersync.DefaultConfig()
	sc.Host, sc.PubSub, sc.DB, sc.Store = t.host.Host(), t.host.PubSub(), t.db, cfg.Store.ID
	sc.Allow = func(p peer.ID) bool { _, ok := t.host.Admitted(p); return ok }
	sc.Enrolled = t.enrolled
	sc.RevokedAfter = t.revokedAfter
	sc.OnServed = func(p peer.ID, _ int) {
		// p was behind our ledger, so likely behind our inventory too.
		if err := t.inv.AnnounceTo(p); err != nil {
			t.log.Debug("announce inventory heads to a peer that was behind", "peer", p, "err", err)
		}
	}
	sc.Interval, sc.Logger, sc.Now = cfg.SyncInterval, cfg.Logger, cfg.Now
	if t.sync, err = ledgersync.New(sc); err != nil {
		return err
	}
	t.openParking()
	if cfg.HQ != "" {
		rc := relay.DefaultConfig()
		rc.Store, rc.Key, rc.Cert, rc.HQ = cfg.Store.ID, t.key, t.cert, cfg.HQ
		rc.Ledger, rc.Inventory = t.db, t.inv
		rc.Host, rc.PubSub, rc.Admitted = t.host.Host(), t.host.PubSub(), t.host.Admitted
		rc.Logger, rc.Now = cfg.Logger, cfg.Now
		rc.Versions = t.versions
		rc.CostGate = func(ctx context.Context) error { return t.kindAllowed(ctx, ledger.FeatureCostPrice) }
		if t.relay, err = relay.New(rc); err != nil {
			return err
		}
	}
	return nil
}

// openDevices opens the hardware hub and makes the UI's API.
func (t *Till) openDevices() (err error) {
	cfg := t.cfg
	hc := cfg.HW
	if hc.QueueDir == "" {
		hc.QueueDir = filepath.Join(cfg.DataDir, "printq")
	}
	if hc.Logger == nil || hc.Logger == slog.Default() {
		hc.Logger = cfg.Logger
	}
	if t.hw, err = hw.New(hc); err != nil {
		return fmt.Errorf("hardware: %w", err)
	}
	t.api = ui.NewAPI(t, cfg.Logger)
	return nil
}

// revoked reports whether the store CA revoked a till (node/revoke.go):
// the mesh then refuses and drops its connections.
func (t *Till) revoked(id ledger.TillID) bool { return t.revocationOf(id) != nil }

// repairStock makes this till's stock slots in the CRDT equal its own
// ledger's movements: a crash between the ledger write and the CRDT write
// (they are separate stores) is mended here, on start.
func (t *Till) repairStock(ctx context.Context) error {
	var skus []string
	t.db.View(func(s *ledger.State) {
		for _, sku := range s.Fold().SKUs() {
			if _, ok := s.Fold().Stock(sku)[t.id]; ok {
				skus = append(skus, sku)
			}
		}
	})
	fixed := 0
	for _, sku := range skus {
		ok, err := t.repairSlot(ctx, sku)
		if err != nil {
			return err
		}
		if ok {
			fixed++
		}
	}
	if fixed > 0 {
		t.log.Warn("repaired stock counters from the ledger", "skus", fixed)
	}
	return nil
}

// repairSlot sets this till's slot of sku so that the till's slots, over
// every epoch the CRDT knows, sum to the till's own ledger movements. Other
// epochs of this till (a CRDT rebuilt under the same key) can arrive from
// peers after a repair, so watchStock calls this again whenever one of the
// till's slots changes. It reports whether it wrote.
func (t *Till) repairSlot(ctx context.Context, sku string) (bool, error) {
	t.sellMu.Lock() // no local event may move the slot meanwhile
	defer t.sellMu.Unlock()
	var want int64
	var head uint64
	t.db.View(func(s *ledger.State) {
		head, _, _ = s.Head(t.id)
		want = s.Fold().Stock(sku)[t.id]
	})
	_, slots, err := t.inv.Stock(ctx, sku)
	if err != nil && !errors.Is(err, crdt.ErrNotFound) {
		return false, fmt.Errorf("repair stock %s: %w", sku, err)
	}
	have := slots[t.id.String()]
	if have == want || head == 0 {
		return false, nil
	}
	own, err := t.inv.OwnSlot(ctx, sku)
	if err != nil {
		return false, fmt.Errorf("repair stock %s: %w", sku, err)
	}
	if err := t.inv.SetSlot(ctx, sku, head, want-(have-own)); err != nil {
		return false, fmt.Errorf("repair stock %s: %w", sku, err)
	}
	return true, nil
}

// watchStock re-checks this till's slot of a SKU whenever the CRDT reports
// a change to one of this till's slots of another epoch (an old epoch
// arriving from a peer), and every SKU after an overflow.
func (t *Till) watchStock(ctx context.Context) error {
	changes, stop := t.inv.Subscribe(1024)
	defer stop()
	me := t.id.String()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			var err error
			switch {
			case c.Kind == crdt.ChangeStock && c.Till == me && c.Epoch != t.inv.Epoch():
				// Another epoch of this till's slot, from a peer. This
				// epoch's slot moves by this till's own writes only,
				// which follow its ledger.
				var fixed bool
				if fixed, err = t.repairSlot(ctx, c.ID); fixed {
					t.log.Warn("repaired stock counter from the ledger", "sku", c.ID)
				}
			case c.Kind == crdt.ChangeOverflow:
				err = t.repairStock(ctx)
			}
			if err != nil && ctx.Err() == nil {
				t.log.Warn("stock repair", "err", err)
			}
		}
	}
}

// Relay is the till's HQ relay, or nil when it runs without HQ.
func (t *Till) Relay() *relay.Relay { return t.relay }

// ID is the till's ledger and mesh identity.
func (t *Till) ID() ledger.TillID { return t.id }

// Number is the till's number in the store.
func (t *Till) Number() uint32 { return t.cert.Number }

// DB is the till's ledger store.
func (t *Till) DB() *ledgerdb.DB { return t.db }

// Inventory is the till's CRDT inventory state.
func (t *Till) Inventory() *crdt.Store { return t.inv }

// Host is the till's mesh host.
func (t *Till) Host() *p2p.Host { return t.host }

// HTTPAddr is the address the API listens on once Run has started it.
func (t *Till) HTTPAddr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.httpAddr
}

// Handler returns the till's HTTP handler.
func (t *Till) Handler() http.Handler {
	mux := http.NewServeMux()
	t.api.Register(mux)
	if t.cfg.Sim != nil {
		registerSim(mux, t.cfg.Sim, t.api.Protect)
	}
	return mux
}

// Run runs the mesh, ledger sync and the HTTP server until ctx ends.
func (t *Till) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				select { // the first error is returned; later ones never block
				case errs <- fmt.Errorf("%s: %w", name, err):
				default:
				}
				cancel()
			}
		}()
	}
	events := t.host.Subscribe()
	if t.meshDone != nil {
		run("mesh", func(ctx context.Context) error {
			select {
			case err := <-t.meshDone:
				return err
			case <-ctx.Done():
				t.meshCancel()
				return <-t.meshDone
			}
		})
	} else {
		run("mesh", t.host.Run)
	}
	run("ledger sync", t.sync.Run)
	run("peers", func(ctx context.Context) error { return t.watchPeers(ctx, events) })
	run("stock repair", t.watchStock)
	run("kind gate", t.watchKindGate) // kindgate.go

	run("customer keys", t.runCustomerKeys) // node/customerkeys.go
	run("inventory snapshot", t.keepSnapshot)
	if t.relay != nil {
		run("hq relay", t.relay.Run)
	}
	run("outbox", t.runOutbox)
	run("hardware", t.hw.Run)
	run("serial scans", t.feedScans)  // node/hw.go
	run("scale weight", t.feedWeight) // node/hw.go
	if t.cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", t.cfg.HTTPAddr)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("listen %s: %w", t.cfg.HTTPAddr, err)
		}
		t.mu.Lock()
		t.httpAddr = ln.Addr().String()
		t.mu.Unlock()
		srv := &http.Server{Handler: t.Handler(), ReadHeaderTimeout: 5 * time.Second}
		run("http", func(ctx context.Context) error {
			go func() {
				<-ctx.Done()
				sctx, c := context.WithTimeout(context.Background(), 3*time.Second)
				defer c()
				srv.Shutdown(sctx)
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// watchPeers reacts to admissions: pull the ledger from a new peer at
// once, and remember its certificate (till number for receipts).
func (t *Till) watchPeers(ctx context.Context, events <-chan p2p.Event) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if ev.Kind != p2p.PeerAdmitted {
				continue
			}
			c := ev.Cert
			t.learn(&c)
			t.sync.PeerJoined(ev.Peer)
			t.custKeys.kickPull()
		}
	}
}

// Close releases everything New opened. Call it after Run returns.
func (t *Till) Close() error {
	var errs []error
	if t.hw != nil {
		errs = append(errs, t.hw.Close())
	}
	if t.inv != nil {
		errs = append(errs, t.inv.Close())
	}
	if t.meshCancel != nil {
		t.meshCancel() // a mesh started early and never handed to Run
	}
	if t.host != nil {
		errs = append(errs, t.host.Close())
	}
	if t.stopInvDirs != nil {
		t.stopInvDirs()
	}
	if t.invDS != nil {
		errs = append(errs, t.invDS.Close())
	}
	if t.db != nil {
		errs = append(errs, t.db.Close())
	}
	return errors.Join(errs...)
}

// enrolled reports whether a till holds a certificate of this store: one
// seen in a hello, stored in the ledger, or published in the CRDT (every
// till puts its own there), verified against the store CA. A revoked till
// is still enrolled: its events up to the revocation stay valid, and
// ledger sync refuses the later ones (revokedAfter).
func (t *Till) enrolled(id ledger.TillID) bool {
	if t.number(id) > 0 {
		return true
	}
	if c, ok := t.host.Admitted(mustPeer(id)); ok {
		t.learn(&c)
		return true
	}
	b, err := t.inv.Certificates(context.Background())
	if err != nil {
		return false
	}
	raw, ok := b[id.String()]
	if !ok {
		return false
	}
	c, err := ledger.DecodeCertificate(raw)
	if err != nil || c.Till != id || c.Verify(t.cfg.Store.CA, t.cfg.Store.ID) != nil {
		t.log.Warn("invalid certificate in the inventory", "till", id.Short(), "err", err)
		return false
	}
	t.learn(c)
	return true
}

// learn records a verified certificate: the till's number, and a copy in
// the ledger store for exports.
func (t *Till) learn(c *ledger.Certificate) {
	t.mu.Lock()
	known := t.numbers[c.Till] == c.Number
	t.numbers[c.Till] = c.Number
	t.mu.Unlock()
	if !known {
		if err := t.db.PutCertificate(c); err != nil {
			t.log.Warn("store certificate", "till", c.Till.Short(), "err", err)
		}
	}
}

func mustPeer(id ledger.TillID) peer.ID {
	p, err := p2p.PeerOf(id)
	if err != nil {
		return ""
	}
	return p
}

// number returns a till's number, or 0 if its certificate is unknown.
func (t *Till) number(id ledger.TillID) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.numbers[id]
}
