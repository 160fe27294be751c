package ledgersync_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/node/ledgersync"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

var store = ledger.StoreID{5}

func quiet() *slog.Logger { return testkit.Quiet() }

// gater refuses the peers in its set: the tests' partition switch.
type gater struct {
	mu      sync.Mutex
	blocked map[peer.ID]bool
}

func (g *gater) cut(p peer.ID, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocked[p] = on
}
func (g *gater) ok(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.blocked[p]
}
func (g *gater) InterceptPeerDial(p peer.ID) bool                 { return g.ok(p) }
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.ok(p) }
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.ok(p)
}
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

type node struct {
	key  ed25519.PrivateKey
	h    host.Host
	db   *ledgerdb.DB
	sync *ledgersync.Syncer
	g    *gater
}

func newNode(t *testing.T, seed byte, opts ...func(*ledgersync.Config)) *node {
	t.Helper()
	key := ledgertest.Key(seed)
	pk, err := crypto.UnmarshalEd25519PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	g := &gater{blocked: map[peer.ID]bool{}}
	h, err := libp2p.New(libp2p.Identity(pk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.ConnectionGater(g), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ps, err := pubsub.NewGossipSub(t.Context(), h, pubsub.WithFloodPublish(true))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ledgerdb.DefaultConfig(t.TempDir(), store)
	cfg.Logger, cfg.Ballast = quiet(), 0
	db, err := ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sc := ledgersync.DefaultConfig()
	sc.Host, sc.PubSub, sc.DB, sc.Store, sc.Logger = h, ps, db, store, quiet()
	sc.Interval = 200 * time.Millisecond
	for _, o := range opts {
		o(&sc)
	}
	s, err := ledgersync.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &node{key: key, h: h, db: db, sync: s, g: g}
}

func connect(t *testing.T, a, b *node) {
	t.Helper()
	if err := a.h.Connect(t.Context(), peer.AddrInfo{ID: b.h.ID(), Addrs: b.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

func (n *node) sell(t *testing.T, count int) {
	t.Helper()
	for range count {
		ev, _, err := n.db.Append(t.Context(), n.key, ledgertest.Sale3(), "", time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		if err := n.sync.Publish(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds (testkit.WaitFor).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 20*time.Second, cond)
}

func converged(ns ...*node) bool {
	v := ns[0].db.Vector()
	for _, n := range ns[1:] {
		if !n.db.Vector().Equal(v) {
			return false
		}
	}
	return true
}

func TestLiveAndPartitionCatchUp(t *testing.T) {
	a, b, c := newNode(t, 1), newNode(t, 2), newNode(t, 3)
	connect(t, a, b)
	connect(t, b, c)
	connect(t, a, c)

	a.sell(t, 5)
	tillA := ledger.TillOf(a.key)
	waitFor(t, "live sales on B and C", func() bool {
		return b.db.Vector()[tillA] == 5 && c.db.Vector()[tillA] == 5
	})

	// Cut C off from A and B.
	for _, n := range []*node{a, b} {
		n.g.cut(c.h.ID(), true)
		c.g.cut(n.h.ID(), true)
		n.h.Network().ClosePeer(c.h.ID())
	}
	a.sell(t, 200)
	b.sell(t, 100)
	c.sell(t, 150)
	if got := c.db.Vector()[tillA]; got != 5 {
		t.Fatalf("C saw A's sales through the partition: %d", got)
	}
	// Heal.
	for _, n := range []*node{a, b} {
		n.g.cut(c.h.ID(), false)
		c.g.cut(n.h.ID(), false)
	}
	connect(t, c, a)
	connect(t, c, b)
	waitFor(t, "identical vectors after heal", func() bool { return converged(a, b, c) })
	want := ledger.Vector{tillA: 205, ledger.TillOf(b.key): 100, ledger.TillOf(c.key): 150}
	for _, n := range []*node{a, b, c} {
		if v := n.db.Vector(); !v.Equal(want) {
			t.Fatalf("vector %v, want %v", v, want)
		}
	}
	// Identical chain heads and identical folds.
	var heads [3][3]ledger.EventID
	var stock [3]int64
	for i, n := range []*node{a, b, c} {
		n.db.View(func(s *ledger.State) {
			for j, till := range []ledger.TillID{tillA, ledger.TillOf(b.key), ledger.TillOf(c.key)} {
				_, heads[i][j], _ = s.Head(till)
			}
			stock[i] = s.Fold().StockTotal("1001")
		})
	}
	if heads[0] != heads[1] || heads[1] != heads[2] || stock[0] != stock[1] || stock[1] != stock[2] || stock[0] != -2*455 {
		t.Fatalf("heads or stock differ: stock %v", stock)
	}
	// A may have C's events from B before its own pull from C has its
	// turn (pulls take turns); that pull follows at A's next round.
	waitFor(t, "A's peer state of C", func() bool { return !a.sync.Peers()[c.h.ID()].LastSync.IsZero() })
}

// A till back from an outage pulls from every peer at once; the pulls
// take turns, so a backlog two peers hold comes over once.
func TestPullsTakeTurns(t *testing.T) {
	a, b := newNode(t, 1), newNode(t, 2)
	c := newNode(t, 3, func(c *ledgersync.Config) { c.Interval = time.Hour })
	const n = 1000
	a.sell(t, n)
	connect(t, b, a)
	tillA := ledger.TillOf(a.key)
	waitFor(t, "B holds A's sales", func() bool { return b.db.Vector()[tillA] == n })
	connect(t, c, a)
	connect(t, c, b)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range []*node{a, b} {
		wg.Go(func() {
			<-start
			if err := c.sync.Pull(t.Context(), p.h.ID()); err != nil {
				t.Errorf("pull from %s: %v", p.h.ID(), err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := c.db.Vector()[tillA]; got != n {
		t.Fatalf("C holds %d of A's events, want %d", got, n)
	}
	peers := c.sync.Peers()
	ra, rb := peers[a.h.ID()].Received, peers[b.h.ID()].Received
	if ra+rb != n {
		t.Errorf("C received %d events from A and %d from B, want %d in all (each once)", ra, rb, n)
	}
}

func TestUnenrolledTillsEventsAreDropped(t *testing.T) {
	rogue := ledgertest.NewTill(store, 66, 66) // holds no certificate
	a := newNode(t, 1)                         // a careless peer that accepts anything
	b := newNode(t, 2, func(c *ledgersync.Config) {
		c.Enrolled = func(id ledger.TillID) bool { return id != rogue.ID }
	})
	var evs []*ledger.Event
	for i := range 5 {
		evs = append(evs, rogue.MustNext(ledgertest.Sale3(), time.Now().UnixMilli()+int64(i)))
	}
	if _, err := a.db.Insert(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	a.sell(t, 3)
	connect(t, a, b)
	waitFor(t, "A's own sales on B", func() bool { return b.db.Vector()[ledger.TillOf(a.key)] == 3 })
	if err := b.sync.Pull(t.Context(), a.h.ID()); err != nil {
		t.Fatal(err)
	}
	if got := b.db.Vector()[rogue.ID]; got != 0 {
		t.Fatalf("B stored %d events of an unenrolled till", got)
	}
}

// TestOnServedNamesThePeerThatWasBehind: a till that answers a pull with
// events says so, naming the peer, so the node can offer that peer its
// inventory heads too.
func TestOnServedNamesThePeerThatWasBehind(t *testing.T) {
	var mu sync.Mutex
	served := map[peer.ID]int{}
	a := newNode(t, 1, func(c *ledgersync.Config) {
		c.OnServed = func(p peer.ID, n int) {
			mu.Lock()
			defer mu.Unlock()
			served[p] += n
		}
	})
	b := newNode(t, 2)
	a.sell(t, 30) // nobody listening: only a pull brings these to b
	connect(t, b, a)
	waitFor(t, "b caught up", func() bool { return converged(a, b) })
	waitFor(t, "a reported serving b", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return served[b.h.ID()] >= 30
	})
	mu.Lock()
	defer mu.Unlock()
	if len(served) != 1 {
		t.Fatalf("served %v, want only b", served)
	}
}

// TestPullAnswerFramesAreBoundedInBytes: a pull answer ends a frame once
// its events reach BatchBytes (both ends hold a frame at once, decoded at
// the puller), and without a byte bound Batch alone decides.
func TestPullAnswerFramesAreBoundedInBytes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		batchBytes int // in the largest event's bytes; 0: no bound
		min, max   int // frames
	}{
		{"no byte bound", 0, 1, 1},
		// 3 or 4 events a frame: sales differ a little in size.
		{"three events' worth", 3, 10, 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newNode(t, 1, func(c *ledgersync.Config) { c.BatchBytes = 0 })
			a.sell(t, 40)
			one := 0
			if err := a.db.RangeRaw(ledger.TillOf(a.key), 1, func(_ uint64, raw []byte) bool {
				one = max(one, len(raw))
				return true
			}); err != nil {
				t.Fatal(err)
			}
			srv := newNode(t, 2, func(c *ledgersync.Config) { c.BatchBytes = tc.batchBytes * one })
			if _, err := srv.db.Insert(t.Context(), rangeEvents(t, a)); err != nil {
				t.Fatal(err)
			}
			cli := newNode(t, 3)
			connect(t, cli, srv)
			st, err := cli.h.NewStream(t.Context(), srv.h.ID(), ledgersync.Protocols()...)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			frames, err := ledgersync.PullFrames(st)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for i, f := range frames {
				n += len(f)
				size := 0
				for _, raw := range f {
					size += len(raw)
				}
				if tc.batchBytes > 0 && size > (tc.batchBytes+1)*one {
					t.Errorf("frame %d holds %d bytes, want at most %d (BatchBytes %d and one event)", i, size, (tc.batchBytes+1)*one, tc.batchBytes*one)
				}
			}
			if n != 40 {
				t.Errorf("the answer held %d events, want 40", n)
			}
			if got := len(frames); got < tc.min || got > tc.max {
				t.Errorf("the answer came in %d frames, want %d to %d", got, tc.min, tc.max)
			}
		})
	}
}

// rangeEvents returns every event of n's own till.
func rangeEvents(t *testing.T, n *node) []*ledger.Event {
	t.Helper()
	var evs []*ledger.Event
	if err := n.db.RangeRaw(ledger.TillOf(n.key), 1, func(_ uint64, raw []byte) bool {
		ev, err := ledger.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return evs
}
