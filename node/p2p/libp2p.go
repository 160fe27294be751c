package p2p

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/sec"
	basichost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// hostParts is what newLibp2pHost needs besides the Config.
type hostParts struct {
	priv   crypto.PrivKey
	self   peer.ID
	gater  connmgr.ConnectionGater
	connMg connmgr.ConnManager
}

// newLibp2pHost assembles the libp2p host from the parts the store mesh
// uses: a swarm with the TCP transport only, the private network's PSK,
// TLS and Noise (in libp2p's default order, so older tills negotiate as
// before) over yamux, the resource manager with libp2p's default limits,
// and a basic host with identify and ping. It does not go through
// libp2p.New: that package links every default transport (QUIC,
// WebTransport, WebRTC, WebSocket) and the fx dependency injector, about
// half of the tillmesh binary, whether or not they are enabled. Relay,
// hole punching, AutoNAT and NAT port mapping are never built.
//
// The returned host owns everything it was given; closing it closes the
// swarm, the connection manager, the peerstore and the resource manager.
func newLibp2pHost(cfg Config, p hostParts) (_ host.Host, err error) {
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()
	closers = append(closers, p.connMg.Close)

	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		return nil, fmt.Errorf("peerstore: %w", err)
	}
	closers = append(closers, ps.Close)
	if err := ps.AddPrivKey(p.self, p.priv); err != nil {
		return nil, fmt.Errorf("peerstore: add own key: %w", err)
	}
	if err := ps.AddPubKey(p.self, p.priv.GetPublic()); err != nil {
		return nil, fmt.Errorf("peerstore: add own public key: %w", err)
	}

	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.DefaultLimits.AutoScale()))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	closers = append(closers, rm.Close)

	bus := eventbus.NewBus()
	sw, err := swarm.NewSwarm(p.self, ps, bus,
		swarm.WithConnectionGater(p.gater),
		swarm.WithDialTimeout(cfg.DialTimeout),
		swarm.WithResourceManager(rm),
		// TCP only: nothing of ours dials UDP, so no black hole detection.
		swarm.WithUDPBlackHoleSuccessCounter(nil),
	)
	if err != nil {
		return nil, fmt.Errorf("swarm: %w", err)
	}
	closers = append(closers, sw.Close)

	muxers := []upgrader.StreamMuxer{{ID: yamux.ID, Muxer: yamux.DefaultTransport}}
	tlsT, err := tls.New(tls.ID, p.priv, muxers)
	if err != nil {
		return nil, fmt.Errorf("tls security: %w", err)
	}
	noiseT, err := noise.New(noise.ID, p.priv, muxers)
	if err != nil {
		return nil, fmt.Errorf("noise security: %w", err)
	}
	psk := cfg.PSK
	up, err := upgrader.New([]sec.SecureTransport{tlsT, noiseT}, muxers, pnet.PSK(psk[:]), rm, p.gater)
	if err != nil {
		return nil, fmt.Errorf("upgrader: %w", err)
	}
	var topts []tcp.Option
	if cfg.Shaper != nil {
		topts = append(topts, cfg.Shaper.transportOption())
	}
	tpt, err := tcp.NewTCPTransport(up, rm, nil, topts...)
	if err != nil {
		return nil, fmt.Errorf("tcp transport: %w", err)
	}
	if err := sw.AddTransport(tpt); err != nil {
		return nil, fmt.Errorf("add tcp transport: %w", err)
	}

	listen := make([]ma.Multiaddr, 0, len(cfg.ListenAddrs))
	for _, s := range cfg.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", s, err)
		}
		listen = append(listen, a)
	}
	if err := sw.Listen(listen...); err != nil {
		return nil, fmt.Errorf("listen on %v: %w", cfg.ListenAddrs, err)
	}

	bh, err := basichost.NewHost(sw, &basichost.HostOpts{
		EventBus:    bus,
		ConnManager: p.connMg,
		EnablePing:  true,
		UserAgent:   "tillmesh",
	})
	if err != nil {
		return nil, fmt.Errorf("basic host: %w", err)
	}
	bh.Start()
	return bh, nil
}
