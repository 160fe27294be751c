package hq

import (
	"context"
	"time"

	"github.com/tillmesh/tillmesh/ui/backoff"
)

// Guards against guessing and replays, shared by every HQ process on one
// database: the replay cache of signed relay requests and the dashboard's
// login back-off. Storage that implements SharedGuards (PostgreSQL) keeps
// them, so a request replayed at another process is refused and a
// guesser gains nothing by spreading guesses over processes; otherwise
// (Badger: one process) they are kept in memory.

// SharedGuards is storage that keeps the replay cache and the login
// back-off for every HQ process using it.
type SharedGuards interface {
	// SeeSignature records a signed request's signature until expiry
	// (Unix ms) and reports whether it was new.
	SeeSignature(ctx context.Context, sig []byte, expiry, now int64) (bool, error)
	// ReserveLogin is backoff.Limiter.Reserve over every process: it
	// counts a check against every key if none is waiting and returns
	// the ticket, else how long to wait. Keys quiet for forget and not
	// waiting are forgotten.
	ReserveLogin(ctx context.Context, now time.Time, forget time.Duration, keys ...backoff.Key) (LoginTicket, time.Duration, error)
}

// LoginTicket is a reserved login check; exactly one of its methods
// follows (backoff.Ticket's meaning). *backoff.Ticket is one.
type LoginTicket interface {
	Success(clear ...string)
	Failure()
	Cancel()
}

// loginForget is how long a quiet back-off key is kept.
const loginForget = 30 * time.Minute

// seeSignature records a relay request's signature; false: seen before.
// A storage error refuses the request (it cannot be told from a replay).
func (h *HQ) seeSignature(ctx context.Context, sig []byte, expiry, now int64) (bool, error) {
	if g, ok := h.st.(SharedGuards); ok {
		return g.SeeSignature(ctx, sig, expiry, now)
	}
	return h.seen.add(string(sig), expiry, now), nil
}

// reserveLogin counts a login check against keys (see sessions).
func (h *HQ) reserveLogin(ctx context.Context, now time.Time, keys ...backoff.Key) (LoginTicket, time.Duration, error) {
	if g, ok := h.st.(SharedGuards); ok {
		return g.ReserveLogin(ctx, now, loginForget, keys...)
	}
	t, wait := h.sessions.limiter.Reserve(now, keys...)
	if t == nil {
		return nil, wait, nil
	}
	return t, 0, nil
}
