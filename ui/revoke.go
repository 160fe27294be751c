package ui

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Revocation is a till whose certificate the store CA withdrew.
type Revocation struct {
	Till     string    `json:"till"` // till ID
	Number   uint32    `json:"number"`
	Name     string    `json:"name,omitempty"`
	AfterSeq uint64    `json:"after_seq"` // its events up to this seq stay valid
	Reason   string    `json:"reason,omitempty"`
	Issued   time.Time `json:"issued"`
}

// Revoker is what a Till implements to take revocation files (written by
// `tillmesh store revoke`) from a manager and list the store's
// revocations. A Till without it answers 501 on these routes.
type Revoker interface {
	// UploadRevocation checks and stores a revocation file; a bad one is
	// an ErrBadRequest error and changes nothing.
	UploadRevocation(ctx context.Context, file []byte) (Revocation, error)
	Revocations(ctx context.Context) ([]Revocation, error)
}

// maxRevocationUpload bounds a revocation file.
const maxRevocationUpload = 16 << 10

// revocationRoutes registers POST /api/revocations (a manager uploads a
// revocation file as the body; the settings permission, a manager's) and
// GET /api/revocations.
func (a *API) revocationRoutes(h func(string, access, handlerFunc), p func(string, Permission, handlerFunc)) {
	p("POST /api/revocations", PermSettings, a.postRevocation)
	h("GET /api/revocations", public, a.getRevocations)
}

func (a *API) revoker(w http.ResponseWriter) (Revoker, bool) {
	rv, ok := a.till.(Revoker)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this till cannot take revocations")
	}
	return rv, ok
}

func (a *API) postRevocation(w http.ResponseWriter, r *http.Request, s *session) {
	rv, ok := a.revoker(w)
	if !ok {
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRevocationUpload))
	if err != nil {
		a.fail(w, r, badRequest("read the revocation file: %v", err))
		return
	}
	rev, err := rv.UploadRevocation(r.Context(), b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Warn("till revoked by a manager", "staff", s.staff.ID, "number", rev.Number, "after_seq", rev.AfterSeq)
	writeJSON(w, http.StatusOK, rev)
}

func (a *API) getRevocations(w http.ResponseWriter, r *http.Request, _ *session) {
	rv, ok := a.revoker(w)
	if !ok {
		return
	}
	list, err := rv.Revocations(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revocations": list})
}
