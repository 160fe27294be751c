package crdt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/blockservice"
	blockstore "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	"github.com/ipfs/go-datastore/query"
	dscrdt "github.com/ipfs/go-ds-crdt"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Store is a till's replica of the store's inventory state. Create it with
// New before the host dials any peer, and Close it before closing the
// datastore. All methods are safe for concurrent use.
type Store struct {
	cfg   Config
	log   *slog.Logger
	epoch string

	openKey  ds.Key
	walkNS   ds.Key // records of walks under way (walks.go)
	crdtNS   ds.Key // go-ds-crdt's namespace
	blocksNS ds.Key // the blockstore

	bserv blockservice.BlockService
	sync  *blockSync
	bcast *broadcaster
	crdt  *dscrdt.Datastore
	buf   *bufferedStore // go-ds-crdt's writes, flushed in groups (mergebuf.go)

	// Interrupted walks (walks.go).
	dirtyMarks atomic.Uint64 // go-ds-crdt MarkDirty calls
	repairing  atomic.Bool
	ctx        context.Context // cancelled first thing in Close
	cancel     context.CancelFunc
	bgMu       sync.Mutex
	bgClosed   bool           // Close is waiting for bg: start nothing more
	bg         sync.WaitGroup // repairs started by the Store

	// Snapshots (snapshot.go).
	walkMu       sync.Mutex
	walking      bool // an announced walk is under way
	fromSnapshot bool // go-ds-crdt's namespace came from a peer's snapshot

	index      *barcodeIndex
	headsCache headsCache // heads.go
	subs       *subscribers
	newer      newerKeys // keys of kinds a newer version wrote (newer.go)

	customers *customerIndex // customer_index.go

	// The writer goroutine owns own and is the only caller of
	// crdt.Batch/Commit: go-ds-crdt's Put has no lock and all batches
	// share one pending delta.
	writes      chan writeReq
	quit        chan struct{}
	writerDone  chan struct{}
	flusherDone chan struct{}
	own         map[string]Slot // this till's slots, by SKU; writer only

	// Queued stock movements (QueueMovements).
	movesMu   sync.Mutex
	moves     []queuedMove
	movesHeld atomic.Int64  // queued and not yet written
	movesKick chan struct{} // capacity 1: the queue is not empty

	closeOnce sync.Once
	closeErr  error
}

// New opens the inventory state kept in cfg.Datastore and joins cfg.Topic.
// ctx bounds only the set-up; the Store lives until Close.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "crdt")

	var (
		d       = cfg.Datastore
		ns      = ds.NewKey(cfg.Namespace)
		crdtNS  = ns.ChildString("c")
		localNS = ns.ChildString("local")
	)
	epoch, err := loadEpoch(ctx, d, localNS.ChildString("epoch"))
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:         cfg,
		log:         log,
		epoch:       epoch,
		openKey:     localNS.ChildString("open"),
		walkNS:      localNS.ChildString("walk"),
		crdtNS:      crdtNS,
		blocksNS:    ns.ChildString("blocks"),
		index:       newBarcodeIndex(),
		customers:   newCustomerIndex(),
		subs:        &subscribers{},
		writes:      make(chan writeReq),
		quit:        make(chan struct{}),
		writerDone:  make(chan struct{}),
		flusherDone: make(chan struct{}),
		own:         make(map[string]Slot),
		movesKick:   make(chan struct{}, 1),
	}

	s.ctx, s.cancel = context.WithCancel(context.Background())
	// Before anything is written under the go-ds-crdt namespace: a
	// newcomer takes the state from a peer instead of walking the DAG.
	if s.fromSnapshot, err = s.restoreFromSnapshot(ctx, localNS.ChildString("snapshot")); err != nil {
		s.cancel()
		return nil, err
	}
	wasOpen, err := d.Has(ctx, s.openKey)
	if err != nil {
		return nil, fmt.Errorf("read open marker: %w", err)
	}
	if wasOpen || cfg.Unclean {
		// go-ds-crdt's dirty bit is <namespace>/d. Setting it before
		// dscrdt.New matters: its repair goroutine checks once at start
		// and then only every RepairInterval.
		if err := d.Put(ctx, crdtNS.ChildString("d"), nil); err != nil {
			return nil, fmt.Errorf("mark inventory dirty: %w", err)
		}
		log.Warn("last shutdown was unclean; repairing the inventory DAG", "detected", wasOpen, "told", cfg.Unclean)
	}
	restored, err := recoverWalks(ctx, d, s.walkNS, crdtNS, s.blocksNS)
	if err != nil {
		return nil, err
	}
	if restored > 0 {
		log.Warn("finishing inventory merges cut short when the till stopped", "heads", restored)
	}
	if err := d.Put(ctx, s.openKey, nil); err != nil {
		return nil, fmt.Errorf("write open marker: %w", err)
	}
	if err := d.Sync(ctx, localNS); err != nil {
		return nil, fmt.Errorf("sync open marker: %w", err)
	}

	// The DAG service: blocks in the same datastore; a block go-ds-crdt
	// asks for and we lack is fetched over the block protocol from the
	// connected peers (peerExchange).
	bstore := blockstore.NewBlockstore(namespace.Wrap(d, s.blocksNS),
		blockstore.NoPrefix(), blockstore.WriteThrough(true))
	s.sync = newBlockSync(cfg.Host, bstore, cfg.FetchTimeout, log)
	s.sync.heads = s.headList
	s.bserv = blockservice.New(bstore, peerExchange{s.sync})
	var dag ipld.DAGService = merkledag.NewDAGService(s.bserv)
	if s.fromSnapshot {
		dag = snapshotDAG{DAGService: dag, bstore: bstore, d: d, crdtNS: crdtNS}
		s.sync.covered = func(ctx context.Context, c cid.Cid) bool {
			p, err := d.Has(ctx, processedKey(crdtNS, c))
			return err == nil && p
		}
	}
	s.bcast, err = newBroadcaster(cfg.PubSub, cfg.Host, cfg.Topic, cfg.SubscriptionBuffer, log)
	if err != nil {
		_ = s.bserv.Close()
		return nil, err
	}
	s.bcast.heads = s.headList
	s.bcast.prefetch = s.prefetch
	s.bcast.begin = s.beginWalk
	s.bcast.end = s.endWalk

	opts := dscrdt.DefaultOptions()
	opts.Logger = crdtLogger{l: log, marks: &s.dirtyMarks}
	opts.RebroadcastInterval = cfg.RebroadcastInterval
	opts.RepairInterval = cfg.RepairInterval
	opts.DAGSyncerTimeout = cfg.FetchTimeout
	opts.NumWorkers = cfg.Workers
	opts.MultiHeadProcessing = false // heads pile up otherwise
	s.buf = newBufferedStore(d)
	observed := &observedStore{
		Batching:     s.buf,
		valuePrefix:  crdtNS.ChildString("s").ChildString("k").String() + "/",
		beforeCommit: s.beforeCommit,
		onCommit:     s.onCommit,
		hook:         cfg.mergeHook,
		committed:    cfg.commitHook,
	}
	s.crdt, err = dscrdt.New(observed, crdtNS, dag, s.bcast, opts)
	if err != nil {
		_ = s.bcast.close()
		_ = s.bserv.Close()
		return nil, fmt.Errorf("open go-ds-crdt: %w", err)
	}

	if err := s.buildIndex(ctx); err != nil {
		_ = s.crdt.Close()
		_ = s.bcast.close()
		_ = s.bserv.Close()
		return nil, err
	}
	s.sync.start()
	s.bcast.start()
	s.cfg.Host.SetStreamHandler(SnapshotProtocolID, s.handleSnapshot)
	go s.writer()
	go s.flusher()
	if wasOpen || cfg.Unclean {
		// Sales go on if this fails; the slots not republished keep the
		// (small) risk it removes.
		if n, err := s.republishOwnSlots(ctx); err != nil {
			log.Error("republish own stock slots after an unclean shutdown", "republished", n, "err", err)
		} else {
			log.Info("republished own stock slots after an unclean shutdown", "slots", n)
		}
	}
	heads, height := s.Heads()
	log.Info("inventory store open", "till", cfg.TillID, "epoch", epoch, "heads", len(heads), "height", height)
	return s, nil
}

// loadEpoch returns this database incarnation's epoch, creating it on
// first use. It lives outside the CRDT namespace and is never replicated.
func loadEpoch(ctx context.Context, d ds.Datastore, key ds.Key) (string, error) {
	b, err := d.Get(ctx, key)
	switch {
	case err == nil:
		e := string(b)
		if validID(e) != nil {
			return "", fmt.Errorf("stored epoch %q: %w", e, ErrCorrupt)
		}
		return e, nil
	case !errors.Is(err, ds.ErrNotFound):
		return "", fmt.Errorf("read epoch: %w", err)
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("make epoch: %w", err)
	}
	e := hex.EncodeToString(r[:])
	if err := d.Put(ctx, key, []byte(e)); err != nil {
		return "", fmt.Errorf("write epoch: %w", err)
	}
	return e, nil
}

// closeWait bounds how long Close waits for a merge under way.
const closeWait = 5 * time.Second

// Close stops replication and the writer, and closes go-ds-crdt. It does
// not close the datastore, host or pubsub. Calls after the first return
// the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cfg.Host.RemoveStreamHandler(SnapshotProtocolID)
		close(s.quit)
		s.cancel()
		<-s.writerDone
		<-s.flusherDone
		// Let a walk under way finish (blocks are fetched before it
		// starts, so this is quick); one cut short is finished at the
		// next start.
		if !s.bcast.stopHanding(closeWait) {
			s.log.Warn("closing during an inventory merge; it is finished at the next start")
		}
		s.bgMu.Lock()
		s.bgClosed = true
		s.bgMu.Unlock()
		s.bg.Wait()
		s.sync.close()
		errCRDT := s.crdt.Close()
		if err := s.buf.Close(); err != nil {
			errCRDT = errors.Join(errCRDT, err)
		}
		errBcast := s.bcast.close()
		errBserv := s.bserv.Close()
		s.subs.closeAll()
		var errMark error
		if errCRDT == nil {
			// Clean shutdown: the next New need not repair.
			ctx := context.Background()
			errMark = s.cfg.Datastore.Delete(ctx, s.openKey)
			if errMark == nil {
				errMark = s.cfg.Datastore.Sync(ctx, s.openKey)
			}
		}
		s.closeErr = errors.Join(errCRDT, errBcast, errBserv, errMark)
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close inventory store: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// Epoch is this database incarnation's epoch, the last segment of this
// till's stock keys.
func (s *Store) Epoch() string { return s.epoch }

// TillID is the till this Store writes stock slots for.
func (s *Store) TillID() string { return s.cfg.TillID }

// Heads returns the current DAG heads, sorted, and the highest height.
// Two replicas with the same heads hold the same state. A head another
// head descends from is left out (heads.go).
func (s *Store) Heads() ([]cid.Cid, uint64) {
	heads, height := s.rawHeads()
	return s.uncovered(heads), height
}

// rawHeads returns go-ds-crdt's heads as it keeps them.
func (s *Store) rawHeads() ([]cid.Cid, uint64) {
	st := s.crdt.InternalStats(context.Background())
	return st.Heads, st.MaxHeight
}

// headList returns the heads to announce and to exchange blocks from:
// go-ds-crdt's own. A covered head among them costs a peer one lookup.
func (s *Store) headList() []cid.Cid {
	if s.crdt == nil {
		return nil
	}
	h, _ := s.rawHeads()
	return h
}

// AnnounceTo sends our heads to p directly, as when p joins the topic:
// p then fetches what it lacks from us. A node calls it when it learns
// that p missed something, e.g. p's ledger pull from us brought p events:
// a link that went down and up again may keep its connection, so p never
// rejoins the topic, and announcements made meanwhile were lost.
func (s *Store) AnnounceTo(p peer.ID) error {
	if s.bcast.ctx.Err() != nil {
		return ErrClosed
	}
	return s.bcast.push(p)
}

// Dirty reports whether go-ds-crdt has marked the state as needing a
// repair (an interrupted merge, or an unclean shutdown not yet repaired).
func (s *Store) Dirty(ctx context.Context) bool { return s.crdt.IsDirty(ctx) }

// Repair walks the whole DAG now and merges anything an interrupted walk
// left out; it clears the dirty mark on success.
func (s *Store) Repair(ctx context.Context) error {
	if err := s.crdt.Repair(ctx); err != nil {
		return fmt.Errorf("repair inventory: %w", err)
	}
	return nil
}

// Stats are counters for the node's status page and for tests.
type Stats struct {
	Heads  int
	Height uint64
	// Pending is the number of head announcements received and not yet
	// fully merged: 0 means caught up with everything heard of.
	Pending       int64
	Announcements uint64 // head announcements received over pubsub
	Pushes        uint64 // head announcements pushed to us by joining peers
	Ignored       uint64 // own echoes and undecodable announcements
	FetchRounds   uint64 // block protocol exchanges made as the client
	FetchedBlocks uint64 // blocks received over the block protocol
	FetchErrors   uint64 // fetches from a peer that failed (another peer, or go-ds-crdt's walk, tries again)
	ServedBlocks  uint64 // blocks sent to peers over the block protocol
	FromSnapshot  bool   // the state came from a peer's snapshot, not a walk (snapshot.go)
}

// Stats returns current counters.
func (s *Store) Stats() Stats {
	heads, height := s.Heads()
	return Stats{
		Heads:         len(heads),
		Height:        height,
		Pending:       s.bcast.pending.Load(),
		Announcements: s.bcast.received.Load(),
		Pushes:        s.bcast.pushed.Load(),
		Ignored:       s.bcast.ignored.Load(),
		FetchRounds:   s.sync.rounds.Load(),
		FetchedBlocks: s.sync.fetched.Load(),
		FetchErrors:   s.sync.fetchErrs.Load(),
		ServedBlocks:  s.sync.served.Load(),
		FromSnapshot:  s.fromSnapshot,
	}
}

// prefetch fetches the blocks of heads we lack from the first of from that
// can serve them. Failures are left to go-ds-crdt, whose walk then asks
// the DAG service, which fetches what is missing from any connected peer
// (peerExchange).
func (s *Store) prefetch(ctx context.Context, from []peer.ID, heads []cid.Cid) {
	for _, p := range from {
		if p == s.cfg.Host.ID() || len(s.cfg.Host.Network().ConnsToPeer(p)) == 0 {
			continue
		}
		err := s.sync.fetch(ctx, p, heads)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.sync.fetchErrs.Add(1)
		s.log.Debug("fetch blocks; falling back", "peer", p, "err", err)
	}
}

// ---- writer ----

// op is one key write in a CRDT batch.
type op struct {
	key   ds.Key
	value []byte // nil: delete
}

// writeReq asks the writer to run build and commit its ops as one batch.
// build and after run on the writer goroutine; after runs only when the
// batch committed.
type writeReq struct {
	build  func() (ops []op, after func(), err error)
	noSync bool // ApplyMovementsRun syncs once at its end
	done   chan error
}

// write runs build on the writer goroutine and commits its ops as ONE
// go-ds-crdt batch (one DAG node). If ctx ends after the request was
// handed over, the write may still land.
func (s *Store) write(ctx context.Context, build func() ([]op, func(), error)) error {
	return s.writeReq(ctx, writeReq{build: build, done: make(chan error, 1)})
}

func (s *Store) writeReq(ctx context.Context, req writeReq) error {
	select {
	case s.writes <- req:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) writer() {
	defer close(s.writerDone)
	// last is when queued movements were last written; wait, armed
	// while movements are held back until MoveInterval has passed.
	var last time.Time
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	armed := false
	moves := func() {
		if s.commitMoves() {
			last = time.Now()
		}
	}
	for {
		select {
		case <-s.quit:
			// Not written now: the mesh is stopping, so a node made
			// here would reach no peer until it is announced again.
			// The till mends them from its ledger at its next start.
			s.dropMoves()
			return
		case <-s.movesKick:
			if armed {
				continue
			}
			if d := s.cfg.MoveInterval - time.Since(last); d > 0 {
				wait.Reset(d)
				armed = true
				continue
			}
			moves()
		case <-wait.C:
			armed = false
			moves()
		case req := <-s.writes:
			moves() // queued movements before any later write
			req.done <- s.commit(req)
		}
	}
}

// flusher writes go-ds-crdt's buffered writes and syncs the datastore
// every SyncInterval, so state merged from peers reaches the disk in
// groups instead of a transaction and an fsync per DAG node.
func (s *Store) flusher() {
	defer close(s.flusherDone)
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			if err := s.buf.Sync(context.Background(), ds.NewKey("/")); err != nil {
				s.log.Warn("sync inventory store", "err", err)
			}
		}
	}
}

func (s *Store) commit(req writeReq) error {
	ops, after, err := req.build()
	if err != nil || len(ops) == 0 {
		return err
	}
	// The store's lifetime context, not the caller's: a batch half
	// committed stays in go-ds-crdt's shared pending delta and would ride
	// along with the next, unrelated batch.
	ctx := context.Background()
	for _, o := range ops {
		k := o.key.String()
		if o.value == nil && (strings.HasPrefix(k, "/"+prefixStock+"/") || strings.HasPrefix(k, "/"+prefixProduct+"/")) {
			// A snapshot carries one element of each stock slot, and
			// no block of a product's elements (snapshot.go): a till
			// that took one could not delete them as its peers do.
			return fmt.Errorf("delete %s: stock slots and products are never deleted: %w", o.key, ErrInvalid)
		}
	}
	b, err := s.crdt.Batch(ctx)
	if err != nil {
		return fmt.Errorf("begin batch: %w", err)
	}
	for _, o := range ops {
		if o.value == nil {
			err = b.Delete(ctx, o.key)
		} else {
			err = b.Put(ctx, o.key, o.value)
		}
		if err != nil {
			return fmt.Errorf("batch %s: %w", o.key, err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	// The datastore does not fsync each write (see BadgerOptions), and
	// go-ds-crdt's writes are buffered (mergebuf.go): make this local
	// write durable before it is acknowledged.
	if !req.noSync {
		if err := s.buf.Sync(ctx, ds.NewKey("/")); err != nil {
			return fmt.Errorf("sync batch: %w", err)
		}
	}
	if after != nil {
		after()
	}
	return nil
}

// ---- reads ----

func (s *Store) get(ctx context.Context, k ds.Key) ([]byte, error) {
	v, err := s.crdt.Get(ctx, k)
	if errors.Is(err, ds.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", k, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k, err)
	}
	return v, nil
}

type entry struct {
	key   string
	value []byte
}

// list returns every live key under prefix, sorted by key.
func (s *Store) list(ctx context.Context, prefix string) ([]entry, error) {
	res, err := s.crdt.Query(ctx, query.Query{Prefix: prefix})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", prefix, err)
	}
	defer res.Close()
	var out []entry
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("query %s: %w", prefix, r.Error)
		}
		out = append(out, entry{key: r.Key, value: r.Value})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}
