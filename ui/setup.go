package ui

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ui/backoff"
)

// The first-run set-up. A till whose store has no manager yet serves
// /setup on its loopback address: the one-time code it printed at start
// (and wrote to a 0600 file in its data directory) creates the first
// manager. Once a manager exists anywhere in the store (the staff list is
// replicated) the page is gone and the code void. Wrong codes back off
// like wrong PINs.

// Set-up code back-off: 5 tries per client, then a wait doubling from
// 1 s to 5 min; 20 from every client together, then at most 30 s.
var (
	setupClientRule  = backoff.Rule{Free: 5, Base: time.Second, Max: 5 * time.Minute}
	setupCeilingRule = backoff.Rule{Free: 20, Base: time.Second, Max: 30 * time.Second}
)

// loopback reports whether the request comes from the till's own
// machine.
func loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// setupOpen reports whether this request may see the set-up: the till
// offers it, the store has no manager and the request is local.
func (a *API) setupOpen(r *http.Request) (Setup, bool) {
	su, ok := a.till.(Setup)
	if !ok || !loopback(r) {
		return nil, false
	}
	open, err := su.SetupOpen(r.Context())
	if err != nil {
		a.log.Warn("read staff list for the set-up", "err", err)
		return nil, false
	}
	return su, open
}

func (a *API) getSetupPage(w http.ResponseWriter, r *http.Request) {
	if _, open := a.setupOpen(r); !open {
		http.Error(w, "no set-up here: the store has a manager (log in at /), or this is not the till itself", http.StatusNotFound)
		return
	}
	servePageFile(w, "web/setup.html")
}

// getSetup answers {"open": true} while the set-up page is served to the
// caller, so the login screen can point to it.
func (a *API) getSetup(w http.ResponseWriter, r *http.Request, _ *session) {
	_, open := a.setupOpen(r)
	writeJSON(w, http.StatusOK, map[string]bool{"open": open})
}

// SetupRequest is the body of POST /api/setup.
type SetupRequest struct {
	Code  string `json:"code"`
	Staff string `json:"staff"`
	Name  string `json:"name"`
	PIN   string `json:"pin"`
}

func (a *API) postSetup(w http.ResponseWriter, r *http.Request) {
	if !loopback(r) {
		writeError(w, http.StatusForbidden, "the set-up is only offered on the till itself (its loopback address)")
		return
	}
	su, ok := a.till.(Setup)
	if !ok {
		writeError(w, http.StatusNotFound, "this till offers no set-up")
		return
	}
	var req SetupRequest
	if !decode(w, r, &req) {
		return
	}
	m := StaffMember{ID: strings.TrimSpace(req.Staff), Name: strings.TrimSpace(req.Name), Role: RoleManager}
	switch {
	case strings.TrimSpace(req.Code) == "":
		a.fail(w, r, badRequest("enter the set-up code the till printed at start"))
		return
	case m.ID == "" || m.Name == "" || req.PIN == "":
		a.fail(w, r, badRequest("the first manager needs a staff number, a name and a PIN"))
		return
	case len(req.Code) > 64:
		a.fail(w, r, ErrWrongCode)
		return
	}
	client := clientOf(r, nil)
	ticket, wait := a.limiter.Reserve(a.cfg.Now(), backoff.Key{Name: "setup|" + client, Rule: setupClientRule},
		backoff.Key{Name: "setup", Rule: setupCeilingRule})
	if ticket == nil {
		a.fail(w, r, &tooManyError{wait: wait})
		return
	}
	err := su.FirstManager(r.Context(), req.Code, m, req.PIN)
	switch {
	case errors.Is(err, ErrWrongCode):
		ticket.Failure()
		a.log.Warn("wrong set-up code", "client", client)
		a.fail(w, r, err)
		return
	case err != nil:
		ticket.Cancel()
		a.fail(w, r, err)
		return
	}
	ticket.Success("setup|" + client)
	a.forgetStaff()
	a.log.Info("first manager created", "staff", m.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"staff": m, "next": "log in at /"})
}
