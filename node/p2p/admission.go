package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/tillmesh/tillmesh/ledger"
)

// protectTag protects admitted tills from the connection manager.
const protectTag = "tillmesh-till"

// Admitted returns the certificate of p and true if this host verified
// p's certificate on p's current connection. Protocol handlers serve only
// such peers. (PeerAdmitted is sent later, once p has accepted ours too.)
func (h *Host) Admitted(p peer.ID) (ledger.Certificate, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.peers[p]
	if st == nil || !st.verified || st.cert == nil {
		return ledger.Certificate{}, false
	}
	return *st.cert, true
}

// Certificates returns the certificates of the admitted peers, ordered by
// till number.
func (h *Host) Certificates() []ledger.Certificate {
	var out []ledger.Certificate
	for _, p := range h.Peers() {
		if c, ok := h.Admitted(p.ID); ok {
			out = append(out, c)
		}
	}
	return out
}

// CheckMessage is the gossipsub validator the host installs as the default
// for every topic: it ignores messages relayed by a peer that is not
// admitted and rejects messages whose author is not a till or is revoked.
// Topic validators may call it first and stop unless it accepts.
func (h *Host) CheckMessage(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	if msg.Local || from == h.self {
		return pubsub.ValidationAccept
	}
	if _, ok := h.Admitted(from); !ok {
		return pubsub.ValidationIgnore
	}
	if author := msg.GetFrom(); author != h.self {
		till, err := TillOf(author)
		if err != nil || h.revoked(till) {
			return pubsub.ValidationReject
		}
	}
	return pubsub.ValidationAccept
}

// Block closes every connection to p and refuses p (both ways) until
// Unblock. The testnet harness cuts links with it; it stays in the
// release binary because the process-mode testnet runs that binary
// (--testnet-control), and it only sets the refusal the gater keeps
// for failed admissions anyway.
func (h *Host) Block(p peer.ID) {
	h.mu.Lock()
	h.peer(p).blocked = true
	h.mu.Unlock()
	h.log.Info("peer blocked", "peer", p)
	_ = h.h.Network().ClosePeer(p)
}

// Unblock lifts Block, and any refusal after a failed admission, and
// redials p at once if its address is known.
func (h *Host) Unblock(p peer.ID) {
	h.mu.Lock()
	if st := h.peers[p]; st != nil {
		st.blocked = false
		st.refusedUntil = time.Time{}
		st.fails = 0
		st.nextDial = time.Time{}
	}
	h.mu.Unlock()
	h.log.Info("peer unblocked", "peer", p)
	h.notify()
}

// revoked calls Config.Revoked.
func (h *Host) revoked(t ledger.TillID) bool {
	return h.cfg.Revoked != nil && h.cfg.Revoked(t)
}

// allowed reports whether the gater lets p connect, and records why not.
func (h *Host) allowed(p peer.ID) bool {
	if h.ctx.Err() != nil {
		return false
	}
	till, err := TillOf(p)
	if err != nil {
		return false
	}
	revoked := h.revoked(till)
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.peers[p]
	if revoked {
		st = h.peer(p)
		st.problem = "till is revoked"
		return false
	}
	return st == nil || !(st.blocked || now.Before(st.refusedUntil))
}

// refuse closes p's connections and refuses p for RefuseFor.
func (h *Host) refuse(p peer.ID, why error) {
	h.mu.Lock()
	st := h.peer(p)
	st.refusedUntil = time.Now().Add(h.cfg.RefuseFor)
	st.problem = why.Error()
	st.fails++
	h.mu.Unlock()
	h.log.Warn("peer refused", "peer", p, "err", why, "for", h.cfg.RefuseFor)
	_ = h.h.Network().ClosePeer(p)
}

// onConnected starts the hello exchange with a newly connected peer.
func (h *Host) onConnected(p peer.ID) {
	if h.h.Network().Connectedness(p) != network.Connected {
		return // already gone; its NotConnected event follows
	}
	now := time.Now()
	h.mu.Lock()
	st := h.peer(p)
	if st.connected || h.closed {
		h.mu.Unlock()
		return
	}
	st.connected = true
	st.session++
	st.lastSeen = now
	sess := st.session
	kick := st.blocked || now.Before(st.refusedUntil)
	h.mu.Unlock()
	if kick { // Block raced with the connection
		_ = h.h.Network().ClosePeer(p)
		return
	}
	h.spawn(func() { h.sendHello(p, sess) })
	time.AfterFunc(h.cfg.HelloTimeout, func() { h.helloDeadline(p, sess) })
}

// onDisconnected forgets the admission of a peer whose last connection
// closed.
func (h *Host) onDisconnected(p peer.ID) {
	if h.h.Network().Connectedness(p) == network.Connected {
		return // reconnected before we saw the event
	}
	known := h.h.Peerstore().Addrs(p)
	h.mu.Lock()
	st := h.peers[p]
	if st == nil || !(st.connected || st.verified || st.acked) {
		h.mu.Unlock()
		return
	}
	was := st.admitted
	st.connected, st.verified, st.acked, st.admitted = false, false, false, false
	st.session++
	st.lastSeen = time.Now()
	if st.cert != nil {
		st.addrs = mergeAddrs(st.addrs, known)
		h.dirty = true
	}
	if was {
		h.emit(Event{Kind: PeerLeft, Peer: p, Till: st.till, Cert: *st.cert})
	}
	h.mu.Unlock()
	if was {
		h.h.ConnManager().Unprotect(p, protectTag)
		h.log.Info("till left", "peer", p, "till", st.till.Short())
	}
}

// maybeAdmit marks st admitted once both sides accepted each other, and
// reports whether it did. Call with mu held; call afterAdmit after
// unlocking when it returns true.
func (h *Host) maybeAdmit(st *peerState) bool {
	if st.admitted || !st.connected || !st.verified || !st.acked || st.cert == nil {
		return false
	}
	st.admitted = true
	st.fails = 0
	st.problem = ""
	st.lastSeen = time.Now()
	h.dirty = true
	h.emit(Event{Kind: PeerAdmitted, Peer: st.id, Till: st.till, Cert: *st.cert})
	return true
}

// afterAdmit protects an admitted peer's connections and measures its RTT.
func (h *Host) afterAdmit(p peer.ID) {
	h.h.ConnManager().Protect(p, protectTag)
	if c, ok := h.Admitted(p); ok {
		h.log.Info("till admitted", "peer", p, "till", c.Till.Short(), "number", c.Number, "name", c.Name)
	}
	h.notify() // the dial loop records addresses and pings
}

// handleHello receives a peer's hello: verify, admit, acknowledge.
func (h *Host) handleHello(s network.Stream) {
	p := s.Conn().RemotePeer()
	_ = s.SetDeadline(time.Now().Add(h.cfg.HelloTimeout))
	cert, release, err := decodeHelloOf(s.Protocol(), s)
	if err == nil {
		err = h.checkCert(p, cert)
	}
	if err != nil {
		_ = s.Reset()
		if !cutShort(s, err) {
			h.refuse(p, err)
		}
		return
	}
	h.mu.Lock()
	if s.Conn().IsClosed() || h.closed {
		h.mu.Unlock()
		_ = s.Reset()
		return
	}
	st := h.peer(p)
	st.cert = cert
	st.number, st.name = cert.Number, cert.Name
	st.release = release
	st.verified = true
	admitted := h.maybeAdmit(st)
	h.mu.Unlock()
	if admitted {
		h.afterAdmit(p)
	}
	// Acknowledge only now: once the peer reads the ack, we accept its
	// messages and requests.
	if _, err := s.Write([]byte{helloAck}); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// cutShort reports whether a hello failed because the stream or the
// connection ended (a partition, a Block on the other side, a restart)
// rather than because the peer sent something wrong. Only the latter is
// refused at once; a peer that stalls is refused by helloDeadline.
func cutShort(s network.Stream, err error) bool {
	return s.Conn().IsClosed() || errors.Is(err, network.ErrReset) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded)
}

// checkCert decides whether cert admits peer p.
func (h *Host) checkCert(p peer.ID, cert *ledger.Certificate) error {
	till, err := TillOf(p)
	if err != nil {
		return err
	}
	if err := cert.Verify(h.cfg.CA, h.cfg.Store); err != nil {
		return fmt.Errorf("%w: %w", ErrBadHello, err)
	}
	if cert.Till != till {
		return fmt.Errorf("%w: certificate of till %s presented by till %s", ErrBadHello, cert.Till.Short(), till.Short())
	}
	if h.revoked(till) {
		return fmt.Errorf("%w: till %s (number %d) is revoked", ErrBadHello, till.Short(), cert.Number)
	}
	return nil
}

// helloProtocols are the hello versions this host speaks, newest first.
func (h *Host) helloProtocols() []protocol.ID {
	if len(h.cfg.HelloProtocols) > 0 {
		return h.cfg.HelloProtocols
	}
	return HelloProtocols()
}

// sendHello sends our hello to p and waits for its acknowledgement.
func (h *Host) sendHello(p peer.ID, sess uint64) {
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.HelloTimeout)
	defer cancel()
	ctx = network.WithNoDial(ctx, "hello")
	var s network.Stream
	for {
		var err error
		s, err = h.h.NewStream(ctx, p, h.helloProtocols()...)
		if err == nil {
			break
		}
		if h.session(p) != sess {
			return
		}
		h.log.Debug("open hello stream", "peer", p, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	deadline, _ := ctx.Deadline()
	_ = s.SetDeadline(deadline)
	var ack [1]byte
	msg := h.hello
	if s.Protocol() == HelloProtocolV2 {
		msg = h.helloV2
	}
	_, err := s.Write(msg)
	if err == nil {
		err = s.CloseWrite()
	}
	if err == nil {
		_, err = io.ReadFull(s, ack[:])
	}
	if err != nil || ack[0] != helloAck {
		_ = s.Reset()
		h.log.Debug("peer did not acknowledge our hello", "peer", p, "err", err)
		return
	}
	_ = s.Close()
	h.mu.Lock()
	st := h.peers[p]
	admitted := false
	if st != nil && st.session == sess {
		st.acked = true
		admitted = h.maybeAdmit(st)
	}
	h.mu.Unlock()
	if admitted {
		h.afterAdmit(p)
	}
}

// session returns p's session counter.
func (h *Host) session(p peer.ID) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := h.peers[p]; st != nil {
		return st.session
	}
	return 0
}

// helloDeadline refuses a peer that is still not admitted HelloTimeout
// after it connected.
func (h *Host) helloDeadline(p peer.ID, sess uint64) {
	if h.ctx.Err() != nil {
		return
	}
	h.mu.Lock()
	st := h.peers[p]
	late := st != nil && st.session == sess && st.connected && !st.admitted
	h.mu.Unlock()
	if late {
		h.refuse(p, fmt.Errorf("%w: no hello exchange within %v", ErrBadHello, h.cfg.HelloTimeout))
	}
}

// gater is the host's connection gater: before Run nothing connects;
// after it, every till that is not blocked, refused or revoked may try,
// and the hello protocol decides.
type gater struct{ h *Host }

func (g *gater) InterceptPeerDial(p peer.ID) bool { return g.h.started.Load() && g.h.allowed(p) }

func (g *gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool {
	return g.h.started.Load() && g.h.ctx.Err() == nil
}

func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.h.allowed(p)
}

func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
