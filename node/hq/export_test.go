package hq

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
