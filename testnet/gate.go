package testnet

import (
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// gate stands between the tills and HQ: every store's relay talks to HQ
// through it, and it cuts a store, or a till, off from HQ the way a dead
// internet line does (the connection closes without an answer). It reads
// the till from the signed request's Authorization header and the store
// from the path; neither is trusted for anything but this decision: HQ
// behind it verifies every request.
type gate struct {
	// serving is held (read) by every request HQ serves, and (write) by
	// swap while HQ is replaced.
	serving sync.RWMutex
	next    http.Handler // guarded by serving

	mu         sync.Mutex
	storesDown map[ledger.StoreID]bool
	allDown    bool
	tillsCut   map[ledger.TillID]bool
	refused    int
}

func newGate(next http.Handler) *gate {
	return &gate{next: next, storesDown: map[ledger.StoreID]bool{}, tillsCut: map[ledger.TillID]bool{}}
}

func (g *gate) setStore(id ledger.StoreID, down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.storesDown[id] = down
}

func (g *gate) setAll(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.allDown = down
	if !down {
		clear(g.storesDown)
	}
}

func (g *gate) setTill(id ledger.TillID, cut bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cut {
		g.tillsCut[id] = true
	} else {
		delete(g.tillsCut, id)
	}
}

// storeDown reports whether HQ is cut off for a store.
func (g *gate) storeDown(id ledger.StoreID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.allDown || g.storesDown[id]
}

func (g *gate) refuse(r *http.Request) bool {
	var store ledger.StoreID
	haveStore := false
	if rest, ok := strings.CutPrefix(r.URL.Path, "/v1/stores/"); ok {
		s, _, _ := strings.Cut(rest, "/")
		if id, err := ledger.ParseStoreID(s); err == nil {
			store, haveStore = id, true
		}
	}
	var till ledger.TillID
	haveTill := false
	if c, err := hqapi.ParseAuth(r.Header.Get(hqapi.HeaderAuth)); err == nil {
		till, haveTill = c.Till, true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	no := g.allDown || (haveStore && g.storesDown[store]) || (haveTill && g.tillsCut[till])
	if no {
		g.refused++
	}
	return no
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.refuse(r) {
		// A dead line: no answer, the connection just ends.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0) // reset, as a broken path does
				}
				c.Close()
				return
			}
		}
		http.Error(w, "testnet: HQ is cut off", http.StatusServiceUnavailable)
		return
	}
	g.serving.RLock()
	defer g.serving.RUnlock()
	g.next.ServeHTTP(w, r)
}

// swap replaces HQ, as a crash and a restart do: requests that reach the
// gate meanwhile find a dead line, those in flight end first, then
// replace runs and returns the new HQ's handler.
func (g *gate) swap(replace func() (http.Handler, error)) error {
	g.mu.Lock()
	was := g.allDown
	g.allDown = true
	g.mu.Unlock()
	g.serving.Lock()
	next, err := replace()
	if err == nil {
		g.next = next
	}
	g.serving.Unlock()
	g.mu.Lock()
	g.allDown = was
	g.mu.Unlock()
	return err
}
