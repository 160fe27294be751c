package crdt

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	badger4 "github.com/ipfs/go-ds-badger4"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// gate is a connection gater that cuts a host off from everyone while
// blocked is set.
type gate struct{ blocked atomic.Bool }

func (g *gate) InterceptPeerDial(peer.ID) bool               { return !g.blocked.Load() }
func (g *gate) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return !g.blocked.Load() }
func (g *gate) InterceptAccept(network.ConnMultiaddrs) bool  { return !g.blocked.Load() }
func (g *gate) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return !g.blocked.Load(), 0
}
func (g *gate) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return !g.blocked.Load()
}

// replica is one till's host, pubsub and Store on loopback.
type replica struct {
	name string
	h    host.Host
	ps   *pubsub.PubSub
	s    *Store
	gate *gate
	d    ds.Batching
	mesh *meshTracer
}

type replicaOpts struct {
	flood  bool         // gossipsub flood publishing (off by default in v0.16)
	badger bool         // Badger in a temporary directory, else in memory
	logger *slog.Logger // nil: warnings to the test log
	config func(*Config)
	// beforeStart runs before the Store is created (e.g. to connect to
	// a peer a newcomer takes its snapshot from).
	beforeStart func(*replica)
}

func newReplica(tb testing.TB, name string, o replicaOpts) *replica {
	tb.Helper()
	r := &replica{name: name, gate: &gate{}}
	if o.badger {
		dir := tb.TempDir()
		bd, err := badger4.NewDatastore(dir, BadgerOptions(dir))
		if err != nil {
			tb.Fatalf("open badger: %v", err)
		}
		r.d = bd
		tb.Cleanup(func() { _ = bd.Close() })
	} else {
		r.d = dssync.MutexWrap(ds.NewMapDatastore())
	}
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ConnectionGater(r.gate),
		libp2p.DisableRelay(),
	)
	if err != nil {
		tb.Fatalf("libp2p host: %v", err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	r.h = h
	psCtx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	r.mesh = &meshTracer{peers: map[peer.ID]bool{}}
	r.ps, err = pubsub.NewGossipSub(psCtx, h, pubsub.WithRawTracer(r.mesh), pubsub.WithFloodPublish(o.flood))
	if err != nil {
		tb.Fatalf("gossipsub: %v", err)
	}
	if o.beforeStart != nil {
		o.beforeStart(r)
	}
	r.start(tb, o)
	return r
}

// start (re)opens the Store over the replica's datastore.
func (r *replica) start(tb testing.TB, o replicaOpts) {
	tb.Helper()
	log := o.logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})).With("replica", r.name)
	}
	cfg := DefaultConfig()
	cfg.Datastore = r.d
	cfg.Host = r.h
	cfg.PubSub = r.ps
	cfg.Topic = "tillmesh/test/inventory"
	cfg.TillID = r.name
	cfg.Logger = log
	cfg.FetchTimeout = 10 * time.Second
	// A gossip message lost under load (gossipsub drops silently when a
	// peer's queue is full) is repaired by the rebroadcast. Production's
	// 30 s equals many tests' deadlines; keep it well inside them, as it
	// is in production against minutes.
	cfg.RebroadcastInterval = 3 * time.Second
	if o.config != nil {
		o.config(&cfg)
	}
	s, err := New(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("New %s: %v", r.name, err)
	}
	r.s = s
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close %s: %v", r.name, err)
		}
	})
}

func connect(tb testing.TB, a, b *replica) {
	tb.Helper()
	err := a.h.Connect(tb.Context(), peer.AddrInfo{ID: b.h.ID(), Addrs: b.h.Addrs()})
	if err != nil {
		tb.Fatalf("connect %s -> %s: %v", a.name, b.name, err)
	}
}

// isolate cuts r off from every peer until heal.
func isolate(r *replica) {
	r.gate.blocked.Store(true)
	for _, p := range r.h.Network().Peers() {
		_ = r.h.Network().ClosePeer(p)
	}
}

func heal(tb testing.TB, r *replica, peers ...*replica) {
	tb.Helper()
	r.gate.blocked.Store(false)
	for _, p := range peers {
		connect(tb, r, p)
	}
}

// mesh makes n replicas named till-a, till-b, ..., all stores created
// before any dial, then connects every pair and waits until each sees the
// others on the topic.
func mesh(tb testing.TB, n int, o replicaOpts) []*replica {
	tb.Helper()
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = newReplica(tb, "till-"+string(rune('a'+i)), o)
	}
	for i := range rs {
		for j := i + 1; j < n; j++ {
			connect(tb, rs[i], rs[j])
		}
	}
	waitTopicPeers(tb, rs...)
	return rs
}

// waitTopicPeers waits until every replica has every other in its
// gossipsub mesh: before that, without flood publishing, a publish reaches
// no one.
func waitTopicPeers(tb testing.TB, rs ...*replica) {
	tb.Helper()
	eventually(tb, 10*time.Second, "gossipsub mesh", func() bool {
		for _, r := range rs {
			if r.mesh.size() < len(rs)-1 {
				return false
			}
		}
		return true
	})
}

// meshTracer tracks a pubsub's gossipsub mesh peers.
type meshTracer struct {
	mu    sync.Mutex
	peers map[peer.ID]bool
}

func (m *meshTracer) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.peers)
}

func (m *meshTracer) Graft(p peer.ID, _ string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peers[p] = true
}

func (m *meshTracer) Prune(p peer.ID, _ string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.peers, p)
}

func (m *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (m *meshTracer) OnClosedOutboundStream(peer.ID)           {}
func (m *meshTracer) Join(string)                              {}
func (m *meshTracer) Leave(string)                             {}
func (m *meshTracer) ValidateMessage(*pubsub.Message)          {}
func (m *meshTracer) DeliverMessage(*pubsub.Message)           {}
func (m *meshTracer) RejectMessage(*pubsub.Message, string)    {}
func (m *meshTracer) DuplicateMessage(*pubsub.Message)         {}
func (m *meshTracer) ThrottlePeer(peer.ID)                     {}
func (m *meshTracer) RecvRPC(*pubsub.RPC)                      {}
func (m *meshTracer) SendRPC(*pubsub.RPC, peer.ID)             {}
func (m *meshTracer) DropRPC(*pubsub.RPC, peer.ID)             {}
func (m *meshTracer) UndeliverableMessage(*pubsub.Message)     {}

// eventually polls cond every 5 ms until it holds or timeout passes.
// On timeout it reports the state of the given replicas.
func eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool, show ...*replica) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			for _, r := range show {
				heads, _ := r.s.Heads()
				tb.Logf("%s: heads %v, %+v", r.name, heads, r.s.Stats())
			}
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-tick.C:
		case <-tb.Context().Done():
			tb.Fatalf("test context done waiting for %s", what)
		}
	}
}

// caughtUp reports whether the replicas hold the same heads and have
// merged everything they were told about.
func caughtUp(rs ...*replica) bool {
	for _, r := range rs {
		if r.s.Stats().Pending != 0 {
			return false
		}
	}
	return sameHeads(rs...)
}

func sameHeads(rs ...*replica) bool {
	var first []cid.Cid
	for i, r := range rs {
		h, _ := r.s.Heads()
		if i == 0 {
			first = h
			if len(h) == 0 {
				return false
			}
			continue
		}
		if !slices.Equal(first, h) {
			return false
		}
	}
	return true
}

// captureHandler records log messages so tests can check what was logged.
type captureHandler struct {
	mu   sync.Mutex
	msgs []string
}

func newCaptureLogger(h *captureHandler) *slog.Logger { return slog.New(h) }

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

func (h *captureHandler) contains(sub string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}
