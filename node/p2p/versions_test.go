package p2p

import (
	"bytes"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// TestMixedHelloVersions: a till that speaks hello 1 only (a release
// before hello 2) and tills that speak hello 1 and 2 admit each other,
// in both directions of dialing; two tills that both speak hello 2 use it
// and learn each other's release, and one on hello 1 is shown without.
func TestMixedHelloVersions(t *testing.T) {
	s := newTestStore(t)
	// Dials: b -> old (hello 1 only), old -> c, c -> b.
	cfgC := s.config(t, 3)
	cfgC.Release = "v1.0.1"
	c := runNode(t, cfgC)
	cfgOld := s.config(t, 1)
	cfgOld.HelloProtocols = []protocol.ID{HelloProtocol}
	cfgOld.Release = "v0.9.0"
	cfgOld.StaticPeers = []string{c.staticAddr(t)}
	old := runNode(t, cfgOld)
	cfgB := s.config(t, 2)
	cfgB.Release = "v1.0.0"
	cfgB.StaticPeers = []string{old.staticAddr(t)}
	b := runNode(t, cfgB)
	if err := c.Host.Host().Connect(t.Context(), b.addrInfo()); err != nil {
		t.Fatal(err)
	}
	for _, pair := range []struct {
		what string
		x, y *node
	}{{"old admits b", old, b}, {"b admits old", b, old}, {"old admits c", old, c}, {"c admits old", c, old}, {"b admits c", b, c}, {"c admits b", c, b}} {
		waitFor(t, 10*time.Second, pair.what, func() bool {
			pi, _ := pair.x.peerInfo(pair.y.ID())
			return pi.Admitted && pi.Connected
		})
	}
	waitFor(t, 5*time.Second, "releases over hello 2", func() bool {
		pb, _ := c.peerInfo(b.ID())
		pc, _ := b.peerInfo(c.ID())
		return pb.Release == "v1.0.0" && pc.Release == "v1.0.1"
	})
	for _, n := range []*node{b, c} {
		if pi, _ := n.peerInfo(old.ID()); pi.Release != "" || !pi.Admitted {
			t.Errorf("the hello-1 till as seen by a newer one: %+v", pi)
		}
	}
	if pi, _ := old.peerInfo(b.ID()); !pi.Admitted || pi.Release != "" {
		t.Errorf("b as seen by the hello-1 till: %+v", pi)
	}
}

// TestHello2Limits: a hello 2 with a release over the limit, or with keys
// a newer version adds, is refused or read as it should be.
func TestHello2Limits(t *testing.T) {
	s := newTestStore(t)
	cert, err := s.config(t, 1).Cert.Encode()
	if err != nil {
		t.Fatal(err)
	}
	long := string(bytes.Repeat([]byte("v"), MaxReleaseLen+1))
	msg, _ := encodeHelloV2(cert, long)
	if _, _, err := decodeHelloOf(HelloProtocolV2, bytes.NewReader(msg)); err == nil {
		t.Error("a release over the limit was accepted")
	}
	msg, _ = encodeHelloV2(cert, "v2.0.0")
	c, rel, err := decodeHelloOf(HelloProtocolV2, bytes.NewReader(msg))
	if err != nil || rel != "v2.0.0" || c.Number != 1 {
		t.Errorf("hello 2: %v %q", err, rel)
	}
}
