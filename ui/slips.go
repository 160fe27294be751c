package ui

import (
	"context"
	"fmt"
	"net/http"
)

// XPrinter is implemented by tills that print the open shift's X report
// (node/slips.go). Every other slip prints when its event is recorded.
type XPrinter interface {
	PrintX(ctx context.Context) error
}

// postPrintX prints the open shift's X report: POST /api/shift/x.
func (a *API) postPrintX(w http.ResponseWriter, r *http.Request, _ *session) {
	p, ok := a.till.(XPrinter)
	if !ok {
		a.fail(w, r, fmt.Errorf("%w: this till has no receipt printer", ErrUnavailable))
		return
	}
	if err := p.PrintX(r.Context()); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
}
