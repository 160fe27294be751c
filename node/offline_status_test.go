package node_test

import (
	"strings"
	"testing"
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
