package hq

import (
	"context"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// Several HQ processes on one database (PostgreSQL) serve the same
// relays behind any load balancer. What one process learns and the
// others must see is read from storage when a request needs it: a store
// registered by another process (adoptStore), a till certificate another
// process verified (adoptCerts), the heads another process moved
// (refreshHeads, rollup.go), the events it stored (foldAccepted) and the
// tills it revoked (syncRevocations, revoke.go).

// adoptStore loads a store another HQ process registered, or returns nil
// when storage does not know it either.
func (h *HQ) adoptStore(ctx context.Context, id ledger.StoreID) *storeState {
	now := h.cfg.Now()
	h.mu.Lock()
	asked, seen := h.unknown[id]
	h.mu.Unlock()
	if seen && now.Sub(asked) < unknownStoreFor {
		return nil // asked lately: requests for made-up stores do not each read the store list
	}
	recs, err := h.st.Stores(ctx)
	if err != nil {
		h.log.Warn("read stores", "err", err)
		return nil
	}
	for _, rec := range recs {
		if rec.ID != id {
			continue
		}
		s, err := h.loadStore(ctx, rec)
		if err == nil {
			s.mu.Lock()
			err = h.syncRevocations(ctx, s) // revoke.go: its tills revoked there too
			s.mu.Unlock()
		}
		if err != nil {
			h.log.Warn("load a store another HQ process registered", "store", id, "err", err)
			return nil
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if have := h.stores[id]; have != nil {
			return have // loaded meanwhile by another request
		}
		h.stores[id] = s
		delete(h.unknown, id)
		h.views.Add(1)
		return s
	}
	h.mu.Lock()
	if h.unknown == nil || len(h.unknown) >= maxUnknownStores {
		h.unknown = map[ledger.StoreID]time.Time{}
	}
	h.unknown[id] = now
	h.mu.Unlock()
	return nil
}

// A store ID storage lacked is not looked up again for unknownStoreFor;
// at most maxUnknownStores are remembered.
const (
	unknownStoreFor  = 10 * time.Second
	maxUnknownStores = 10_000
)

// adoptCerts takes the certificates of the store that another HQ process
// verified and stored. The caller holds s.mu.
func (h *HQ) adoptCerts(ctx context.Context, s *storeState) {
	certs, err := h.st.Certificates(ctx, s.rec.ID)
	if err != nil {
		h.log.Warn("read certificates", "store", s.rec.ID, "err", err)
		return
	}
	for _, c := range certs {
		if s.certs[c.Till] == nil {
			s.viewMu.Lock()
			s.certs[c.Till] = c
			s.raws[c.Till], _ = c.Encode()
			s.viewMu.Unlock()
			h.views.Add(1)
		}
	}
}
