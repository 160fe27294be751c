package ui

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tillmesh/tillmesh/ledger"
)

// Reprinter is implemented by tills with a receipt printer. A reprint is
// marked COPY. A Till without it answers reprints with 503.
type Reprinter interface {
	Reprint(ctx context.Context, sale ledger.EventID) error
}

// postReprint queues a copy of a sale's receipt: {"event_id": "..."}.
// Nothing in the ledger changes, so it needs no idempotency key.
func (a *API) postReprint(w http.ResponseWriter, r *http.Request, _ *session) {
	var req struct {
		EventID string `json:"event_id"`
	}
	if !decode(w, r, &req) {
		return
	}
	id, err := ledger.ParseEventID(req.EventID)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
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
	writeJSON(w, http.StatusAccepted, map[string]string{"status": fmt.Sprintf("copy of %s queued", req.EventID[:8])})
}
