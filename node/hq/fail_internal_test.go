package hq

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A write another HQ process made meanwhile is a conflict the relay
// retries (503 with Retry-After), not a server error.
func TestConflictsAreRetriedByTheRelay(t *testing.T) {
	h := &HQ{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, err := range []error{ErrRollupMoved, ErrHeadMoved, errRevocationsUnread} {
		w := httptest.NewRecorder()
		h.fail(w, httptest.NewRequest(http.MethodPost, "/hq/v1/stores/x/events", nil), fmt.Errorf("store x: %w", err))
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("%v: status %d, Retry-After %q; want 503 with Retry-After", err, w.Code, w.Header().Get("Retry-After"))
		}
	}
}
