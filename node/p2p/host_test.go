package p2p

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/tillmesh/tillmesh/ledger"
)

func TestTwoTillsAdmitEachOther(t *testing.T) {
	s := newTestStore(t)
	b := runNode(t, s.config(t, 2))
	cfgA := s.config(t, 1)
	cfgA.StaticPeers = []string{b.staticAddr(t)}
	a := runNode(t, cfgA)

	evA := a.waitEvent(t, PeerAdmitted, b.ID())
	evB := b.waitEvent(t, PeerAdmitted, a.ID())
	if got, want := evA.Till, b.cfg.Cert.Till; got != want {
		t.Errorf("a's event names till %s, want %s", got.Short(), want.Short())
	}
	if evA.Cert.Number != 2 || evB.Cert.Number != 1 {
		t.Errorf("event certificates: a saw number %d, b saw %d; want 2 and 1", evA.Cert.Number, evB.Cert.Number)
	}
	if c, ok := a.Admitted(b.ID()); !ok || c.Number != 2 {
		t.Errorf("a.Admitted(b) = %d, %v; want number 2, true", c.Number, ok)
	}
	if certs := b.Certificates(); len(certs) != 1 || certs[0].Till != a.cfg.Cert.Till {
		t.Errorf("b.Certificates() = %+v, want a's certificate", certs)
	}
	pi, ok := a.peerInfo(b.ID())
	if !ok || !pi.Connected || !pi.Admitted || !pi.Static || pi.Number != 2 || pi.Name != b.cfg.Cert.Name || pi.Blocked || pi.Problem != "" {
		t.Errorf("a.Peers() entry for b = %+v", pi)
	}
	if pi, _ := b.peerInfo(a.ID()); pi.Static || pi.Number != 1 {
		t.Errorf("b.Peers() entry for a = %+v, want number 1, not static", pi)
	}
	// A late subscriber first hears of the peers admitted already.
	late := a.Subscribe()
	select {
	case ev := <-late:
		if ev.Kind != PeerAdmitted || ev.Peer != b.ID() || ev.Cert.Number != 2 {
			t.Errorf("late subscriber's first event = %v of %s, want %v of b", ev.Kind, ev.Peer, PeerAdmitted)
		}
	case <-time.After(5 * time.Second):
		t.Error("late subscriber did not hear of b")
	}
	a.Unsubscribe(late)
	for range late { // closed by Unsubscribe
	}

	waitFor(t, 5*time.Second, "a to measure b's RTT", func() bool {
		pi, _ := a.peerInfo(b.ID())
		return pi.RTT > 0
	})

	// Gossipsub between admitted tills, through the default validator.
	ta, err := a.PubSub().Join("tillmesh/test")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.PubSub().Join("tillmesh/test")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	waitFor(t, 5*time.Second, "a to see b's subscription", func() bool { return len(ta.ListPeers()) == 1 })
	if err := ta.Publish(t.Context(), []byte("sale 1-1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	msg, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("b did not receive a's message: %v", err)
	}
	if string(msg.Data) != "sale 1-1" || msg.GetFrom() != a.ID() {
		t.Errorf("b received %q from %s, want %q from %s", msg.Data, msg.GetFrom(), "sale 1-1", a.ID())
	}
}

func TestWrongPSKCannotConnect(t *testing.T) {
	s := newTestStore(t)
	other := *s
	other.psk[0] ^= 0xff
	e := runNode(t, other.config(t, 2))
	cfgA := s.config(t, 1)
	cfgA.StaticPeers = []string{e.staticAddr(t)}
	a := runNode(t, cfgA)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := e.Host.Host().Connect(ctx, a.addrInfo()); err == nil {
		t.Fatal("a host with another PSK connected")
	}
	waitFor(t, 5*time.Second, "a's dial of e to fail", func() bool {
		pi, _ := a.peerInfo(e.ID())
		return strings.HasPrefix(pi.Problem, "dial:")
	})
	if _, ok := a.Admitted(e.ID()); ok {
		t.Error("a admitted a till with another PSK")
	}
	a.noEvent(t, e.ID())
	e.noEvent(t, a.ID())
}

func TestCertificateFromAnotherCARefused(t *testing.T) {
	s := newTestStore(t)
	other := *s // same store ID and PSK, another CA
	_, other.caKey, _ = ed25519.GenerateKey(nil)
	other.ca = other.caKey.Public().(ed25519.PublicKey)
	c := runNode(t, other.config(t, 2))
	cfgA := s.config(t, 1)
	cfgA.StaticPeers = []string{c.staticAddr(t)}
	a := runNode(t, cfgA)

	// Each side finds the other's certificate bad; whichever checks first
	// closes the connection, so at least one of them records why.
	refused := func(n *node, p peer.ID) bool {
		pi, _ := n.peerInfo(p)
		return pi.Blocked && strings.Contains(pi.Problem, "signature does not verify")
	}
	waitFor(t, 5*time.Second, "a certificate of another CA to be refused", func() bool {
		return (refused(a, c.ID()) || refused(c, a.ID())) &&
			a.Host.Host().Network().Connectedness(c.ID()) != network.Connected
	})
	if _, ok := a.Admitted(c.ID()); ok {
		t.Error("a admitted a till of another CA")
	}
	if _, ok := c.Admitted(a.ID()); ok {
		t.Error("c admitted a till of another CA")
	}
	refusedConnect(t, c.Host.Host(), a.Host)
	refusedConnect(t, a.Host.Host(), c.Host)
	a.noEvent(t, c.ID())
	c.noEvent(t, a.ID())
}

// refusedConnect checks that from cannot stay connected to to: the dial
// fails, or (when to's gater refuses after the handshake, which the
// dialer may already count as done) the connection closes at once; and
// to never admits from.
func refusedConnect(t *testing.T, from host.Host, to *Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := from.Connect(ctx, peer.AddrInfo{ID: to.ID(), Addrs: to.Host().Addrs()}); err == nil {
		waitFor(t, 3*time.Second, "a refused connection to close", func() bool {
			return from.Network().Connectedness(to.ID()) != network.Connected
		})
	}
	if _, ok := to.Admitted(from.ID()); ok {
		t.Errorf("%s admitted %s", to.ID(), from.ID())
	}
}

// bareHost is a libp2p host with the store's PSK that does not speak the
// hello protocol itself: an intruder who knows the PSK.
func bareHost(t *testing.T, psk [32]byte, key ed25519.PrivateKey) host.Host {
	t.Helper()
	priv, err := crypto.UnmarshalEd25519PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(priv), libp2p.PrivateNetwork(psk[:]),
		libp2p.Transport(tcp.NewTCPTransport), libp2p.NoListenAddrs, libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func TestCertificateForAnotherKeyRefused(t *testing.T) {
	s := newTestStore(t)
	a := runNode(t, s.config(t, 1))
	enrolled := newKey(t)
	stolen := s.enroll(t, enrolled, 7) // valid, but for another key
	intruder := bareHost(t, s.psk, newKey(t))

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := intruder.Connect(ctx, a.addrInfo()); err != nil {
		t.Fatalf("intruder with the PSK could not connect: %v", err)
	}
	st, err := intruder.NewStream(ctx, a.ID(), HelloProtocol)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := stolen.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(encodeHello(enc)); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseWrite()
	if b, err := io.ReadAll(st); err == nil && len(b) > 0 {
		t.Fatalf("a acknowledged a stolen certificate: %x", b)
	}
	waitFor(t, 5*time.Second, "a to refuse the intruder and disconnect", func() bool {
		pi, _ := a.peerInfo(intruder.ID())
		return pi.Blocked && strings.Contains(pi.Problem, "presented by") &&
			intruder.Network().Connectedness(a.ID()) != network.Connected
	})
	if _, ok := a.Admitted(intruder.ID()); ok {
		t.Error("a admitted the intruder")
	}
	refusedConnect(t, intruder, a.Host)
	a.noEvent(t, intruder.ID())
}

func TestNoHelloRefused(t *testing.T) {
	s := newTestStore(t)
	cfg := s.config(t, 1)
	cfg.HelloTimeout = time.Second
	a := runNode(t, cfg)
	silent := bareHost(t, s.psk, newKey(t))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := silent.Connect(ctx, a.addrInfo()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a to drop a peer that sends no hello", func() bool {
		pi, _ := a.peerInfo(silent.ID())
		return pi.Blocked && strings.Contains(pi.Problem, "no hello") &&
			silent.Network().Connectedness(a.ID()) != network.Connected
	})
}

// revocations is a revocation list safe for concurrent use.
type revocations struct {
	mu sync.Mutex
	m  map[ledger.TillID]bool
}

func (r *revocations) revoke(t ledger.TillID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[ledger.TillID]bool)
	}
	r.m[t] = true
}

func (r *revocations) revoked(t ledger.TillID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[t]
}

func TestRevokedTillRefused(t *testing.T) {
	s := newTestStore(t)
	var revs revocations
	cfgB, cfgC := s.config(t, 2), s.config(t, 3)
	revs.revoke(cfgB.Cert.Till)
	b := runNode(t, cfgB)
	c := runNode(t, cfgC)
	cfgA := s.config(t, 1)
	cfgA.Revoked = revs.revoked
	cfgA.StaticPeers = []string{b.staticAddr(t), c.staticAddr(t)}
	a := runNode(t, cfgA)

	// c is admitted; b, revoked, never is.
	a.waitEvent(t, PeerAdmitted, c.ID())
	waitFor(t, 5*time.Second, "a to refuse revoked b", func() bool {
		pi, _ := a.peerInfo(b.ID())
		return strings.Contains(pi.Problem, "revoked") && !pi.Connected
	})
	refusedConnect(t, b.Host.Host(), a.Host)
	if _, ok := a.Admitted(b.ID()); ok {
		t.Error("a admitted a revoked till")
	}
	a.noEvent(t, b.ID())

	// Revoking c later disconnects it.
	revs.revoke(cfgC.Cert.Till)
	a.waitEvent(t, PeerLeft, c.ID())
	waitFor(t, 5*time.Second, "c to be disconnected", func() bool {
		return a.Host.Host().Network().Connectedness(c.ID()) != network.Connected
	})
	if _, ok := a.Admitted(c.ID()); ok {
		t.Error("a still admits c after its revocation")
	}
}

func TestBlockUnblock(t *testing.T) {
	s := newTestStore(t)
	b := runNode(t, s.config(t, 2))
	cfgA := s.config(t, 1)
	cfgA.StaticPeers = []string{b.staticAddr(t)}
	a := runNode(t, cfgA)
	a.waitEvent(t, PeerAdmitted, b.ID())
	b.waitEvent(t, PeerAdmitted, a.ID())

	a.Block(b.ID())
	a.waitEvent(t, PeerLeft, b.ID())
	b.waitEvent(t, PeerLeft, a.ID())
	if _, ok := a.Admitted(b.ID()); ok {
		t.Error("a still admits blocked b")
	}
	refusedConnect(t, b.Host.Host(), a.Host)
	if pi, _ := a.peerInfo(b.ID()); !pi.Blocked || pi.Connected {
		t.Errorf("a.Peers() entry for blocked b = %+v", pi)
	}

	start := time.Now()
	a.Unblock(b.ID())
	a.waitEvent(t, PeerAdmitted, b.ID())
	b.waitEvent(t, PeerAdmitted, a.ID())
	t.Logf("healed in %v", time.Since(start).Round(time.Millisecond))
	if pi, _ := a.peerInfo(b.ID()); pi.Blocked || !pi.Connected || !pi.Admitted {
		t.Errorf("a.Peers() entry for unblocked b = %+v", pi)
	}

	// The other way round: b knows a only from a's inbound connections,
	// but kept a's addresses, so either side can redial when the cut heals.
	b.Block(a.ID())
	b.waitEvent(t, PeerLeft, a.ID())
	a.waitEvent(t, PeerLeft, b.ID())
	if pi, _ := b.peerInfo(a.ID()); len(pi.Addrs) == 0 {
		t.Errorf("b kept no address of a: %+v", pi)
	}
	refusedConnect(t, a.Host.Host(), b.Host)
	b.Unblock(a.ID())
	b.waitEvent(t, PeerAdmitted, a.ID())
	a.waitEvent(t, PeerAdmitted, b.ID())
}

func TestPeerCacheFindsPeerAfterRestart(t *testing.T) {
	s := newTestStore(t)
	cache := filepath.Join(t.TempDir(), "peers.json")
	b := runNode(t, s.config(t, 2))
	cfgA := s.config(t, 1)
	cfgA.PeerCache = cache
	cfgA.StaticPeers = []string{b.staticAddr(t)}
	a := runNode(t, cfgA)
	a.waitEvent(t, PeerAdmitted, b.ID())
	a.close(t)
	for range a.events { // Close closes subscriptions
	}

	raw, err := os.ReadFile(cache)
	if err != nil {
		t.Fatalf("peer cache not written: %v", err)
	}
	var f cacheFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("peer cache: %v\n%s", err, raw)
	}
	if len(f.Peers) != 1 || f.Peers[0].ID != b.ID().String() || f.Peers[0].Number != 2 || len(f.Peers[0].Addrs) == 0 {
		t.Fatalf("peer cache = %s, want b with its addresses", raw)
	}
	b.waitEvent(t, PeerLeft, a.ID())

	// The same till restarts with no static peers: only the cache knows b.
	cfgA.StaticPeers = nil
	a2 := runNode(t, cfgA)
	a2.waitEvent(t, PeerAdmitted, b.ID())
	b.waitEvent(t, PeerAdmitted, a2.ID())
}

func TestNothingConnectsBeforeRun(t *testing.T) {
	s := newTestStore(t)
	idle := newNode(t, s.config(t, 2)) // New, but no Run
	a := runNode(t, s.config(t, 1))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	refusedConnect(t, a.Host.Host(), idle.Host)
	if err := idle.Host.Host().Connect(ctx, a.addrInfo()); err == nil {
		t.Error("a host dialed out before Run")
	}
}

func TestCheckMessage(t *testing.T) {
	s := newTestStore(t)
	var revs revocations
	cfg := s.config(t, 1)
	cfg.Revoked = revs.revoked
	h := newNode(t, cfg)
	relay, author, revoked := newKey(t), newKey(t), newKey(t)
	revs.revoke(ledger.TillOf(revoked))
	relayID, _ := PeerOf(ledger.TillOf(relay))
	authorID, _ := PeerOf(ledger.TillOf(author))
	revokedID, _ := PeerOf(ledger.TillOf(revoked))
	msg := func(from peer.ID) *pubsub.Message {
		return &pubsub.Message{Message: &pb.Message{From: []byte(from)}, ReceivedFrom: relayID}
	}

	tests := []struct {
		name  string
		admit bool
		msg   *pubsub.Message
		want  pubsub.ValidationResult
	}{
		{"relay not admitted", false, msg(authorID), pubsub.ValidationIgnore},
		{"admitted relay, other author", true, msg(authorID), pubsub.ValidationAccept},
		{"admitted relay, own message", true, msg(relayID), pubsub.ValidationAccept},
		{"admitted relay, revoked author", true, msg(revokedID), pubsub.ValidationReject},
		{"admitted relay, author not a till", true, msg("not a peer id"), pubsub.ValidationReject},
		{"local publish", false, &pubsub.Message{Message: &pb.Message{}, Local: true}, pubsub.ValidationAccept},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.mu.Lock()
			st := h.peer(relayID)
			st.verified, st.cert = tt.admit, s.enroll(t, relay, 2)
			h.mu.Unlock()
			from := relayID
			if tt.msg.Local {
				from = h.ID()
			}
			if got := h.CheckMessage(t.Context(), from, tt.msg); got != tt.want {
				t.Errorf("CheckMessage = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	s := newTestStore(t)
	good := s.config(t, 1)
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no key", func(c *Config) { c.Key = nil }, "Key"},
		{"no store", func(c *Config) { c.Store = ledger.StoreID{} }, "Store"},
		{"no psk", func(c *Config) { c.PSK = [32]byte{} }, "PSK"},
		{"no ca", func(c *Config) { c.CA = nil }, "CA"},
		{"no cert", func(c *Config) { c.Cert = nil }, "Cert"},
		{"cert of another key", func(c *Config) { c.Cert = s.enroll(t, newKey(t), 1) }, "Cert names till"},
		{"cert of another store", func(c *Config) { c.Store[0] ^= 1 }, "own certificate"},
		{"quic listen", func(c *Config) { c.ListenAddrs = []string{"/ip4/0.0.0.0/udp/0/quic-v1"} }, "PSK rules out QUIC"},
		{"bad listen", func(c *Config) { c.ListenAddrs = []string{"nonsense"} }, "listen address"},
		{"static without id", func(c *Config) { c.StaticPeers = []string{"/ip4/10.0.0.2/tcp/4001"} }, "static peer"},
		{"zero hello timeout", func(c *Config) { c.HelloTimeout = 0 }, "must be positive"},
		{"backoff below interval", func(c *Config) { c.MaxBackoff = c.DialInterval / 2 }, "MaxBackoff"},
		{"water marks", func(c *Config) { c.ConnHigh = c.ConnLow }, "water marks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestTillPeerRoundTrip(t *testing.T) {
	till := ledger.TillOf(newKey(t))
	p, err := PeerOf(till)
	if err != nil {
		t.Fatal(err)
	}
	got, err := TillOf(p)
	if err != nil || got != till {
		t.Errorf("TillOf(PeerOf(%s)) = %s, %v", till.Short(), got.Short(), err)
	}
	if _, err := TillOf(peer.ID("garbage")); err == nil {
		t.Error("TillOf accepted a garbage peer ID")
	}
}

func TestBackoff(t *testing.T) {
	h := &Host{cfg: DefaultConfig()}
	tests := []struct {
		fails int
		want  time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second}, {6, 30 * time.Second}, {40, 30 * time.Second},
	}
	for _, tt := range tests {
		for range 20 {
			got := h.backoff(tt.fails)
			if lo, hi := tt.want*8/10, tt.want*12/10; got < lo || got > hi {
				t.Errorf("backoff(%d) = %v, want %v ±20%%", tt.fails, got, tt.want)
			}
		}
	}
}

func TestDroppedConnectionRedialed(t *testing.T) {
	s := newTestStore(t)
	b := runNode(t, s.config(t, 2))
	cfgA := s.config(t, 1)
	cfgA.StaticPeers = []string{b.staticAddr(t)}
	a := runNode(t, cfgA)
	a.waitEvent(t, PeerAdmitted, b.ID())
	b.waitEvent(t, PeerAdmitted, a.ID())

	// b drops the connection (as a restart or a flaky switch would); a,
	// which knows b as a static peer, dials again.
	_ = b.Host.Host().Network().ClosePeer(a.ID())
	b.waitEvent(t, PeerLeft, a.ID())
	b.waitEvent(t, PeerAdmitted, a.ID())
	if pi, _ := b.peerInfo(a.ID()); !pi.Connected || !pi.Admitted || pi.Blocked {
		t.Errorf("b.Peers() entry for a after the redial = %+v", pi)
	}
}
