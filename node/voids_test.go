package node_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

// TestVoidOrRefundNeverBoth: a void racing a refund of the same sale, at
// two connected tills, can never both be recorded: voids take the
// owner's grant like refunds. Rounds alternate between the owner voiding
// its own sale while another till refunds it, and another till voiding
// while the owner or a third till refunds. Issue 13: a void took no
// grant, and both were recorded.
func TestVoidOrRefundNeverBoth(t *testing.T) {
	const tills, rounds = 3, 8
	rs, urls := connectedStore(t, tills)
	var mgr []*web
	for _, u := range urls {
		mgr = append(mgr, login(t, u, "1", "1234"))
	}
	for round := range rounds {
		owner := round % tills
		voider, refunder := owner, (owner+1)%tills
		if round%2 == 1 {
			voider, refunder = (owner+1)%tills, owner
			if round%4 == 3 {
				refunder = (owner + 2) % tills
			}
		}
		saleEv, receipt := saleOn(t, rs[owner], fmt.Sprintf("vr-sale-%d", round), "10003", 2, rs)
		var wg sync.WaitGroup
		start := make(chan struct{})
		var vCode, rCode int
		var vErr, rErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			vCode, vErr = mgr[voider].doNoFatal("POST", "/api/voids", fmt.Sprintf(`{"idempotency_key":"vr-void-%d","sale":%q,"reason":"race"}`, round, receipt))
		}()
		go func() {
			defer wg.Done()
			<-start
			rCode, rErr = mgr[refunder].doNoFatal("POST", "/api/refunds", fmt.Sprintf(`{"idempotency_key":"vr-ref-%d","sale":%q,"lines":[{"line":0,"qty":1}],"tender":"cash"}`, round, receipt))
		}()
		close(start)
		wg.Wait()
		voided, refunded := vCode == http.StatusCreated, rCode == http.StatusCreated
		if voided == refunded {
			t.Fatalf("round %d (sale at till %d, void at %d, refund at %d): void %d (%v), refund %d (%v); want exactly one recorded",
				round, owner+1, voider+1, refunder+1, vCode, vErr, rCode, rErr)
		}
		waitFor(t, "every till holds every event", func() bool {
			want := rs[0].DB().Vector()
			for _, r := range rs[1:] {
				v := r.DB().Vector()
				for id, seq := range want {
					if v[id] != seq {
						return false
					}
				}
				if len(v) != len(want) {
					return false
				}
			}
			return true
		})
		for i, r := range rs {
			var anomalies []ledger.Anomaly
			r.DB().View(func(s *ledger.State) { anomalies = s.Fold().Anomalies() })
			for _, a := range anomalies {
				if a.Sale == saleEv.ID() {
					t.Fatalf("round %d: till %d reports %q with the owner reachable", round, i+1, a.Reason)
				}
			}
		}
	}
	// With the sale's till cut off, another till may not void it.
	_, receipt := saleOn(t, rs[0], "vr-sale-away", "10003", 1, rs)
	rs[0].Host().Block(rs[1].Host().ID())
	rs[1].Host().Block(rs[0].Host().ID())
	waitFor(t, "the tills apart", func() bool { _, ok := peerIn(rs[1], rs[0]); return !ok })
	if code, out := mgr[1].do("POST", "/api/voids", fmt.Sprintf(`{"idempotency_key":"vr-away","sale":%q,"reason":"away"}`, receipt)); code != http.StatusServiceUnavailable ||
		!strings.Contains(fmt.Sprint(out["error"]), "voided only with its till reachable") {
		t.Fatalf("void with the sale's till away: %d %v", code, out)
	}
}

// peerIn reports whether r holds a connection to o's till.
func peerIn(r, o *runningTill) (string, bool) {
	for _, p := range r.Host().Peers() {
		if p.ID == o.Host().ID() && p.Connected {
			return p.ID.String(), true
		}
	}
	return "", false
}

// TestVoidAndRefundGrantsExclude: while a refund's grant is held (asked,
// not yet recorded) the sale's till grants no void, and while a void's
// grant is held it grants no refund, whichever till asks.
func TestVoidAndRefundGrantsExclude(t *testing.T) {
	rs, urls := connectedStore(t, 2)
	a, b := rs[0], rs[1]
	ma, mb := login(t, urls[0], "1", "1234"), login(t, urls[1], "1", "1234")
	refunding, receipt1 := saleOn(t, a, "ex-sale-1", "10003", 2, rs)
	if err := b.AskRefundGrant(t.Context(), refunding.ID(), 0, 1, "ex-held-refund"); err != nil {
		t.Fatal(err)
	}
	for i, m := range []*web{ma, mb} {
		if code, out := m.do("POST", "/api/voids", fmt.Sprintf(`{"idempotency_key":"ex-v-%d","sale":%q,"reason":"x"}`, i, receipt1)); code != http.StatusConflict ||
			!strings.Contains(fmt.Sprint(out["error"]), "refund of sale") {
			t.Fatalf("void at till %d with a refund grant held: %d %v", i+1, code, out)
		}
	}
	voiding, receipt2 := saleOn(t, a, "ex-sale-2", "10003", 2, rs)
	if err := b.AskVoidGrant(t.Context(), voiding.ID(), "ex-held-void"); err != nil {
		t.Fatal(err)
	}
	if err := b.AskVoidGrant(t.Context(), voiding.ID(), "ex-held-void"); err != nil {
		t.Fatalf("the same void asked again: %v", err)
	}
	for i, m := range []*web{ma, mb} {
		if code, out := m.do("POST", "/api/refunds", fmt.Sprintf(`{"idempotency_key":"ex-r-%d","sale":%q,"lines":[{"line":0,"qty":1}],"tender":"cash"}`, i, receipt2)); code != http.StatusBadRequest ||
			!strings.Contains(fmt.Sprint(out["error"]), "being voided") {
			t.Fatalf("refund at till %d with a void grant held: %d %v", i+1, code, out)
		}
		if code, out := m.do("POST", "/api/voids", fmt.Sprintf(`{"idempotency_key":"ex-v2-%d","sale":%q,"reason":"x"}`, i, receipt2)); code/100 == 2 {
			t.Fatalf("second void at till %d with a void grant held: %d %v", i+1, code, out)
		}
	}
	// The void with the held grant's key goes through.
	mb.must(201, "POST", "/api/voids", fmt.Sprintf(`{"idempotency_key":"ex-held-void","sale":%q,"reason":"x"}`, receipt2))
}
