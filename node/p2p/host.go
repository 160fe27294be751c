package p2p

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/tillmesh/tillmesh/ledger"
)

// Host is a till's libp2p host: a TCP-only private network, a connection
// gater and hello protocol that admit only tills the store CA enrolled,
// gossipsub, and discovery (static peers, the peer cache, mDNS) with a
// dial loop that keeps the mesh connected.
type Host struct {
	cfg       Config
	log       *slog.Logger
	h         host.Host
	ps        *pubsub.PubSub
	self      peer.ID
	hello     []byte // our hello message
	helloV2   []byte // our hello 2 message (certificate and release)
	storeHash string // advertised over mDNS instead of the store ID

	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // goroutines owned by the Host; Add only under mu while !closed
	started atomic.Bool    // Run was called: accept connections from now on
	runDone chan struct{}  // closed when Run returns
	wake    chan struct{}  // wakes the dial loop

	mu         sync.Mutex
	peers      map[peer.ID]*peerState
	subs       map[*subscriber]struct{}
	dirty      bool      // the peer cache is out of date
	cacheWrite time.Time // last peer cache write
	closed     bool
	closeErr   error
}

// peerState is what the Host knows of one peer. Guarded by Host.mu.
type peerState struct {
	id   peer.ID
	till ledger.TillID // zero if the peer ID is not an ed25519 key
	cert *ledger.Certificate
	// number and name come from the certificate, or from the peer cache
	// until the peer has been admitted; they are never trusted.
	number  uint32
	name    string
	addrs   []ma.Multiaddr // dial addresses: static, cache, mDNS, past connections
	static  bool
	release string // announced in the peer's hello 2; empty for hello 1

	connected bool   // as of the last connectedness event
	session   uint64 // bumped on every connect and disconnect
	verified  bool   // we verified the peer's certificate on this connection
	acked     bool   // the peer acknowledged ours on this connection
	admitted  bool   // verified && acked && connected; PeerAdmitted sent
	lastSeen  time.Time
	pingAt    time.Time

	fails        int // dial or admission failures since the last admission
	nextDial     time.Time
	dialing      bool
	blocked      bool // by Block
	refusedUntil time.Time
	problem      string
}

// New builds the host: it listens on cfg.ListenAddrs and sets up gossipsub
// and the hello protocol, but refuses every connection and dials nobody
// until Run. Build everything that must see every new connection (the
// CRDT store, protocol handlers) between New and Run. ctx bounds only the
// set-up; the host lives until Close.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	priv, self, cert, err := identity(cfg)
	if err != nil {
		return nil, err
	}
	helloV2, err := encodeHelloV2(cert, cfg.Release)
	if err != nil {
		return nil, fmt.Errorf("p2p: encode hello: %w", err)
	}
	h := &Host{
		helloV2:   helloV2,
		cfg:       cfg,
		log:       cfg.Logger.With("component", "p2p"),
		self:      self,
		hello:     encodeHello(cert),
		storeHash: storeHash(cfg.Store),
		runDone:   make(chan struct{}),
		wake:      make(chan struct{}, 1),
		peers:     make(map[peer.ID]*peerState),
		subs:      make(map[*subscriber]struct{}),
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			h.cancel()
		}
	}()
	h.seedPeers()

	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("p2p: connection manager: %w", err)
	}
	lh, err := newLibp2pHost(cfg, hostParts{priv: priv, self: self, gater: &gater{h}, connMg: cm})
	if err != nil {
		return nil, fmt.Errorf("p2p: libp2p host: %w", err)
	}
	h.h = lh
	sub, err := lh.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged), eventbus.BufSize(1024))
	if err != nil {
		_ = lh.Close()
		return nil, fmt.Errorf("p2p: subscribe to connection events: %w", err)
	}
	for _, p := range h.helloProtocols() {
		lh.SetStreamHandler(p, h.handleHello)
	}

	h.ps, err = h.newGossipSub(lh)
	if err != nil {
		_ = sub.Close()
		_ = lh.Close()
		return nil, fmt.Errorf("p2p: gossipsub: %w", err)
	}
	if err := lh.start(); err != nil {
		_ = sub.Close()
		_ = lh.Close()
		return nil, fmt.Errorf("p2p: %w", err)
	}
	ok = true
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.eventLoop(sub)
	}()
	h.log.Debug("host ready", "peer", self, "till", cfg.Cert.Number, "addrs", h.Addrs())
	return h, nil
}

// identity is the till's libp2p key and peer ID, and its encoded
// certificate.
func identity(cfg Config) (crypto.PrivKey, peer.ID, []byte, error) {
	priv, err := crypto.UnmarshalEd25519PrivateKey(cfg.Key)
	if err != nil {
		return nil, "", nil, fmt.Errorf("p2p: till key: %w", err)
	}
	cert, err := cfg.Cert.Encode()
	if err != nil {
		return nil, "", nil, fmt.Errorf("p2p: encode own certificate: %w", err)
	}
	self, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, "", nil, fmt.Errorf("p2p: peer ID: %w", err)
	}
	return priv, self, cert, nil
}

// seedPeers records the static peers and the addresses in the peer cache.
func (h *Host) seedPeers() {
	for _, s := range h.cfg.StaticPeers {
		ai, _ := parsePeerAddr(s) // Validate parsed it
		if ai.ID == h.self {
			continue
		}
		st := h.peer(ai.ID)
		st.static = true
		st.addrs = mergeAddrs(st.addrs, ai.Addrs)
	}
	if h.cfg.PeerCache != "" {
		if err := h.loadCache(); err != nil {
			h.log.Warn("peer cache unreadable; starting without it", "path", h.cfg.PeerCache, "err", err)
		}
	}
}

// newGossipSub starts gossipsub on lh. On a LAN of at most 30 tills a
// wider mesh costs little and shortens the path of relayed messages; our
// own messages are flooded anyway.
func (h *Host) newGossipSub(lh *meshHost) (*pubsub.PubSub, error) {
	params := pubsub.DefaultGossipSubParams()
	params.D, params.Dlo, params.Dhi = 8, 6, 12
	return pubsub.NewGossipSub(h.ctx, lh,
		pubsub.WithGossipSubParams(params),
		pubsub.WithFloodPublish(true),
		pubsub.WithPeerExchange(false),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithPeerOutboundQueueSize(1024),
		pubsub.WithValidateQueueSize(1024),
		pubsub.WithDefaultValidator(pubsub.ValidatorEx(h.CheckMessage), pubsub.WithValidatorInline(true)),
	)
}

// Run accepts connections, and runs discovery (mDNS if enabled) and the
// dial loop until ctx ends or the host is closed. It writes the peer
// cache before it returns. It returns nil when ctx ends, ErrClosed if the
// host was closed, and an error if called twice.
func (h *Host) Run(ctx context.Context) error {
	if !h.started.CompareAndSwap(false, true) {
		return errors.New("p2p: Run called twice")
	}
	defer close(h.runDone)
	if h.ctx.Err() != nil {
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(h.ctx, cancel)
	defer stop()

	var loops sync.WaitGroup
	if h.cfg.MDNS {
		m, err := h.startMDNS()
		if err != nil {
			h.log.Warn("mDNS unavailable; finding tills through static peers and the peer cache only", "err", err)
		} else {
			loops.Go(func() { m.queryLoop(ctx) })
			defer m.close()
		}
	}
	loops.Go(func() { h.dialLoop(ctx) })
	<-ctx.Done()
	loops.Wait()
	if err := h.writeCache(); err != nil {
		h.log.Warn("write peer cache", "path", h.cfg.PeerCache, "err", err)
	}
	if h.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// Close stops Run, closes every connection and the host, and closes the
// channels of Subscribe. It is safe to call more than once.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return h.closeErr
	}
	h.closed = true
	h.mu.Unlock()

	h.cancel()
	if h.started.Load() {
		<-h.runDone
	}
	err := h.h.Close()
	h.wg.Wait()

	h.mu.Lock()
	h.closeErr = err
	h.mu.Unlock()
	return err
}

// Host returns the libp2p host, for protocol handlers of other layers.
// Handlers must serve only peers for which Admitted reports true.
func (h *Host) Host() host.Host { return h.h }

// PubSub returns the store's gossipsub. Its default validator drops
// messages relayed by peers that are not admitted (see CheckMessage).
func (h *Host) PubSub() *pubsub.PubSub { return h.ps }

// ID returns this till's peer ID.
func (h *Host) ID() peer.ID { return h.self }

// Addrs returns the host's addresses, each ending in /p2p/<peer ID>: what
// another till needs for StaticPeers.
func (h *Host) Addrs() []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.self, Addrs: h.h.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// PeerInfo describes a peer the host knows of.
type PeerInfo struct {
	ID   peer.ID
	Till ledger.TillID // zero if the peer ID is not a till key
	// Number and Name come from the peer's certificate, or from the peer
	// cache before the peer has been admitted.
	Number uint32
	Name   string
	// Release is the peer's tillmesh version as its hello 2 announced
	// it; empty for a till older than hello 2 or not yet admitted.
	Release string
	Addrs   []ma.Multiaddr // known dial addresses
	// Connected reports a live connection; Admitted that the peer's
	// certificate was verified on it.
	Connected bool
	Admitted  bool
	Static    bool // from Config.StaticPeers
	Blocked   bool // by Block, or refused for a while after failing admission
	LastSeen  time.Time
	RTT       time.Duration // smoothed round-trip time; 0 if not measured
	Problem   string        // why the last dial or admission failed; "" once admitted
}

// Peers lists every peer the host knows of, ordered by till number and
// then peer ID.
func (h *Host) Peers() []PeerInfo {
	now := time.Now()
	h.mu.Lock()
	out := make([]PeerInfo, 0, len(h.peers))
	for _, st := range h.peers {
		out = append(out, PeerInfo{
			ID: st.id, Till: st.till, Number: st.number, Name: st.name, Release: st.release,
			Addrs:    slices.Clone(st.addrs),
			Admitted: st.verified, Static: st.static,
			Blocked:  st.blocked || now.Before(st.refusedUntil),
			LastSeen: st.lastSeen, Problem: st.problem,
		})
	}
	h.mu.Unlock()
	for i := range out {
		p := &out[i]
		p.Connected = h.h.Network().Connectedness(p.ID) == network.Connected
		p.RTT = h.h.Peerstore().LatencyEWMA(p.ID)
		if p.Connected {
			p.LastSeen = now
		}
	}
	slices.SortFunc(out, func(a, b PeerInfo) int {
		return cmp.Or(cmp.Compare(a.Number, b.Number), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// peer returns the state of p, creating it. Call with mu held.
func (h *Host) peer(p peer.ID) *peerState {
	st := h.peers[p]
	if st == nil {
		st = &peerState{id: p}
		st.till, _ = TillOf(p)
		h.peers[p] = st
	}
	return st
}

// notify wakes the dial loop.
func (h *Host) notify() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// spawn runs f in a goroutine owned by the Host, unless the Host is
// closed. Call without mu held.
func (h *Host) spawn(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
	return true
}

// eventLoop turns libp2p connectedness events into admission work.
func (h *Host) eventLoop(sub event.Subscription) {
	defer sub.Close()
	for {
		select {
		case <-h.ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			ev := e.(event.EvtPeerConnectednessChanged)
			switch ev.Connectedness {
			case network.Connected:
				h.onConnected(ev.Peer)
			case network.NotConnected:
				h.onDisconnected(ev.Peer)
			}
		}
	}
}

// mergeAddrs returns the TCP addresses of add, then those of addrs that
// are not in add, at most eight: the newest sightings first.
func mergeAddrs(addrs, add []ma.Multiaddr) []ma.Multiaddr {
	const maxAddrs = 8
	out := make([]ma.Multiaddr, 0, min(len(addrs)+len(add), maxAddrs))
	for _, a := range slices.Concat(add, addrs) {
		if len(out) == maxAddrs {
			break
		}
		if a != nil && isTCP(a) && !slices.ContainsFunc(out, a.Equal) {
			out = append(out, a)
		}
	}
	return out
}
