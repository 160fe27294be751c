package ui

import (
	"context"
	"errors"
	"io"
	"net/http"
)

// CatalogImporter is what a Till implements to import and export the
// catalog as a CSV file (the file format is node's: see package
// catalogcsv). A Till without it answers 501 on these routes.
type CatalogImporter interface {
	// ImportCatalogCSV previews (apply false) or applies a file. A file
	// with bad rows returns an ErrBadRequest error and a preview whose
	// Problems list every bad row; nothing is applied.
	ImportCatalogCSV(ctx context.Context, r io.Reader, staff string, apply bool) (CatalogPreview, error)
	ExportCatalogCSV(ctx context.Context, w io.Writer) error
}

// CatalogPreview is what an import changes, or why it cannot.
type CatalogPreview struct {
	Added     int              `json:"added"`
	Changed   int              `json:"changed"`
	Unchanged int              `json:"unchanged"`
	Changes   []CatalogChange  `json:"changes,omitempty"` // added and changed rows
	Applied   bool             `json:"applied"`
	Problems  []CatalogProblem `json:"problems,omitempty"`
	Truncated bool             `json:"truncated,omitempty"` // more problems than listed
}

// CatalogChange is one added or changed product.
type CatalogChange struct {
	Line    int      `json:"line"`
	SKU     string   `json:"sku"`
	Name    string   `json:"name"`
	Kind    string   `json:"kind"` // added or changed
	Fields  []string `json:"fields,omitempty"`
	Opening int64    `json:"opening_stock,omitempty"`
}

// CatalogProblem is one bad row of a file.
type CatalogProblem struct {
	Line   int    `json:"line"`
	SKU    string `json:"sku,omitempty"`
	Reason string `json:"reason"`
}

// maxCatalogUpload bounds an upload; the importer has its own, smaller
// limit and says so clearly.
const maxCatalogUpload = 64 << 20

// catalogCSVRoutes registers POST /api/catalog/import (the CSV file as
// the body; ?apply=1 applies, otherwise a preview) and GET
// /api/catalog/export, for staff with the catalog permission.
func (a *API) catalogCSVRoutes(p func(string, Permission, handlerFunc)) {
	p("POST /api/catalog/import", PermCatalog, a.postCatalogImport)
	p("GET /api/catalog/export", PermCatalog, a.getCatalogExport)
}

func (a *API) catalogImporter(w http.ResponseWriter) (CatalogImporter, bool) {
	ci, ok := a.till.(CatalogImporter)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this till cannot import or export the catalog")
	}
	return ci, ok
}

func (a *API) postCatalogImport(w http.ResponseWriter, r *http.Request, s *session) {
	ci, ok := a.catalogImporter(w)
	if !ok {
		return
	}
	apply := r.URL.Query().Get("apply") == "1"
	body := http.MaxBytesReader(w, r.Body, maxCatalogUpload)
	p, err := ci.ImportCatalogCSV(r.Context(), body, s.staff.ID, apply)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "the file is too large: split it into smaller files")
			return
		}
		if len(p.Problems) > 0 {
			writeJSON(w, http.StatusUnprocessableEntity, struct {
				Error string `json:"error"`
				CatalogPreview
			}{err.Error(), p})
			return
		}
		a.fail(w, r, err)
		return
	}
	if apply {
		a.log.Info("catalog imported", "staff", s.staff.ID, "added", p.Added, "changed", p.Changed, "unchanged", p.Unchanged)
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *API) getCatalogExport(w http.ResponseWriter, r *http.Request, _ *session) {
	ci, ok := a.catalogImporter(w)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="catalog.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	if err := ci.ExportCatalogCSV(r.Context(), w); err != nil {
		a.log.Warn("export catalog", "err", err)
	}
}
