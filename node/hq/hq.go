package hq

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Errors of HQ operations.
var (
	ErrUnknownStore = errors.New("hq: unknown store")
	ErrUnenrolled   = errors.New("hq: till not enrolled")
	ErrInvalid      = errors.New("hq: invalid input")
)

// Config configures HQ. Storage is required; DefaultConfig fills the rest.
type Config struct {
	Storage Storage
	// HTTPAddr is where the relay API and the dashboard listen.
	HTTPAddr string
	// AuthWindow is how far a signed request's timestamp may be from
	// HQ's clock; older requests are refused as replays.
	AuthWindow time.Duration
	// VerifyEverySignature checks each event's own signature instead of
	// authenticating runs by their newest signature and the hash chain.
	VerifyEverySignature bool
	// IngestWorkers is how many uploads decode, verify and fold at once
	// (the others wait without CPU; storage writes are outside it); 0
	// is one fewer than the cores, at least one, so that the
	// dashboard's queries keep a core while relays upload.
	IngestWorkers int
	// Location is the time zone of report days and hours.
	Location *time.Location
	// SecureCookies marks the dashboard's session cookie Secure (serve
	// HQ behind TLS and set it).
	SecureCookies bool
	// AdminPassword, if set, creates or resets the "admin" login at start.
	AdminPassword string
	// Currency is the chain's currency (ISO 4217), in which the
	// dashboard writes amounts (i18n.go); empty is DefaultCurrency.
	Currency string
	// SmallestAmount is the smallest amount in use in Currency (minor
	// units; 0: any): a price HQ edits that is not a multiple of it is
	// refused (i18n.go), as the tills refuse one.
	SmallestAmount ledger.Money
	Logger         *slog.Logger
	Now            func() time.Time
}

// DefaultConfig returns HQ's defaults; set Storage.
func DefaultConfig() Config {
	return Config{HTTPAddr: "127.0.0.1:8080", AuthWindow: 5 * time.Minute, Location: time.UTC,
		Logger: slog.Default(), Now: time.Now}
}

// Validate reports what is missing.
func (c Config) Validate() error {
	switch {
	case c.Storage == nil:
		return errors.New("hq: no storage")
	case c.AuthWindow <= 0:
		return errors.New("hq: auth window must be positive")
	case c.Location == nil || c.Logger == nil || c.Now == nil:
		return errors.New("hq: no location, logger or clock")
	}
	return nil
}

// HQ ingests every store's verified ledger, reports across stores and
// holds the catalog changes that flow down to the stores. New loads its
// state from storage; Handler serves the relay API and the dashboard; Run
// listens on HTTPAddr until its context ends.
type HQ struct {
	cfg Config
	log *slog.Logger
	st  Storage

	mu     sync.Mutex
	stores map[ledger.StoreID]*storeState
	cursor uint64 // newest change

	seen     replayCache
	sessions *sessions
	unknown  map[ledger.StoreID]time.Time // store IDs storage lacked, by when asked (scaleout.go)
	addr     string

	outbox outboxBoard // stores' outbox reports (outbox.go)

	work chan struct{} // a slot per upload decoding, verifying or folding (Config.IngestWorkers)

	// views counts changes to what the chain views read: folds
	// published, stores, certificates and names, catalog changes
	// (chainreport.go).
	views atomic.Uint64
	chain chainViews // the materialized chain reports (chainreport.go)

	// catGen counts changes to the catalog this process made (HQ's
	// changes, stores' catalogs, stores): costs keeps the cost prices
	// read at a gen (views.go, costPrices).
	catGen atomic.Uint64
	costs  genCache[map[string]*basket.Product]
	// cats keeps every store's reported catalog read at a gen, for
	// stock health (views.go, storeCatalogs).
	cats genCache[map[ledger.StoreID]hqapi.StoreCatalog]

	words    *i18n.Catalog // the dashboard's messages (i18n.go)
	currency i18n.Currency
	started  StartStats // what New did (rollup.go)
}

// storeState is HQ's view of one store. mu serialises ingest and guards
// every field. viewMu guards pub, rec and certs for the dashboard's chain
// views, which must not wait for an upload's verification, fold or
// storage: they change only with mu and viewMu held (write), so a view
// holds either. The views read pub, never agg (snapshot.go).
type storeState struct {
	mu      sync.Mutex
	viewMu  sync.RWMutex
	rec     StoreRecord
	certs   map[ledger.TillID]*ledger.Certificate
	raws    map[ledger.TillID][]byte // encoded certificates, to skip re-verifying
	heads   map[ledger.TillID]Head
	fence   hqapi.Fence
	contact Contact
	saved   int64 // when contact was last written to storage
	agg     *agg
	revoked map[ledger.TillID]uint64 // revoked till -> last valid seq (revoke.go)
	// revTaken counts the revocation changes of the store taken (also
	// read without mu: syncChainRevocations).
	revTaken atomic.Int64
	// versions are the tills' releases as the relay last reported them
	// (in memory: the next upload reports them again).
	versions map[ledger.TillID]string
	refused  map[ledger.TillID]int // stored events above it, left out of agg
	rolled   uint64                // agg.events when the rollup was last written (rollup.go)
	// gen is the generation of the stored rollup agg descends from: the
	// one it was restored from or last wrote (rollup.go).
	gen uint64
	// spendLoad reads the store's stored over-spend records (overspend.go).
	spendLoad spendLoader
	// pub is the folds the views read, a copy of agg as last committed;
	// pubOf the agg it was copied from (snapshot.go).
	pub, pubOf *agg
}

func (s *storeState) vector() ledger.Vector {
	v := make(ledger.Vector, len(s.heads))
	for t, h := range s.heads {
		if h.Seq > 0 {
			v[t] = h.Seq
		}
	}
	return v
}

// New loads HQ's state from storage: stores, certificates, heads, fences
// and contacts, and rebuilds the report folds from the stored events.
func New(ctx context.Context, cfg Config) (*HQ, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	h := &HQ{cfg: cfg, log: cfg.Logger, st: cfg.Storage, stores: map[ledger.StoreID]*storeState{},
		seen: replayCache{seen: map[string]int64{}}, sessions: newSessions(),
		chain: chainViews{shapes: map[chainShape]*chainAnswer{}, slot: make(chan struct{}, 1)}}
	h.chain.idle.L = &h.chain.mu
	n := cfg.IngestWorkers
	if n <= 0 {
		n = max(1, runtime.GOMAXPROCS(0)-1)
	}
	h.work = make(chan struct{}, n)
	var err error
	if h.words, h.currency, err = pageWords(cfg); err != nil { // i18n.go
		return nil, err
	}
	recs, err := h.st.Stores(ctx)
	if err != nil {
		return nil, fmt.Errorf("load stores: %w", err)
	}
	contacts, err := h.st.Contacts(ctx)
	if err != nil {
		return nil, fmt.Errorf("load contacts: %w", err)
	}
	for _, rec := range recs {
		s, err := h.loadStore(ctx, rec)
		if err != nil {
			return nil, err
		}
		s.contact = contacts[rec.ID]
		s.fence.Holder, s.fence.At = s.contact.Relay, s.contact.At
		h.stores[rec.ID] = s
	}
	all, err := h.st.AllChanges(ctx, 0, 1<<30)
	if err != nil {
		return nil, fmt.Errorf("load changes: %w", err)
	}
	if n := len(all); n > 0 {
		h.cursor = all[n-1].Cursor
	}
	for _, c := range all {
		h.learnRevocation(ctx, c)
	}
	if cfg.AdminPassword != "" {
		if err := h.SetPassword(ctx, "admin", cfg.AdminPassword); err != nil {
			return nil, err
		}
	}
	h.started.Stores, h.started.Took = len(recs), time.Since(t0)
	return h, nil
}

func (h *HQ) loadStore(ctx context.Context, rec StoreRecord) (*storeState, error) {
	s := &storeState{rec: rec, certs: map[ledger.TillID]*ledger.Certificate{}, raws: map[ledger.TillID][]byte{},
		agg: h.newAggFor(rec), pub: h.newAggFor(rec), spendLoad: h.spendLoaderOf(rec.ID)}
	certs, err := h.st.Certificates(ctx, rec.ID)
	if err != nil {
		return nil, fmt.Errorf("load certificates of store %s: %w", rec.ID, err)
	}
	for _, c := range certs {
		s.certs[c.Till] = c
		s.raws[c.Till], _ = c.Encode()
	}
	if s.heads, err = h.st.Heads(ctx, rec.ID); err != nil {
		return nil, fmt.Errorf("load heads of store %s: %w", rec.ID, err)
	}
	if s.fence.Token, err = h.st.Fence(ctx, rec.ID); err != nil {
		return nil, fmt.Errorf("load fence of store %s: %w", rec.ID, err)
	}
	if err := h.restoreAgg(ctx, s); err != nil { // rollup.go
		return nil, fmt.Errorf("load events of store %s: %w", rec.ID, err)
	}
	return s, nil
}

// busy takes one of the slots for CPU work on uploads (Config.
// IngestWorkers), waiting without CPU until one is free, and returns
// its release; it fails when ctx ends first.
func (h *HQ) busy(ctx context.Context) (func(), error) {
	select {
	case h.work <- struct{}{}:
		return func() { <-h.work }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// saleLookup finds a stored sale by ID (for the SKU figures of voids).
func (h *HQ) saleLookup(ctx context.Context) lookup {
	return func(id ledger.EventID) (*ledger.Sale, bool) {
		raw, err := h.st.Event(ctx, id)
		if err != nil {
			return nil, false
		}
		ev, err := ledger.Decode(raw)
		if err != nil {
			return nil, false
		}
		s, ok := ev.Body.(*ledger.Sale)
		return s, ok
	}
}

func (h *HQ) store(id ledger.StoreID) *storeState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stores[id]
}

func (h *HQ) storeList() []*storeState {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*storeState, 0, len(h.stores))
	for _, s := range h.stores {
		out = append(out, s)
	}
	// By the ID's bytes, the order of its hex: no string per comparison
	// (under h.mu, which every upload takes to find its store).
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].rec.ID[:], out[j].rec.ID[:]) < 0 })
	return out
}

// RegisterStore registers a store by ID, name and CA public key, or
// renames a registered one. A store's CA cannot change.
func (h *HQ) RegisterStore(ctx context.Context, id ledger.StoreID, name string, ca ed25519.PublicKey) error {
	if id == (ledger.StoreID{}) || len(ca) != ed25519.PublicKeySize || name == "" || len(name) > 200 {
		return fmt.Errorf("%w: a store needs an ID, a name (up to 200 bytes) and a %d-byte CA key", ErrInvalid, ed25519.PublicKeySize)
	}
	rec := StoreRecord{ID: id, Name: name, CA: bytes.Clone(ca), Created: h.cfg.Now().UnixMilli()}
	if s := h.store(id); s != nil {
		s.mu.Lock()
		rec.Day = s.rec.Day // a rename keeps the business day
		s.mu.Unlock()
	}
	if err := h.st.PutStore(ctx, rec); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.stores[id]; s != nil {
		s.mu.Lock()
		s.viewMu.Lock()
		s.rec.Name = name
		s.viewMu.Unlock()
		s.mu.Unlock()
		h.views.Add(1)
		h.catGen.Add(1)
		return nil
	}
	h.stores[id] = &storeState{rec: rec, certs: map[ledger.TillID]*ledger.Certificate{}, raws: map[ledger.TillID][]byte{},
		heads: map[ledger.TillID]Head{}, agg: h.newAggFor(rec), pub: h.newAggFor(rec), spendLoad: h.spendLoaderOf(id)}
	h.views.Add(1)
	h.catGen.Add(1)
	return nil
}

// Certificate returns a till's verified certificate, if HQ holds one.
func (h *HQ) Certificate(store ledger.StoreID, till ledger.TillID) (*ledger.Certificate, bool) {
	s := h.store(store)
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.certs[till]
	return c, c != nil
}

// learnCert verifies a certificate against the store CA and keeps it.
// Called with s.mu held.
func (h *HQ) learnCert(ctx context.Context, s *storeState, c *ledger.Certificate) error {
	raw, err := c.Encode()
	if err != nil {
		return fmt.Errorf("%w: %v", ledger.ErrBadCert, err)
	}
	if have := s.raws[c.Till]; bytes.Equal(have, raw) {
		return nil
	}
	if err := c.Verify(s.rec.CA, s.rec.ID); err != nil {
		return err
	}
	if old := s.certs[c.Till]; old != nil && old.Number != c.Number {
		return fmt.Errorf("%w: till %s is number %d, the new certificate says %d", ledger.ErrBadCert, c.Till.Short(), old.Number, c.Number)
	}
	if err := h.st.PutCertificate(ctx, c); err != nil {
		return err
	}
	s.viewMu.Lock()
	s.certs[c.Till], s.raws[c.Till] = c, raw
	s.viewMu.Unlock()
	h.views.Add(1)
	return nil
}

// Authenticate checks a relay request's till: enrolled in the store under
// a certificate that verifies (the one HQ holds, or cert, which HQ then
// keeps).
func (h *HQ) Authenticate(ctx context.Context, store ledger.StoreID, till ledger.TillID, cert *ledger.Certificate) error {
	s := h.store(store)
	if s == nil {
		s = h.adoptStore(ctx, store) // scaleout.go: registered by another HQ process?
	}
	if s == nil {
		return fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := h.syncRevocations(ctx, s); err != nil { // revoke.go: by another HQ process?
		return err
	}
	if after, revoked := s.revokedAfter(till); revoked {
		return fmt.Errorf("%w: till %s was revoked by the store (its events up to seq %d stay valid)", ErrUnenrolled, till.Short(), after)
	}
	if s.certs[till] != nil {
		return nil
	}
	if cert == nil {
		h.adoptCerts(ctx, s) // scaleout.go: verified by another HQ process?
		if s.certs[till] != nil {
			return nil
		}
		return fmt.Errorf("%w: till %s has no certificate at HQ: send it in %s", ErrUnenrolled, till.Short(), hqapi.HeaderCert)
	}
	if cert.Till != till {
		return fmt.Errorf("%w: the certificate is for till %s, not %s", ErrUnenrolled, cert.Till.Short(), till.Short())
	}
	if err := h.learnCert(ctx, s, cert); err != nil {
		return fmt.Errorf("%w: %v", ErrUnenrolled, err)
	}
	return nil
}

// VectorOf answers a relay's GET: HQ's vector and fence for the store.
// fence and mine are what the caller sent (0 and nil from a till that is
// not the relay): a relay at the current token is recorded as alive, and
// its vector sets the store's backlog.
func (h *HQ) VectorOf(ctx context.Context, store ledger.StoreID, till ledger.TillID, fence uint64, mine ledger.Vector) (hqapi.VectorResponse, error) {
	s := h.store(store)
	if s == nil {
		return hqapi.VectorResponse{}, fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := h.cfg.Now().UnixMilli()
	h.refreshHeads(ctx, s) // rollup.go
	v := s.vector()
	if fence > 0 && fence >= s.fence.Token {
		high, err := h.st.RaiseFence(ctx, store, fence)
		if err == nil {
			s.fence = hqapi.Fence{Token: high, Holder: till, At: now}
			h.contact(ctx, s, till, fence, mine, v, now)
		}
	}
	h.mu.Lock()
	cur := h.cursor
	h.mu.Unlock()
	return hqapi.VectorResponse{Store: store, Vector: v, Fence: s.fence, Cursor: cur, Time: now}, nil
}

// contact records the relay's latest contact. Called with s.mu held.
func (h *HQ) contact(ctx context.Context, s *storeState, till ledger.TillID, token uint64, mine, have ledger.Vector, now int64) {
	c := Contact{At: now, Relay: till, Token: token, Backlog: s.contact.Backlog, Vector: s.contact.Vector}
	if mine != nil {
		c.Backlog, c.Vector = backlog(mine, have), mine
	}
	// Persist at most every few seconds unless something changed.
	changed := c.Backlog != s.contact.Backlog || c.Relay != s.contact.Relay || c.Token != s.contact.Token
	if changed || now-s.saved > 5000 {
		if err := h.st.SetContact(ctx, s.rec.ID, c); err != nil {
			h.log.Warn("record store contact", "store", s.rec.ID, "err", err)
		} else {
			s.saved = now
		}
	}
	s.contact = c
}

func backlog(mine, have ledger.Vector) uint64 {
	var n uint64
	for _, r := range mine.Diff(have) {
		n += r.Len()
	}
	return n
}
