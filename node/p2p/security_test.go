package p2p

import (
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// tlsThenNoise is what releases before 2026-12 offered: TLS, then Noise.
func tlsThenNoise(priv crypto.PrivKey, muxers []upgrader.StreamMuxer) ([]sec.SecureTransport, error) {
	t, err := tls.New(tls.ID, priv, muxers)
	if err != nil {
		return nil, fmt.Errorf("tls security: %w", err)
	}
	n, err := noise.New(noise.ID, priv, muxers)
	if err != nil {
		return nil, fmt.Errorf("noise security: %w", err)
	}
	return []sec.SecureTransport{t, n}, nil
}

// A till of an earlier release, which offers TLS first, and a till of
// this one (Noise only) admit each other whichever of them dials.
func TestEarlierReleaseSecurityStillConnects(t *testing.T) {
	for _, oldDials := range []bool{true, false} {
		t.Run(fmt.Sprintf("old dials %v", oldDials), func(t *testing.T) {
			s := newTestStore(t)
			cfgListen, cfgDial := s.config(t, 1), s.config(t, 2)
			if oldDials {
				cfgDial.security = tlsThenNoise
			} else {
				cfgListen.security = tlsThenNoise
			}
			listener := runNode(t, cfgListen)
			cfgDial.StaticPeers = []string{listener.staticAddr(t)}
			dialer := runNode(t, cfgDial)
			dialer.waitEvent(t, PeerAdmitted, listener.ID())
			listener.waitEvent(t, PeerAdmitted, dialer.ID())
			conns := dialer.Host.Host().Network().ConnsToPeer(listener.ID())
			if len(conns) == 0 {
				t.Fatal("admitted, but no connection")
			}
			if got := conns[0].ConnState().Security; got != noise.ID {
				t.Errorf("security %q, want %q", got, noise.ID)
			}
		})
	}
}
