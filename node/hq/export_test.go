package hq

import "github.com/tillmesh/tillmesh/ledger"

// DropChainAnswers forgets every materialized chain report that no
// refresh is computing, so a benchmark can weigh the heap they kept.
func (h *HQ) DropChainAnswers() {
	c := &h.chain
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, a := range c.shapes {
		if !a.running {
			delete(c.shapes, k)
		}
	}
}

// SpendRecordsHeld is how many sale records a store's over-spend
// tracker holds in memory (overspend.go).
func (h *HQ) SpendRecordsHeld(id ledger.StoreID) int {
	s := h.store(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.agg.spends.sales)
}

// SpendKeep is spendKeep.
const SpendKeep = spendKeep
