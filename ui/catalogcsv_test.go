package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ui"
)

// csvTill adds a scripted catalog importer to the fake till.
type csvTill struct {
	*fakeTill
	mu    sync.Mutex
	calls []string // "preview <staff> <body>" or "apply ..."
}

func (c *csvTill) ImportCatalogCSV(_ context.Context, r io.Reader, staff string, apply bool) (ui.CatalogPreview, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return ui.CatalogPreview{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.Contains(string(b), "bad") {
		return ui.CatalogPreview{Problems: []ui.CatalogProblem{{Line: 2, SKU: "A", Reason: "negative price"}}}, ui.ErrBadRequest
	}
	kind := "preview"
	if apply {
		kind = "apply"
	}
	c.calls = append(c.calls, kind+" "+staff+" "+string(b))
	return ui.CatalogPreview{Added: 1, Applied: apply, Changes: []ui.CatalogChange{{Line: 2, SKU: "A", Kind: "added"}}}, nil
}

func (c *csvTill) ExportCatalogCSV(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, "sku,name\n")
	return err
}

func serveCSV(t *testing.T) (*env, *csvTill) {
	f := &csvTill{fakeTill: newFakeTill()}
	c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	cfg := ui.DefaultConfig()
	cfg.Till, cfg.Logger, cfg.Now = f, slog.New(slog.NewTextHandler(io.Discard, nil)), c.now
	a, err := ui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{srv: srv, till: f.fakeTill, clock: c}, f
}

func TestCatalogCSVImport(t *testing.T) {
	e, f := serveCSV(t)
	m := e.login(t, "1", "1234")

	resp, b := m.rawCT("POST", "/api/catalog/import", "text/csv", "sku\nA\n")
	var p ui.CatalogPreview
	if err := json.Unmarshal(b, &p); resp.StatusCode != 200 || err != nil || p.Added != 1 || p.Applied {
		t.Fatalf("preview: %d %s", resp.StatusCode, b)
	}
	resp, b = m.rawCT("POST", "/api/catalog/import?apply=1", "text/csv", "sku\nA\n")
	if json.Unmarshal(b, &p); resp.StatusCode != 200 || !p.Applied {
		t.Fatalf("apply: %d %s", resp.StatusCode, b)
	}
	resp, b = m.rawCT("POST", "/api/catalog/import?apply=1", "text/csv", "sku\nbad\n")
	if json.Unmarshal(b, &p); resp.StatusCode != http.StatusUnprocessableEntity || len(p.Problems) != 1 || p.Problems[0].Line != 2 {
		t.Fatalf("bad file: %d %s", resp.StatusCode, b)
	}
	if len(f.calls) != 2 || f.calls[0] != "preview 1 sku\nA\n" || !strings.HasPrefix(f.calls[1], "apply 1 ") {
		t.Errorf("importer calls %q", f.calls)
	}

	resp, b = m.rawCT("GET", "/api/catalog/export", "", "")
	if resp.StatusCode != 200 || string(b) != "sku,name\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("export: %d %q %s", resp.StatusCode, b, resp.Header.Get("Content-Type"))
	}

	// A cashier may not, nor a request without the CSRF token.
	c := e.login(t, "2", "0000")
	if resp, _ := c.rawCT("POST", "/api/catalog/import?apply=1", "text/csv", "sku\nA\n"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cashier import: %d", resp.StatusCode)
	}
	m.csrf = "wrong"
	if resp, _ := m.rawCT("POST", "/api/catalog/import?apply=1", "text/csv", "sku\nA\n"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("import without the CSRF token: %d", resp.StatusCode)
	}
	if len(f.calls) != 2 {
		t.Errorf("refused requests reached the importer: %q", f.calls)
	}
}

// TestCatalogCSVNotImplemented: a till without an importer says so.
func TestCatalogCSVNotImplemented(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	if resp, b := m.rawCT("POST", "/api/catalog/import", "text/csv", "x"); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("got %d %s", resp.StatusCode, b)
	}
}
