package p2p

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	blankhost "github.com/libp2p/go-libp2p/p2p/host/blank"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
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
// Noise over yamux (releases before 2026-12 offered TLS first, then
// Noise: they settle on Noise with this one, one round trip later;
// libp2p's TLS transport was 0.28 MB of binary), the resource manager
// with libp2p's default limits, and a blank host with identify and ping.
// It does not go through libp2p.New: that package links every default
// transport (QUIC, WebTransport, WebRTC, WebSocket) and the fx dependency
// injector, about half of the tillmesh binary, whether or not they are
// enabled; nor through basichost, which links relay, hole punching and
// AutoNAT (2.2 MB of binary) that it then leaves off. The host listens
// once start runs.
//
// The returned host owns everything it was given; closing it closes the
// swarm, the connection manager, the peerstore and the resource manager.
func newLibp2pHost(cfg Config, p hostParts) (_ *meshHost, err error) {
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

	tpt, err := newTCPTransport(cfg, p, rm)
	if err != nil {
		return nil, err
	}
	if err := sw.AddTransport(tpt); err != nil {
		return nil, fmt.Errorf("add tcp transport: %w", err)
	}
	listen, err := listenAddrs(cfg)
	if err != nil {
		return nil, err
	}

	// A blank host with identify and ping: basichost would also link
	// AutoNAT (v1 and v2), hole punching and the circuit relay, which a
	// store LAN behind a private-network key never uses.
	bh := blankhost.NewBlankHost(sw, blankhost.WithConnectionManager(p.connMg), blankhost.WithEventBus(bus))
	if bh == nil {
		return nil, fmt.Errorf("blank host: could not start")
	}
	// No signed peer record: the blank host signs one once, when it is
	// made (before it listens), and never again, so after an address
	// change identify would keep sending that one instead of the listen
	// addresses. Peers are admitted by certificate anyway.
	ids, err := identify.NewIDService(bh, identify.UserAgent("tillmesh"), identify.DisableSignedPeerRecord())
	if err != nil {
		return nil, fmt.Errorf("identify: %w", err)
	}
	closers = append(closers, ids.Close)
	ping.NewPingService(bh)
	addrsEm, err := bus.Emitter(new(event.EvtLocalAddressesUpdated))
	if err != nil {
		return nil, fmt.Errorf("address events: %w", err)
	}
	closers = append(closers, addrsEm.Close)
	return &meshHost{BlankHost: bh, ids: ids, sw: sw, listen: listen, addrsEm: addrsEm, stop: make(chan struct{}), closers: closers}, nil
}

// newTCPTransport is the host's only transport: TCP behind the store's
// private-network key, Noise, yamux (through cfg.Shaper if set).
func newTCPTransport(cfg Config, p hostParts, rm network.ResourceManager) (*tcp.TcpTransport, error) {
	muxers := []upgrader.StreamMuxer{{ID: yamux.ID, Muxer: yamux.DefaultTransport}}
	security := noiseOnly
	if cfg.security != nil {
		security = cfg.security
	}
	secs, err := security(p.priv, muxers)
	if err != nil {
		return nil, err
	}
	psk := cfg.PSK
	up, err := upgrader.New(secs, muxers, pnet.PSK(psk[:]), rm, p.gater)
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
	return tpt, nil
}

// noiseOnly is the mesh's security transport.
func noiseOnly(priv crypto.PrivKey, muxers []upgrader.StreamMuxer) ([]sec.SecureTransport, error) {
	n, err := noise.New(noise.ID, priv, muxers)
	if err != nil {
		return nil, fmt.Errorf("noise security: %w", err)
	}
	return []sec.SecureTransport{n}, nil
}

// listenAddrs parses cfg.ListenAddrs.
func listenAddrs(cfg Config) ([]ma.Multiaddr, error) {
	listen := make([]ma.Multiaddr, 0, len(cfg.ListenAddrs))
	for _, s := range cfg.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", s, err)
		}
		listen = append(listen, a)
	}
	return listen, nil
}

// meshHost is the blank host with identify and ping, closing what it was
// given the way basichost does.
type meshHost struct {
	*blankhost.BlankHost
	ids     identify.IDService
	sw      *swarm.Swarm
	listen  []ma.Multiaddr
	addrsEm event.Emitter
	stop    chan struct{}  // ends watchAddrs
	closers []func() error // connection manager, peerstore, resource manager, swarm, identify, emitter
	once    sync.Once
	err     error
}

// start listens and starts identify. Call it once the protocols a peer
// must learn at its first identify (hello, gossipsub) have their
// handlers: identify takes its snapshot of our protocols and listen
// addresses when it starts, and learns of later protocols from events its
// own goroutine subscribes to, so a handler set just before could be
// missing from what peers learn (gossipsub then never talks to us); a
// blank host announces no address change, so it must listen first. A
// connection that arrives in between is identified on its first stream
// (NewStream).
func (h *meshHost) start() error {
	if err := h.sw.Listen(h.listen...); err != nil {
		return fmt.Errorf("listen on %v: %w", h.listen, err)
	}
	h.ids.Start()
	go h.watchAddrs(h.Addrs())
	return nil
}

// addrCheckEvery is how often the host looks for a changed interface
// address (a new DHCP lease): basichost's address manager did this.
const addrCheckEvery = 30 * time.Second

// watchAddrs tells identify when the host's addresses change, so it
// pushes them to connected peers and gives them to new ones.
func (h *meshHost) watchAddrs(last []ma.Multiaddr) {
	t := time.NewTicker(addrCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		now := h.Addrs()
		if slices.EqualFunc(now, last, func(a, b ma.Multiaddr) bool { return a.Equal(b) }) {
			continue
		}
		ev := event.EvtLocalAddressesUpdated{}
		for _, a := range now {
			ev.Current = append(ev.Current, event.UpdatedAddress{Address: a})
		}
		_ = h.addrsEm.Emit(ev)
		last = now
	}
}

// NewStream waits for identify on the connection first, as basichost
// does, and bounds the protocol negotiation.
func (h *meshHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if err := h.Connect(ctx, peer.AddrInfo{ID: p}); err != nil {
		return nil, err
	}
	for _, c := range h.Network().ConnsToPeer(p) {
		select {
		case <-h.ids.IdentifyWait(c):
		case <-ctx.Done():
			return nil, fmt.Errorf("identify: %w", ctx.Err())
		}
	}
	return h.BlankHost.NewStream(ctx, p, pids...)
}

func (h *meshHost) Close() error {
	h.once.Do(func() {
		close(h.stop)
		var errs []error
		for i := len(h.closers) - 1; i >= 0; i-- {
			errs = append(errs, h.closers[i]())
		}
		h.err = errors.Join(errs...)
	})
	return h.err
}
