package ui

import (
	"context"
	"crypto/rand"
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

func (ss *sessions) create(m StaffMember, now time.Time) session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for len(ss.m) >= ss.max {
		var oldest *session
		for _, s := range ss.m {
			if oldest == nil || s.seen.Before(oldest.seen) {
				oldest = s
			}
		}
		delete(ss.m, oldest.token)
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

// limiter slows down PIN guessing: per key (a staff member, a client
// address) the first free failures cost nothing, each further one doubles
// the wait before the next attempt is even checked. A success clears the
// key; failures are forgotten after a quiet quarter of an hour.
type limiter struct {
	mu        sync.Mutex
	free      int
	base, max time.Duration
	m         map[string]*strikes
}

type strikes struct {
	n     int
	until time.Time
	last  time.Time
}

const forgetAfter = 15 * time.Minute

func newLimiter(free int, base, max time.Duration) *limiter {
	return &limiter{free: free, base: base, max: max, m: map[string]*strikes{}}
}

// wait returns how long key must wait before its next attempt.
func (l *limiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.m[key]
	if s == nil {
		return 0
	}
	if now.Sub(s.last) > forgetAfter && !now.Before(s.until) {
		delete(l.m, key)
		return 0
	}
	return max(s.until.Sub(now), 0)
}

// fail records a failure for key with free failures allowed.
func (l *limiter) fail(key string, free int, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) > 10_000 {
		for k, s := range l.m {
			if now.Sub(s.last) > forgetAfter && !now.Before(s.until) {
				delete(l.m, k)
			}
		}
	}
	s := l.m[key]
	if s == nil {
		s = &strikes{}
		l.m[key] = s
	}
	s.n++
	s.last = now
	if s.n >= free {
		d := l.base
		for i := free; i < s.n && d < l.max; i++ {
			d *= 2
		}
		s.until = now.Add(min(d, l.max))
	}
}

func (l *limiter) clear(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

type tooManyError struct{ wait time.Duration }

func (e *tooManyError) Error() string {
	return fmt.Sprintf("too many wrong PINs: try again in %s", e.wait.Round(time.Second))
}

func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "client:" + host
}

// checkPIN authenticates a staff member's PIN under the back-off rules.
// Login, unlock and manager approvals all come here.
func (a *API) checkPIN(ctx context.Context, r *http.Request, id, pin string) (StaffMember, error) {
	id = strings.TrimSpace(id)
	if id == "" || pin == "" {
		return StaffMember{}, badRequest("staff number and PIN are both required")
	}
	if len(id) > 64 || len(pin) > 64 {
		return StaffMember{}, ErrBadCredentials
	}
	now := a.cfg.Now()
	staffKey, client := "staff:"+id, clientKey(r)
	if w := max(a.limiter.wait(staffKey, now), a.limiter.wait(client, now)); w > 0 {
		return StaffMember{}, &tooManyError{wait: w}
	}
	select {
	case a.pinSlots <- struct{}{}:
		defer func() { <-a.pinSlots }()
	case <-ctx.Done():
		return StaffMember{}, ctx.Err()
	}
	m, err := a.till.Authenticate(ctx, id, pin)
	if err != nil {
		if errors.Is(err, ErrBadCredentials) {
			now := a.cfg.Now()
			a.limiter.fail(staffKey, a.cfg.FreeAttempts, now)
			a.limiter.fail(client, 3*a.cfg.FreeAttempts, now)
			a.log.Warn("wrong PIN", "staff", id, "client", client)
		}
		return StaffMember{}, err
	}
	a.limiter.clear(staffKey)
	a.limiter.clear(client)
	return m, nil
}

// approve checks that managerID's PIN is right and that they are a
// manager; it returns their ID for the event.
func (a *API) approve(ctx context.Context, r *http.Request, managerID, pin string) (string, error) {
	m, err := a.checkPIN(ctx, r, managerID, pin)
	if errors.Is(err, ErrBadCredentials) {
		// Not the session's credentials: a 401 would log the cashier out.
		return "", &needError{status: http.StatusForbidden, need: "approval", reason: "wrong manager number or PIN"}
	}
	if err != nil {
		return "", err
	}
	if m.Role != RoleManager {
		return "", &needError{status: http.StatusForbidden, need: "approval", reason: fmt.Sprintf("%s is not a manager: a manager must approve", m.Name)}
	}
	return m.ID, nil
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
}

func (a *API) view(ctx context.Context, s session) sessionView {
	return sessionView{CSRFToken: s.csrf, Staff: s.staff, Locked: s.locked, Till: a.till.Self(), Settings: a.settings(ctx)}
}

func (a *API) postLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !decode(w, r, &req) {
		return
	}
	m, err := a.checkPIN(r.Context(), r, req.Staff, req.PIN)
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
	if _, err := a.checkPIN(r.Context(), r, s.staff.ID, req.PIN); err != nil {
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
		Name string `json:"name"`
		Role Role   `json:"role"`
		PIN  string `json:"pin,omitempty"`
	}
	if !decode(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	switch {
	case req.Role != RoleCashier && req.Role != RoleManager:
		a.fail(w, r, badRequest("role %q: want %q or %q", req.Role, RoleCashier, RoleManager))
		return
	case strings.TrimSpace(req.Name) == "":
		a.fail(w, r, badRequest("a staff member needs a name"))
		return
	case id == s.staff.ID && req.Role != RoleManager:
		a.fail(w, r, badRequest("you cannot take away your own manager role"))
		return
	}
	if err := a.till.PutStaff(r.Context(), StaffMember{ID: id, Name: strings.TrimSpace(req.Name), Role: req.Role}, req.PIN); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("staff saved", "staff", id, "role", req.Role, "by", s.staff.ID)
	writeJSON(w, http.StatusOK, StaffMember{ID: id, Name: strings.TrimSpace(req.Name), Role: req.Role})
}
