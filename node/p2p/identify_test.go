package p2p

import (
	"slices"
	"testing"
	"time"
)

// TestPeersLearnEveryListenAddress: a till that listens on two addresses
// tells a peer both through identify, not just the one it connected
// from, so the peer can redial it on either (and keeps them in its peer
// cache). The blank host starts identify only once it listens.
func TestPeersLearnEveryListenAddress(t *testing.T) {
	s := newTestStore(t)
	b := runNode(t, s.config(t, 2))
	cfgA := s.config(t, 1)
	cfgA.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.2/tcp/0"}
	cfgA.StaticPeers = []string{b.staticAddr(t)}
	a := runNode(t, cfgA)
	a.waitEvent(t, PeerAdmitted, b.ID())
	b.waitEvent(t, PeerAdmitted, a.ID())
	want := a.Host.Host().Addrs()
	if len(want) != 2 {
		t.Fatalf("a listens on %v, want two addresses", want)
	}
	waitFor(t, 5*time.Second, "b to know both of a's addresses", func() bool {
		have := b.Host.Host().Peerstore().Addrs(a.ID())
		return slices.ContainsFunc(have, want[0].Equal) && slices.ContainsFunc(have, want[1].Equal)
	})
}
