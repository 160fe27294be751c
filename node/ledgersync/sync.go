package ledgersync

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

// Config configures a Syncer. Host, PubSub and DB are required; the rest
// have defaults (DefaultConfig).
type Config struct {
	Host   host.Host
	PubSub *pubsub.PubSub
	DB     *ledgerdb.DB
	Store  ledger.StoreID
	// Allow says whether a peer may sync (admitted by the store's
	// certificate check). Nil allows every peer the host connects to.
	Allow func(peer.ID) bool
	// Enrolled says whether a till holds a valid certificate of the
	// store. Events of other tills are dropped (and fetched again by a
	// later pull, once the certificate is known). Nil accepts every till.
	Enrolled func(ledger.TillID) bool
	// RevokedAfter says whether the store CA revoked a till, and up to
	// which seq its events stay valid: later ones are dropped. Nil revokes
	// no one.
	RevokedAfter func(ledger.TillID) (after uint64, revoked bool)
	// Interval between anti-entropy rounds with every connected peer.
	Interval time.Duration
	// Batch is the most events per frame of a pull answer.
	Batch int
	// BatchBytes ends a frame of a pull answer once its events reach
	// this many bytes, whatever their number. Both ends hold a frame at
	// once (the puller decoded as well), so it bounds a catch-up's
	// memory. 0: no bound but Batch.
	BatchBytes int
	// Timeout bounds one pull.
	Timeout time.Duration
	// MaxSkew is the clock difference that raises a warning.
	MaxSkew time.Duration
	// OnApplied is called (from the syncer's goroutines) with events that
	// newly joined the ledger from peers.
	OnApplied func([]*ledger.Event)
	// OnServed is called (from the serving goroutine) after a pull by p
	// was answered with events: p was behind us, and whatever p missed
	// besides the ledger (its inventory state) it likely misses too.
	OnServed func(p peer.ID, events int)
	Now      func() time.Time
	Logger   *slog.Logger
}

// DefaultConfig returns the defaults for a store LAN.
func DefaultConfig() Config {
	return Config{Interval: 3 * time.Second, Batch: 1000, BatchBytes: 256 << 10, Timeout: 30 * time.Second,
		MaxSkew: 2 * time.Minute, Now: time.Now, Logger: slog.Default()}
}

// Validate reports what is missing.
func (c Config) Validate() error {
	switch {
	case c.Host == nil || c.PubSub == nil || c.DB == nil:
		return errors.New("ledgersync: host, pubsub and db are required")
	case c.Interval <= 0 || c.Batch <= 0 || c.Timeout <= 0:
		return errors.New("ledgersync: interval, batch and timeout must be positive")
	case c.BatchBytes < 0:
		return errors.New("ledgersync: batch bytes must not be negative")
	case c.Now == nil || c.Logger == nil:
		return errors.New("ledgersync: clock and logger are required")
	}
	return nil
}

// Topic is the gossip topic of a store's live events.
func Topic(store ledger.StoreID) string { return "tillmesh/" + store.String() + "/ledger" }

// PeerState is what the syncer knows of one peer.
type PeerState struct {
	Vector ledger.Vector // the peer's vector at the last exchange
	Behind uint64        // events we hold that the peer lacked then
	Ahead  uint64        // events the peer held that we lacked then
	// Received counts the events the peer sent us in answer to our
	// pulls, since this process started (new or not).
	Received uint64
	Skew     time.Duration // peer clock minus ours, at the last exchange
	// Clock is the peer's clock as it answered the last exchange, read
	// before its Vector: every event the peer made before Clock is
	// within Vector (the outbox's store-wide watermark waits on it).
	Clock    time.Time
	LastSync time.Time
	LastErr  string
}

// Syncer replicates the ledger with the store's other tills: new events
// go out live over gossip, and pulls by version vector (on join, on a gap,
// and every Interval) fetch whatever gossip missed. Every event is
// verified before it is stored (ledgerdb.Insert).
type Syncer struct {
	cfg   Config
	log   *slog.Logger
	topic *pubsub.Topic
	sub   *pubsub.Subscription

	mu      sync.Mutex
	peers   map[peer.ID]*PeerState
	pulling map[peer.ID]bool // a pull is running
	again   map[peer.ID]bool // pull again when it ends
	kick    chan peer.ID
	// turn lets one pull run at a time (waiting at most pullTurnWait):
	// a till back from an outage pulls from every peer at once, and
	// every peer would send it the same backlog.
	turn chan struct{}
}

// pullTurnWait bounds how long a pull waits for the one before it: a
// peer that answers slowly delays the others by this much, not by its
// Timeout.
const pullTurnWait = 2 * time.Second

// New registers the protocol handler and joins the gossip topic.
func New(cfg Config) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Syncer{cfg: cfg, log: cfg.Logger, peers: map[peer.ID]*PeerState{},
		pulling: map[peer.ID]bool{}, again: map[peer.ID]bool{}, kick: make(chan peer.ID, 256),
		turn: make(chan struct{}, 1)}
	name := Topic(cfg.Store)
	if err := cfg.PubSub.RegisterTopicValidator(name, s.validate); err != nil {
		return nil, fmt.Errorf("ledgersync: validator: %w", err)
	}
	t, err := cfg.PubSub.Join(name)
	if err != nil {
		return nil, fmt.Errorf("ledgersync: join %s: %w", name, err)
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(4096))
	if err != nil {
		return nil, fmt.Errorf("ledgersync: subscribe: %w", err)
	}
	s.topic, s.sub = t, sub
	for _, p := range Protocols() {
		cfg.Host.SetStreamHandler(p, s.serve)
	}
	return s, nil
}

// validate drops gossip that is not a well-formed event of this store from
// an allowed peer before pubsub forwards it.
func (s *Syncer) validate(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if from != s.cfg.Host.ID() && s.cfg.Allow != nil && !s.cfg.Allow(from) {
		return pubsub.ValidationReject
	}
	ev, err := ledger.Decode(m.Data)
	if err != nil || ev.Store != s.cfg.Store {
		return pubsub.ValidationReject
	}
	m.ValidatorData = ev
	return pubsub.ValidationAccept
}

// Publish sends a new local event to the store at once. Peers that miss
// it get it at the next pull.
func (s *Syncer) Publish(ctx context.Context, ev *ledger.Event) error {
	return s.topic.Publish(ctx, ev.Bytes())
}

// PeerJoined asks for a pull from p now (call it when p is admitted).
func (s *Syncer) PeerJoined(p peer.ID) {
	select {
	case s.kick <- p:
	default: // the next anti-entropy round will reach it
	}
}

// Peers returns what the syncer knows of each peer it has synced with.
func (s *Syncer) Peers() map[peer.ID]PeerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[peer.ID]PeerState, len(s.peers))
	for p, st := range s.peers {
		out[p] = *st
	}
	return out
}

// Run receives gossip and runs anti-entropy until ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	defer func() {
		for _, p := range Protocols() {
			s.cfg.Host.RemoveStreamHandler(p)
		}
	}()
	defer s.sub.Cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.receive(ctx)
	}()
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-s.kick:
			s.startPull(ctx, &wg, p)
		case <-tick.C:
			for _, p := range s.cfg.Host.Network().Peers() {
				if s.cfg.Allow == nil || s.cfg.Allow(p) {
					s.startPull(ctx, &wg, p)
				}
			}
		}
	}
}

func (s *Syncer) receive(ctx context.Context) {
	for {
		m, err := s.sub.Next(ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == s.cfg.Host.ID() {
			continue // our own event, echoed back
		}
		ev, ok := m.ValidatorData.(*ledger.Event)
		if !ok || !s.enrolled(m.ReceivedFrom, ev) {
			continue
		}
		res, err := s.cfg.DB.Insert(ctx, []*ledger.Event{ev})
		if err != nil {
			s.log.Warn("store gossiped event", "till", ev.Till.Short(), "seq", ev.Seq, "err", err)
			continue
		}
		s.report(m.ReceivedFrom, res)
		if res.Held > 0 {
			// A gap: fetch what is missing from the peer that sent it.
			s.PeerJoined(m.ReceivedFrom)
		}
	}
}

// enrolled reports whether ev's till is enrolled and ev is not above its
// revocation, logging a drop.
func (s *Syncer) enrolled(from peer.ID, ev *ledger.Event) bool {
	if s.cfg.Enrolled != nil && !s.cfg.Enrolled(ev.Till) {
		s.log.Warn("dropped event of a till with no certificate", "peer", from, "till", ev.Till.Short(), "seq", ev.Seq)
		return false
	}
	if s.cfg.RevokedAfter != nil {
		if after, revoked := s.cfg.RevokedAfter(ev.Till); revoked && ev.Seq > after {
			s.log.Debug("dropped event of a revoked till", "peer", from, "till", ev.Till.Short(), "seq", ev.Seq, "valid_up_to", after)
			return false
		}
	}
	return true
}

func (s *Syncer) report(from peer.ID, res ledgerdb.InsertResult) {
	for _, r := range res.Rejected {
		s.log.Warn("dropped invalid event from peer", "peer", from, "till", r.Event.Till.Short(), "seq", r.Event.Seq, "reason", r.Err)
	}
	if len(res.Applied) > 0 && s.cfg.OnApplied != nil {
		s.cfg.OnApplied(res.Applied)
	}
}

// startPull runs a pull from p unless one is running; then it runs again
// when that one ends, so a kick during a pull is never lost.
func (s *Syncer) startPull(ctx context.Context, wg *sync.WaitGroup, p peer.ID) {
	s.mu.Lock()
	if s.pulling[p] {
		s.again[p] = true
		s.mu.Unlock()
		return
	}
	s.pulling[p] = true
	s.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			err := s.Pull(ctx, p)
			if err != nil && ctx.Err() == nil {
				s.log.Debug("pull", "peer", p, "err", err)
			}
			s.mu.Lock()
			if !s.again[p] || ctx.Err() != nil {
				delete(s.pulling, p)
				s.mu.Unlock()
				return
			}
			delete(s.again, p)
			s.mu.Unlock()
		}
	}()
}

// Pull fetches from p every event we lack, verifies and stores it. It
// returns how the exchange went; PeerState records it. Pulls take turns
// (at most pullTurnWait each): what we lack is read once the pull before
// has stored its events, so two peers do not both send the same backlog.
func (s *Syncer) Pull(ctx context.Context, p peer.ID) error {
	wait := time.NewTimer(pullTurnWait)
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-wait.C: // the pull before is slow: go on beside it
	case <-ctx.Done():
		wait.Stop()
		return ctx.Err()
	}
	wait.Stop()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	err := s.pull(ctx, p)
	s.mu.Lock()
	st := s.peer(p)
	st.LastErr = ""
	if err != nil {
		st.LastErr = err.Error()
	}
	s.mu.Unlock()
	return err
}

func (s *Syncer) peer(p peer.ID) *PeerState {
	st := s.peers[p]
	if st == nil {
		st = &PeerState{}
		s.peers[p] = st
	}
	return st
}

func (s *Syncer) pull(ctx context.Context, p peer.ID) error {
	st, err := s.cfg.Host.NewStream(network.WithAllowLimitedConn(ctx, "ledger"), p, Protocols()...)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	w, r := bufio.NewWriter(st), bufio.NewReaderSize(st, 64<<10)
	mine := s.cfg.DB.Vector()
	if err := writeMsg(w, request{Vector: mine, Now: s.cfg.Now().UnixMilli()}); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	st.CloseWrite()
	first := true
	t0, got, applied := time.Now(), 0, 0
	for {
		var f frame
		if err := readMsg(r, maxFrame, &f); err != nil {
			return fmt.Errorf("read frame: %w", err)
		}
		if first {
			first = false
			theirs := ledger.Vector(f.Vector)
			skew := time.Duration(f.Now-s.cfg.Now().UnixMilli()) * time.Millisecond
			s.mu.Lock()
			ps := s.peer(p)
			ps.Vector, ps.Skew, ps.Clock, ps.LastSync = theirs, skew, time.UnixMilli(f.Now), s.cfg.Now()
			ps.Behind, ps.Ahead = count(mine.Diff(theirs)), count(theirs.Diff(mine))
			s.mu.Unlock()
			if skew > s.cfg.MaxSkew || -skew > s.cfg.MaxSkew {
				s.log.Warn("peer clock differs from ours", "peer", p, "skew", skew.Round(time.Second))
			}
		}
		if len(f.Events) > 0 {
			evs := make([]*ledger.Event, 0, len(f.Events))
			for _, b := range f.Events {
				ev, err := ledger.Decode(b)
				if err != nil {
					s.log.Warn("dropped malformed event from peer", "peer", p, "err", err)
					continue
				}
				if s.enrolled(p, ev) {
					evs = append(evs, ev)
				}
			}
			res, err := s.cfg.DB.Insert(ctx, evs)
			if err != nil {
				return fmt.Errorf("store pulled events: %w", err)
			}
			got, applied = got+len(f.Events), applied+len(res.Applied)
			s.mu.Lock()
			s.peer(p).Received += uint64(len(f.Events))
			s.mu.Unlock()
			s.report(p, res)
		}
		if f.Done {
			if got > 0 {
				s.log.Debug("pulled", "peer", p, "events", got, "new", applied, "took", time.Since(t0))
			}
			s.mu.Lock()
			s.peer(p).Ahead = count(ledger.Vector(s.peers[p].Vector).Diff(s.cfg.DB.Vector()))
			s.mu.Unlock()
			return nil
		}
	}
}

func count(rs []ledger.Range) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Len()
	}
	return n
}

// serve answers a pull: every event the client's vector lacks.
func (s *Syncer) serve(st network.Stream) {
	defer st.Close()
	p := st.Conn().RemotePeer()
	if s.cfg.Allow != nil && !s.cfg.Allow(p) {
		st.Reset()
		return
	}
	st.SetDeadline(time.Now().Add(s.cfg.Timeout))
	r, w := bufio.NewReader(st), bufio.NewWriterSize(st, 64<<10)
	var req request
	if err := readMsg(r, maxRequest, &req); err != nil {
		s.log.Debug("bad pull request", "peer", p, "err", err)
		st.Reset()
		return
	}
	// The clock before the head: an event recorded between the two
	// readings is then within the head, never dated before a clock
	// that claims its chain ends below it (PeerState.Clock).
	now := s.cfg.Now().UnixMilli()
	mine := s.cfg.DB.Vector()
	if err := writeMsg(w, frame{Vector: mine, Now: now}); err != nil {
		return
	}
	batch := make([][]byte, 0, min(s.cfg.Batch, 1024))
	sent, size := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		sent += len(batch)
		err := writeMsg(w, frame{Events: batch})
		clear(batch) // the events' bytes go to the collector now
		batch, size = batch[:0], 0
		return err
	}
	for _, rg := range mine.Diff(ledger.Vector(req.Vector)) {
		var werr error
		// Raw: the puller verifies every event anyway, and decoding
		// 10,000 events here cost ~0.15 s of CPU per pull.
		err := s.cfg.DB.RangeRaw(rg.Till, rg.From, func(seq uint64, raw []byte) bool {
			if seq > rg.To {
				return false
			}
			batch = append(batch, raw)
			size += len(raw)
			if len(batch) == s.cfg.Batch || s.cfg.BatchBytes > 0 && size >= s.cfg.BatchBytes {
				werr = flush()
			}
			return werr == nil
		})
		if err != nil || werr != nil {
			s.log.Debug("serve pull", "peer", p, "err", errors.Join(err, werr))
			st.Reset()
			return
		}
	}
	if err := flush(); err != nil {
		return
	}
	if err := writeMsg(w, frame{Done: true}); err != nil {
		return
	}
	if sent > 0 && s.cfg.OnServed != nil {
		s.cfg.OnServed(p, sent)
	}
}
