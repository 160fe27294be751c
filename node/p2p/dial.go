package p2p

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/tillmesh/tillmesh/ledger"
)

const (
	// pingEvery is how often an admitted peer's round trip is measured.
	pingEvery = 30 * time.Second
	// cacheEvery bounds how often the peer cache is rewritten.
	cacheEvery = 5 * time.Second
)

// dialLoop keeps the mesh connected: every DialInterval, or at once when
// woken, it dials known peers that are due, checks admitted peers for
// revocation, measures round trips and writes the peer cache.
func (h *Host) dialLoop(ctx context.Context) {
	t := time.NewTicker(h.cfg.DialInterval)
	defer t.Stop()
	for {
		h.dialDue(ctx)
		h.maintain()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.wake:
		}
	}
}

// dialDue starts a dial of every peer that is not connected, not blocked
// or revoked, and whose backoff has passed.
func (h *Host) dialDue(ctx context.Context) {
	type job struct {
		id    peer.ID
		till  ledger.TillID
		addrs []ma.Multiaddr
	}
	var jobs []job
	now := time.Now()
	h.mu.Lock()
	for id, st := range h.peers {
		if id == h.self || st.connected || st.dialing || st.blocked ||
			now.Before(st.refusedUntil) || now.Before(st.nextDial) || st.till == (ledger.TillID{}) {
			continue
		}
		if len(st.addrs) == 0 { // only static, cached, discovered or once-admitted peers
			continue
		}
		st.dialing = true
		jobs = append(jobs, job{id, st.till, slices.Clone(st.addrs)})
	}
	h.mu.Unlock()
	for _, j := range jobs {
		if h.revoked(j.till) {
			h.mu.Lock()
			st := h.peer(j.id)
			st.dialing = false
			st.problem = "till is revoked"
			st.nextDial = now.Add(h.cfg.MaxBackoff)
			h.mu.Unlock()
			continue
		}
		if !h.spawn(func() { h.dial(ctx, j.id, j.addrs) }) {
			return
		}
	}
}

// dial connects to one peer and schedules its next attempt.
func (h *Host) dial(ctx context.Context, p peer.ID, addrs []ma.Multiaddr) {
	var err error
	if h.h.Network().Connectedness(p) != network.Connected {
		dctx, cancel := context.WithTimeout(ctx, h.cfg.DialTimeout)
		// Our own backoff replaces the swarm's, which would hold a peer
		// off for seconds after a partition heals.
		dctx = network.WithForceDirectDial(dctx, "tillmesh dial loop")
		err = h.h.Connect(dctx, peer.AddrInfo{ID: p, Addrs: addrs})
		cancel()
	}
	now := time.Now()
	h.mu.Lock()
	st := h.peer(p)
	st.dialing = false
	// Every attempt counts until the peer is admitted (which resets
	// fails): a peer that accepts the connection and then drops us, as a
	// gater refusing us after the handshake does, is backed off too.
	if ctx.Err() == nil {
		st.fails++
	}
	st.nextDial = now.Add(h.backoff(st.fails))
	if err != nil && ctx.Err() == nil {
		st.problem = fmt.Sprintf("dial: %v", err)
	}
	fails := st.fails
	h.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		h.log.Debug("dial failed", "peer", p, "fails", fails, "err", err)
	}
}

// backoff is the delay before the next dial of a peer that failed fails
// times in a row: DialInterval doubling up to MaxBackoff, with ±20%
// jitter so that tills do not dial each other in lockstep.
func (h *Host) backoff(fails int) time.Duration {
	d := h.cfg.DialInterval
	for i := 1; i < fails && d < h.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, h.cfg.MaxBackoff)
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// maintain refuses admitted peers that were revoked, pings admitted peers
// now and then, records their addresses, and writes the peer cache.
func (h *Host) maintain() {
	type admitted struct {
		id   peer.ID
		till ledger.TillID
		ping bool
	}
	var peers []admitted
	now := time.Now()
	h.mu.Lock()
	for id, st := range h.peers {
		if !st.verified {
			continue
		}
		a := admitted{id: id, till: st.till}
		if st.admitted && now.Sub(st.pingAt) >= pingEvery {
			st.pingAt = now
			a.ping = true
		}
		peers = append(peers, a)
	}
	write := h.dirty && h.cfg.PeerCache != "" && now.Sub(h.cacheWrite) >= cacheEvery
	h.mu.Unlock()

	for _, a := range peers {
		switch {
		case h.revoked(a.till): // outside mu: Revoked is the caller's code
			h.refuse(a.id, fmt.Errorf("%w: till revoked", ErrBadHello))
		case a.ping:
			h.spawn(func() { h.ping(a.id) })
		}
	}
	if write {
		if err := h.writeCache(); err != nil {
			h.log.Warn("write peer cache", "path", h.cfg.PeerCache, "err", err)
		}
	}
}

// ping measures one round trip to p; the peerstore keeps the average.
func (h *Host) ping(p peer.ID) {
	h.mu.Lock()
	if st := h.peers[p]; st != nil {
		st.addrs = mergeAddrs(st.addrs, h.h.Peerstore().Addrs(p))
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(network.WithNoDial(h.ctx, "ping"), h.cfg.DialTimeout)
	defer cancel()
	if r := <-ping.Ping(ctx, h.h, p); r.Error != nil {
		h.log.Debug("ping", "peer", p, "err", r.Error)
	}
}
