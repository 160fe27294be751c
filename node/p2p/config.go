package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/tillmesh/tillmesh/ledger"
)

// Config configures a Host. Start from DefaultConfig and fill in the
// fields marked required.
type Config struct {
	// Key is the till's ed25519 key: it signs the till's ledger and is
	// its libp2p identity. Required.
	Key ed25519.PrivateKey
	// Store is the store this till is enrolled in. Required.
	Store ledger.StoreID
	// PSK is the store's private-network key: only hosts holding it can
	// even complete a connection. It is not an identity (every till of
	// the store holds it); certificates decide who is admitted. Required.
	// A PSK rules out QUIC, so the host speaks TCP only.
	PSK [32]byte
	// CA is the store CA's public key, against which every peer's
	// certificate is verified. Required.
	CA ed25519.PublicKey
	// Cert is this till's certificate, sent to every peer in the hello.
	// It must verify under CA and Store and name Key. Required.
	Cert *ledger.Certificate

	// ListenAddrs are TCP multiaddrs to listen on. Default
	// /ip4/0.0.0.0/tcp/0 (every interface, a port chosen by the kernel).
	ListenAddrs []string
	// StaticPeers are multiaddrs ending in /p2p/<peer ID> that are dialed
	// and redialed for as long as the host runs (the --peer flag).
	StaticPeers []string
	// PeerCache is a JSON file of last-known peers, read at New and
	// rewritten atomically as peers are admitted, so that a LAN that
	// blocks multicast still finds its tills after a restart. Empty means
	// no cache.
	PeerCache string
	// MDNS turns on mDNS discovery (service _tillmesh._tcp).
	MDNS bool
	// MDNSInterface names the network interface mDNS uses (e.g. "eth0"
	// on a till with two NICs). Empty means the system's default
	// multicast interface.
	MDNSInterface string
	// Revoked reports whether a till's certificate has been revoked (the
	// revocation list travels in the CRDT). It is called from libp2p's
	// connection path and from the dial loop, so it must be cheap, safe
	// for concurrent use and must not block. nil means nothing is revoked.
	Revoked func(ledger.TillID) bool
	// Logger receives the host's logs. nil means slog.Default().
	Logger *slog.Logger
	// Release is this till's tillmesh version, announced to peers in
	// hello 2 (PeerInfo.Release on their side).
	Release string
	// HelloProtocols are the hello versions the host speaks, newest
	// first. Empty means all (HelloProtocols()); tests set an older list
	// to act as a till of an older release.
	HelloProtocols []protocol.ID

	// HelloTimeout is how long a new connection has to complete the
	// hello exchange before it is closed and the peer refused.
	HelloTimeout time.Duration
	// RefuseFor is how long a peer that failed admission (bad
	// certificate, revoked, no hello) is refused by the connection gater.
	RefuseFor time.Duration
	// DialInterval is the dial loop's tick and the first retry delay: a
	// lost peer is redialed within about this long.
	DialInterval time.Duration
	// MaxBackoff caps the delay between dials of a peer that keeps
	// failing (the delay doubles from DialInterval).
	MaxBackoff time.Duration
	// DialTimeout bounds one dial of one peer.
	DialTimeout time.Duration
	// MDNSInterval is how often the mDNS query loop asks the LAN for
	// tills; each query listens for answers for up to a second.
	MDNSInterval time.Duration
	// ConnLow and ConnHigh are the connection manager's water marks.
	// Admitted tills are protected and never trimmed; the marks only
	// bound connections from peers that are not (yet) admitted.
	ConnLow, ConnHigh int

	// Shaper, for the testnet only, injects latency and loss into the
	// connections this host dials. nil (production) dials plain TCP.
	// It is in every build because the process-mode testnet runs the
	// release binary (docs/ARCHITECTURE.md, "Testnet hooks").
	Shaper *Shaper

	// security, for tests only, replaces the security transports the
	// host offers (nil: Noise): a test plays a till of an earlier
	// release, which offered TLS first.
	security func(crypto.PrivKey, []upgrader.StreamMuxer) ([]sec.SecureTransport, error)
}

// DefaultConfig returns a Config for a till on a store LAN of 2-30 tills.
// The required fields are left empty.
func DefaultConfig() Config {
	return Config{
		ListenAddrs:  []string{"/ip4/0.0.0.0/tcp/0"},
		HelloTimeout: 5 * time.Second,
		RefuseFor:    time.Minute,
		DialInterval: time.Second,
		MaxBackoff:   30 * time.Second,
		DialTimeout:  5 * time.Second,
		MDNSInterval: 5 * time.Second,
		ConnLow:      64,
		ConnHigh:     128,
	}
}

// Validate reports the first problem with c, or nil.
func (c Config) Validate() error {
	switch {
	case len(c.Key) != ed25519.PrivateKeySize:
		return fmt.Errorf("p2p config: Key is %d bytes, want an ed25519 private key of %d", len(c.Key), ed25519.PrivateKeySize)
	case c.Store == ledger.StoreID{}:
		return errors.New("p2p config: Store is required")
	case c.PSK == [32]byte{}:
		return errors.New("p2p config: PSK is required")
	case len(c.CA) != ed25519.PublicKeySize:
		return fmt.Errorf("p2p config: CA is %d bytes, want an ed25519 public key of %d", len(c.CA), ed25519.PublicKeySize)
	case c.Cert == nil:
		return errors.New("p2p config: Cert is required")
	case c.Cert.Till != ledger.TillOf(c.Key):
		return fmt.Errorf("p2p config: Cert names till %s, but Key is till %s", c.Cert.Till.Short(), ledger.TillOf(c.Key).Short())
	case len(c.ListenAddrs) == 0:
		return errors.New("p2p config: ListenAddrs is empty")
	case c.HelloTimeout <= 0 || c.RefuseFor <= 0 || c.DialInterval <= 0 || c.DialTimeout <= 0 || c.MDNSInterval <= 0:
		return fmt.Errorf("p2p config: HelloTimeout %v, RefuseFor %v, DialInterval %v, DialTimeout %v and MDNSInterval %v must be positive",
			c.HelloTimeout, c.RefuseFor, c.DialInterval, c.DialTimeout, c.MDNSInterval)
	case c.MaxBackoff < c.DialInterval:
		return fmt.Errorf("p2p config: MaxBackoff %v is below DialInterval %v", c.MaxBackoff, c.DialInterval)
	case c.ConnLow <= 0 || c.ConnHigh <= c.ConnLow:
		return fmt.Errorf("p2p config: connection water marks low %d, high %d: want 0 < low < high", c.ConnLow, c.ConnHigh)
	}
	if err := c.Cert.Verify(c.CA, c.Store); err != nil {
		return fmt.Errorf("p2p config: own certificate: %w", err)
	}
	for _, s := range c.ListenAddrs {
		if _, err := parseListenAddr(s); err != nil {
			return fmt.Errorf("p2p config: listen address: %w", err)
		}
	}
	for _, s := range c.StaticPeers {
		if _, err := parsePeerAddr(s); err != nil {
			return fmt.Errorf("p2p config: static peer: %w", err)
		}
	}
	return nil
}

// parseListenAddr accepts an IP TCP multiaddr such as /ip4/0.0.0.0/tcp/0.
func parseListenAddr(s string) (ma.Multiaddr, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	if !isTCP(a) {
		return nil, fmt.Errorf("%q: want /ip4/<ip>/tcp/<port> or /ip6/<ip>/tcp/<port> (a PSK rules out QUIC)", s)
	}
	return a, nil
}

// parsePeerAddr accepts a TCP multiaddr ending in /p2p/<peer ID>.
func parsePeerAddr(s string) (peer.AddrInfo, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("%q: %w", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("%q: want a TCP address ending in /p2p/<peer ID>: %w", s, err)
	}
	if len(ai.Addrs) != 1 || !isTCP(ai.Addrs[0]) {
		return peer.AddrInfo{}, fmt.Errorf("%q: want a TCP address ending in /p2p/<peer ID>", s)
	}
	if _, err := TillOf(ai.ID); err != nil {
		return peer.AddrInfo{}, fmt.Errorf("%q: %w", s, err)
	}
	return *ai, nil
}

// isTCP reports whether a is exactly /ip4|ip6/<ip>/tcp/<port>.
func isTCP(a ma.Multiaddr) bool {
	if len(a) != 2 {
		return false
	}
	c0, c1 := a[0].Protocol().Code, a[1].Protocol().Code
	return (c0 == ma.P_IP4 || c0 == ma.P_IP6) && c1 == ma.P_TCP
}
