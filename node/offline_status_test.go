package node_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/node"
)

// A peer that goes away is shown "offline since <time> (<duration>)" in
// the status every screen's status bar reads.
func TestStatusSaysSinceWhenAPeerIsOffline(t *testing.T) {
	s := newStore(t, 2)
	b := s.start(t, s.tills[1])
	a := s.start(t, s.tills[0], b.addr())
	waitFor(t, "till 2 connected", func() bool {
		for _, p := range a.Status(t.Context()).Peers {
			if p.Number == 2 && p.Connected {
				return p.Offline == ""
			}
		}
		return false
	})
	b.stop()
	var offline string
	waitFor(t, "till 2 offline in till 1's status", func() bool {
		for _, p := range a.Status(t.Context()).Peers {
			if p.Number == 2 && !p.Connected {
				offline = p.Offline
				return true
			}
		}
		return false
	})
	if !strings.HasPrefix(offline, "offline since ") || !strings.HasSuffix(offline, " s)") {
		t.Fatalf("peer offline text %q, want offline since hh:mm (n s)", offline)
	}
	if hq := a.Status(t.Context()).HQ; hq.Offline != "" {
		t.Fatalf("no HQ configured, yet HQ says %q", hq.Offline)
	}
}

// HQ that was never reached reads so on the status bar.
func TestStatusSaysHQOffline(t *testing.T) {
	s := newStore(t, 1)
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = s.tills[0], s.store, quiet()
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, false
	cfg.HQ = "http://127.0.0.1:1" // nothing listens there
	a, err := node.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	hq := a.Status(t.Context()).HQ
	if hq.Reachable || hq.Offline != "offline, not reached since the till started" || !hq.LastContact.IsZero() {
		t.Fatalf("HQ status %+v", hq)
	}
}
