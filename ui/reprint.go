package ui

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/tillmesh/tillmesh/ledger"
)

// Reprinter is implemented by tills with a receipt printer. A reprint is
// marked COPY. A Till without it answers reprints with 503.
type Reprinter interface {
	Reprint(ctx context.Context, sale ledger.EventID) error
}

// postReprint queues a copy of a sale's receipt: {"event_id": "..."}.
// Nothing in the ledger changes, so it needs no idempotency key.
// The first copy of a sale's receipt needs the reprint permission (any
// cashier by default), each further copy reprint_again (a supervisor):
// a stack of copies is how a receipt turns into a fraudulent refund. The
// count is this till's, in memory.
func (a *API) postReprint(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		EventID string `json:"event_id"`
		approval
	}
	if !decode(w, r, &req) {
		return
	}
	id, err := ledger.ParseEventID(req.EventID)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	perms := []Permission{PermReprint}
	if a.reprints.count(id) > 0 {
		perms = append(perms, PermReprintAgain)
	}
	if _, err := a.authorize(r.Context(), r, s, req.approval, "another copy of this receipt", perms...); err != nil {
		a.fail(w, r, err)
		return
	}
	rp, ok := a.till.(Reprinter)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "this till has no receipt printer")
		return
	}
	if err := rp.Reprint(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.reprints.add(id)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": fmt.Sprintf("copy of %s queued", req.EventID[:8])})
}

// reprintCounts counts this till's copies per sale, bounded: past
// maxTracked sales the oldest counts are forgotten.
type reprintCounts struct {
	mu    sync.Mutex
	n     map[ledger.EventID]int
	order []ledger.EventID
}

const maxTracked = 10_000

func (c *reprintCounts) count(id ledger.EventID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func (c *reprintCounts) add(id ledger.EventID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[ledger.EventID]int{}
	}
	if c.n[id] == 0 {
		c.order = append(c.order, id)
		if len(c.order) > maxTracked {
			delete(c.n, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.n[id]++
}
