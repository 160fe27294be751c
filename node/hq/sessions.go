package hq

import (
	"context"
	"crypto/sha256"
	"time"
)

// Dashboard sessions live in storage too, so a login made at one HQ
// process holds at every process on the same database (behind a load
// balancer without sticky sessions). Storage keys a session by the
// SHA-256 of its cookie, never the cookie itself: a copy of the database
// gives no usable login. Each process keeps the sessions it has seen in
// memory; a logout at one process ends the session there and in storage,
// and another process that cached it keeps it until it expires or its
// cache entry is dropped (at most sessionCache).

// Session is a dashboard login as storage keeps it.
type Session struct {
	User    string `json:"user"`
	CSRF    string `json:"csrf"`
	Expires int64  `json:"expires"` // Unix ms
}

// sessionCache is how long a process trusts a session it read from
// storage before reading it again (so a logout elsewhere takes effect).
const sessionCache = time.Minute

func sessionKey(token string) []byte {
	k := sha256.Sum256([]byte(token))
	return k[:]
}

// keepSession stores a new login; an error is logged and the login holds
// at this process only.
func (h *HQ) keepSession(ctx context.Context, token string, s *session) {
	if err := h.st.PutSession(ctx, sessionKey(token), Session{User: s.user, CSRF: s.csrf, Expires: s.expires.UnixMilli()}); err != nil {
		h.log.Warn("dashboard session not stored: it holds at this HQ process only", "err", err)
	}
}

// findSession looks a cookie up in storage when this process does not
// hold it (a login at another process). nil if none or expired.
func (h *HQ) findSession(ctx context.Context, token string) *session {
	st, err := h.st.Session(ctx, sessionKey(token))
	if err != nil {
		return nil
	}
	exp := time.UnixMilli(st.Expires)
	if h.cfg.Now().After(exp) {
		return nil
	}
	return &session{user: st.User, csrf: st.CSRF, expires: exp, recheck: h.cfg.Now().Add(sessionCache)}
}

// dropSession ends a session in storage.
func (h *HQ) dropSession(ctx context.Context, token string) {
	if err := h.st.DeleteSession(ctx, sessionKey(token)); err != nil {
		h.log.Warn("dashboard session not removed from storage", "err", err)
	}
}
