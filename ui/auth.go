package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ui/backoff"
)

// session is a logged-in staff member at this till. Handlers get a copy.
type session struct {
	token  string
	csrf   string
	staff  StaffMember
	locked bool
	seen   time.Time
}

func (s *session) checkCSRF(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// sessions are kept in memory: a restarted till asks everyone to log in
// again, which is what a till should do.
type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	idle time.Duration
	max  int
}

func newSessions(idle time.Duration, max int) *sessions {
	return &sessions{m: map[string]*session{}, idle: idle, max: max}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxSessionsTotal bounds the sessions of every staff member together.
const maxSessionsTotal = 1024

// create starts a session for m. A staff member keeps at most max
// sessions: their own oldest goes first, never someone else's. Past the
// till's total bound the oldest session of whoever holds the most goes.
func (ss *sessions) create(m StaffMember, now time.Time) session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for {
		count := map[string]int{}
		oldest := map[string]*session{}
		for _, s := range ss.m {
			id := s.staff.ID
			count[id]++
			if o := oldest[id]; o == nil || s.seen.Before(o.seen) {
				oldest[id] = s
			}
		}
		switch {
		case count[m.ID] >= ss.max:
			delete(ss.m, oldest[m.ID].token)
			continue
		case len(ss.m) >= maxSessionsTotal:
			most := m.ID
			for id, n := range count {
				if n > count[most] {
					most = id
				}
			}
			delete(ss.m, oldest[most].token)
			continue
		}
		break
	}
	s := &session{token: randomToken(), csrf: randomToken(), staff: m, seen: now}
	ss.m[s.token] = s
	return *s
}

func (ss *sessions) get(token string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[token]
	if s == nil {
		return nil
	}
	if now.Sub(s.seen) > ss.idle {
		delete(ss.m, token)
		return nil
	}
	s.seen = now
	c := *s
	return &c
}

func (ss *sessions) setLocked(token string, locked bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s := ss.m[token]; s != nil {
		s.locked = locked
	}
}

func (ss *sessions) drop(token string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, token)
}

// cookieName includes the port the request came in on: browsers send a
// host's cookies to every port, and two tills on one machine must not
// log each other out.
func cookieName(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return "tillmesh_session_" + port
		}
	}
	return "tillmesh_session"
}

func (a *API) session(r *http.Request) *session {
	c, err := r.Cookie(cookieName(r))
	if err != nil || c.Value == "" {
		return nil
	}
	return a.sessions.get(c.Value, a.cfg.Now())
}

type tooManyError struct{ wait time.Duration }

func (e *tooManyError) Error() string {
	return fmt.Sprintf("too many wrong PINs: try again in %s", e.wait.Round(time.Second))
}

// deviceCookie names the cookie that tells one browser from another
// behind one address (every screen of a till comes from 127.0.0.1).
func deviceCookie(r *http.Request) string {
	return strings.Replace(cookieName(r), "session", "client", 1)
}

// withDevice gives a browser without one a client cookie. The value is
// random and means nothing: it only separates this browser's wrong PINs
// from another's, so that a guesser cannot make the back-off fall on the
// staff member's own screen.
func withDevice(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(deviceCookie(r)); err != nil || !validToken(c.Value) {
			http.SetCookie(w, &http.Cookie{Name: deviceCookie(r), Value: randomToken(), Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 400 * 24 * 3600})
		}
		next.ServeHTTP(w, r)
	})
}

func validToken(v string) bool {
	if len(v) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}

// clientOf names who is guessing: inside a session (approvals, unlock)
// the session, else the address and the browser's client cookie.
func clientOf(r *http.Request, s *session) string {
	if s != nil {
		h := sha256.Sum256([]byte(s.token))
		return "session:" + base64.RawURLEncoding.EncodeToString(h[:12])
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if c, err := r.Cookie(deviceCookie(r)); err == nil && validToken(c.Value) {
		return "addr:" + host + "|" + c.Value
	}
	return "addr:" + host
}

// checkPIN authenticates a staff member's PIN under the back-off rules.
// Login (s nil), unlock and manager approvals (s the session asking) all
// come here. The attempt is counted before the PIN is checked, so a burst
// of requests gets no more checks than the same requests one by one:
// FreeAttempts per staff member and client, 3×FreeAttempts per client,
// and CeilingAttempts per staff member from every client together, whose
// wait never exceeds CeilingBackoff.
func (a *API) checkPIN(ctx context.Context, r *http.Request, s *session, id, pin string) (StaffMember, error) {
	id = strings.TrimSpace(id)
	if id == "" || pin == "" {
		return StaffMember{}, badRequest("staff number and PIN are both required")
	}
	if len(id) > 64 || len(pin) > 64 {
		return StaffMember{}, ErrBadCredentials
	}
	client := clientOf(r, s)
	pair := backoff.Key{Name: "pin:" + id + "|" + client, Rule: backoff.Rule{Free: a.cfg.FreeAttempts, Base: a.cfg.Backoff, Max: a.cfg.MaxBackoff}}
	byClient := backoff.Key{Name: "client:" + client, Rule: backoff.Rule{Free: 3 * a.cfg.FreeAttempts, Base: a.cfg.Backoff, Max: a.cfg.MaxBackoff}}
	ceiling := backoff.Key{Name: "staff:" + id, Rule: backoff.Rule{Free: a.cfg.CeilingAttempts, Base: a.cfg.Backoff, Max: a.cfg.CeilingBackoff}}
	ticket, wait := a.limiter.Reserve(a.cfg.Now(), pair, byClient, ceiling)
	if ticket == nil {
		return StaffMember{}, &tooManyError{wait: wait}
	}
	select {
	case a.pinSlots <- struct{}{}:
		defer func() { <-a.pinSlots }()
	case <-ctx.Done():
		ticket.Cancel()
		return StaffMember{}, ctx.Err()
	}
	m, err := a.till.Authenticate(ctx, id, pin)
	switch {
	case errors.Is(err, ErrBadCredentials):
		ticket.Failure()
		a.log.Warn("wrong PIN", "staff", id, "client", client)
		return StaffMember{}, err
	case err != nil:
		ticket.Cancel()
		return StaffMember{}, err
	}
	ticket.Success(pair.Name, byClient.Name)
	return m, nil
}

type loginRequest struct {
	Staff string `json:"staff"`
	PIN   string `json:"pin"`
}

// sessionView is what GET /api/session and POST /api/login answer.
type sessionView struct {
	CSRFToken string      `json:"csrf_token"`
	Staff     StaffMember `json:"staff"`
	Locked    bool        `json:"locked"`
	Till      TillInfo    `json:"till"`
	Settings  Settings    `json:"settings"`
	// Permissions are what the staff member's role may do here.
	Permissions []Permission `json:"permissions"`
	// Language is what the session speaks (ui/language.go).
	Language languageInfo `json:"language"`
}

func (a *API) view(ctx context.Context, s session) sessionView {
	set := a.settings(ctx)
	return sessionView{CSRFToken: s.csrf, Staff: s.staff, Locked: s.locked, Till: a.till.Self(), Settings: set,
		Permissions: set.Permissions.Of(s.staff.Role), Language: a.languages(ctx, &s)}
}

func (a *API) postLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !decode(w, r, &req) {
		return
	}
	m, err := a.checkPIN(r.Context(), r, nil, req.Staff, req.PIN)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if old := a.session(r); old != nil {
		a.sessions.drop(old.token)
	}
	s := a.sessions.create(m, a.cfg.Now())
	http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: s.token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	a.log.Info("login", "staff", m.ID, "role", m.Role)
	writeJSON(w, http.StatusOK, a.view(r.Context(), s))
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request, s *session) {
	writeJSON(w, http.StatusOK, a.view(r.Context(), *s))
}

func (a *API) postLogout(w http.ResponseWriter, r *http.Request, s *session) {
	a.sessions.drop(s.token)
	http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (a *API) postLock(w http.ResponseWriter, r *http.Request, s *session) {
	a.sessions.setLocked(s.token, true)
	s.locked = true
	writeJSON(w, http.StatusOK, a.view(r.Context(), *s))
}

func (a *API) postUnlock(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		PIN string `json:"pin"`
	}
	if !decode(w, r, &req) {
		return
	}
	if _, err := a.checkPIN(r.Context(), r, s, s.staff.ID, req.PIN); err != nil {
		a.fail(w, r, err)
		return
	}
	a.sessions.setLocked(s.token, false)
	s.locked = false
	writeJSON(w, http.StatusOK, a.view(r.Context(), *s))
}

func (a *API) getStaff(w http.ResponseWriter, r *http.Request, _ *session) {
	list, err := a.till.StaffList(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	writeJSON(w, http.StatusOK, list)
}

func (a *API) putStaff(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		Name     string `json:"name"`
		Role     Role   `json:"role"`
		PIN      string `json:"pin,omitempty"`
		Inactive bool   `json:"inactive,omitempty"`
	}
	if !decode(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	m := StaffMember{ID: id, Name: strings.TrimSpace(req.Name), Role: req.Role, Inactive: req.Inactive}
	switch {
	case !ValidRole(req.Role):
		a.fail(w, r, badRequest("role %q: want %q, %q or %q", req.Role, RoleCashier, RoleSupervisor, RoleManager))
		return
	case m.Name == "":
		a.fail(w, r, badRequest("a staff member needs a name"))
		return
	case id == s.staff.ID && req.Role != s.staff.Role:
		a.fail(w, r, badRequest("you cannot change your own role: ask another manager"))
		return
	case id == s.staff.ID && req.Inactive:
		a.fail(w, r, badRequest("you cannot deactivate yourself"))
		return
	}
	if err := a.till.PutStaff(r.Context(), m, req.PIN); err != nil {
		a.fail(w, r, err)
		return
	}
	a.forgetStaff()
	a.log.Info("staff saved", "staff", id, "role", req.Role, "inactive", req.Inactive, "by", s.staff.ID)
	writeJSON(w, http.StatusOK, m)
}

// deleteStaff removes a staff member for good: their sessions end at
// every till the change reaches, their past events stay as they are.
func (a *API) deleteStaff(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if id == s.staff.ID {
		a.fail(w, r, badRequest("you cannot remove yourself"))
		return
	}
	if err := a.till.RemoveStaff(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.forgetStaff()
	a.log.Info("staff removed", "staff", id, "by", s.staff.ID)
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "removed": true})
}
