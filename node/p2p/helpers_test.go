package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// testStore is a store: an ID, a PSK and a CA that enrolls tills.
type testStore struct {
	id    ledger.StoreID
	psk   [32]byte
	ca    ed25519.PublicKey
	caKey ed25519.PrivateKey
}

func newTestStore(t testing.TB) *testStore {
	t.Helper()
	s := &testStore{}
	_, _ = rand.Read(s.id[:])
	_, _ = rand.Read(s.psk[:])
	var err error
	if s.ca, s.caKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	return s
}

// enroll issues a certificate for key.
func (s *testStore) enroll(t testing.TB, key ed25519.PrivateKey, number uint32) *ledger.Certificate {
	t.Helper()
	c := &ledger.Certificate{Store: s.id, Till: ledger.TillOf(key), Number: number, Name: "Till " + string(rune('0'+number%10)), Issued: 1_700_000_000_000}
	if err := c.Sign(s.caKey); err != nil {
		t.Fatal(err)
	}
	return c
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// config returns a Config for a new till of s on loopback, with timers
// short enough for tests.
func (s *testStore) config(t testing.TB, number uint32) Config {
	t.Helper()
	key := newKey(t)
	cfg := DefaultConfig()
	cfg.Key = key
	cfg.Store = s.id
	cfg.PSK = s.psk
	cfg.CA = s.ca
	cfg.Cert = s.enroll(t, key, number)
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.HelloTimeout = 3 * time.Second
	cfg.DialInterval = 200 * time.Millisecond
	cfg.MaxBackoff = time.Second
	cfg.DialTimeout = 2 * time.Second
	cfg.MDNSInterval = 500 * time.Millisecond
	cfg.Logger = testLogger(t)
	return cfg
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// node is a running Host with its event subscription.
type node struct {
	*Host
	events <-chan Event
	stop   context.CancelFunc
	done   chan error
}

// newNode builds a Host and subscribes to its events, without running it.
func newNode(t testing.TB, cfg Config) *node {
	t.Helper()
	h, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	n := &node{Host: h}
	n.events = h.Subscribe()
	t.Cleanup(func() { n.close(t) })
	return n
}

// start runs the node until close or the end of the test.
func (n *node) start(t testing.TB) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	n.done = make(chan error, 1)
	go func() { n.done <- n.Run(ctx) }()
	// Until Run starts, the gater refuses every dial and accept: a test
	// that connects right after start must not race it.
	waitFor(t, 10*time.Second, "Run started", func() bool { return n.started.Load() })
	return n
}

// close stops Run, checks its result and closes the host.
func (n *node) close(t testing.TB) {
	t.Helper()
	if n.stop != nil {
		n.stop()
		if err := <-n.done; err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Run: %v", err)
		}
		n.stop = nil
	}
	if err := n.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func runNode(t testing.TB, cfg Config) *node {
	t.Helper()
	return newNode(t, cfg).start(t)
}

// staticAddr is n's first address, for another node's StaticPeers.
func (n *node) staticAddr(t testing.TB) string {
	t.Helper()
	addrs := n.Addrs()
	if len(addrs) == 0 {
		t.Fatal("host has no addresses")
	}
	return addrs[0].String()
}

func (n *node) addrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.ID(), Addrs: n.Host.Host().Addrs()}
}

// waitEvent waits for the next event of kind about p, skipping others.
func (n *node) waitEvent(t testing.TB, kind EventKind, p peer.ID) Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-n.events:
			if !ok {
				t.Fatalf("event channel closed waiting for %v of %s", kind, p)
			}
			if ev.Kind == kind && ev.Peer == p {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v of %s within 10s", kind, p)
		}
	}
}

// noEvent fails if an event about p is queued.
func (n *node) noEvent(t testing.TB, p peer.ID) {
	t.Helper()
	for {
		select {
		case ev := <-n.events:
			if ev.Peer == p {
				t.Fatalf("unexpected %v of %s", ev.Kind, p)
			}
		default:
			return
		}
	}
}

// peerInfo returns what n knows of p.
func (n *node) peerInfo(p peer.ID) (PeerInfo, bool) {
	for _, pi := range n.Peers() {
		if pi.ID == p {
			return pi, true
		}
	}
	return PeerInfo{}, false
}

// waitFor polls cond until it holds (testkit.WaitFor).
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, timeout, cond)
}
