package backoff

import (
	"sync"
	"time"
)

// Rule is how a key backs off. Free checks cost nothing; the check that
// uses the last free one starts a wait of Base, each further check
// doubles it, up to Max. A zero Rule never waits.
type Rule struct {
	Free      int
	Base, Max time.Duration
}

// wait is the wait after the n-th counted check.
func (r Rule) wait(n int) time.Duration {
	if r.Base <= 0 || n < r.Free {
		return 0
	}
	d := r.Base
	for i := r.Free; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// Key names what is counted and the rule it follows.
type Key struct {
	Name string
	Rule Rule
}

// Limiter counts checks per key. The zero value is not usable: use New.
type Limiter struct {
	mu     sync.Mutex
	m      map[string]*entry
	forget time.Duration
	limit  int
}

type entry struct {
	n     int
	until time.Time
	last  time.Time
}

// New returns a Limiter that forgets a key once it has been quiet for
// forget and is not waiting. It keeps at most about limit keys: when
// more are live, the quiet ones are dropped first.
func New(forget time.Duration, limit int) *Limiter {
	return &Limiter{m: map[string]*entry{}, forget: forget, limit: limit}
}

// Ticket is a reserved check. Exactly one of Success, Failure or Cancel
// should follow.
type Ticket struct {
	l    *Limiter
	keys []Key
	prev []time.Time // each key's wait before the reservation
	set  []time.Time // the wait the reservation set
}

// Reserve counts a check against every key if none of them is waiting,
// and returns the ticket. Otherwise it changes nothing and returns how
// long the caller must wait (the longest of the keys' waits).
func (l *Limiter) Reserve(now time.Time, keys ...Key) (*Ticket, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if e := l.live(k.Name, now); e != nil {
			wait = max(wait, e.until.Sub(now))
		}
	}
	if wait > 0 {
		return nil, wait
	}
	if len(l.m) >= l.limit {
		l.prune(now)
	}
	t := &Ticket{l: l, keys: keys, prev: make([]time.Time, len(keys)), set: make([]time.Time, len(keys))}
	for i, k := range keys {
		e := l.m[k.Name]
		if e == nil {
			e = &entry{}
			l.m[k.Name] = e
		}
		t.prev[i] = e.until
		e.n++
		e.last = now
		if d := k.Rule.wait(e.n); d > 0 {
			e.until = now.Add(d)
		}
		t.set[i] = e.until
	}
	return t, 0
}

// live returns name's entry, dropping it if it is forgotten.
func (l *Limiter) live(name string, now time.Time) *entry {
	e := l.m[name]
	if e == nil {
		return nil
	}
	if now.Sub(e.last) > l.forget && !now.Before(e.until) {
		delete(l.m, name)
		return nil
	}
	return e
}

// prune drops forgotten keys, and if that is not enough, keys that are
// not waiting, then the keys with the nearest end of wait.
func (l *Limiter) prune(now time.Time) {
	for name := range l.m {
		l.live(name, now)
	}
	if len(l.m) < l.limit {
		return
	}
	for name, e := range l.m {
		if !now.Before(e.until) {
			delete(l.m, name)
		}
	}
	for name := range l.m {
		if len(l.m) < l.limit*9/10 {
			break
		}
		delete(l.m, name) // map order: arbitrary victims, under a flood
	}
}

// Wait returns how long name must wait before its next check.
func (l *Limiter) Wait(name string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.live(name, now); e != nil {
		return max(e.until.Sub(now), 0)
	}
	return 0
}

// Count returns how many checks are counted against name.
func (l *Limiter) Count(name string, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.live(name, now); e != nil {
		return e.n
	}
	return 0
}

// Failure keeps the check counted.
func (t *Ticket) Failure() {}

// Success forgets the keys named in clear and hands the check back to
// the others: a right PIN clears its (account, client) key but must not
// reset the account's ceiling that other clients' guesses built up.
func (t *Ticket) Success(clear ...string) {
	t.l.mu.Lock()
	defer t.l.mu.Unlock()
	for i, k := range t.keys {
		if contains(clear, k.Name) {
			delete(t.l.m, k.Name)
			continue
		}
		t.refund(i, k)
	}
}

// Cancel hands the check back to every key: it never ran (the request
// was cancelled or the check could not be made).
func (t *Ticket) Cancel() {
	t.l.mu.Lock()
	defer t.l.mu.Unlock()
	for i, k := range t.keys {
		t.refund(i, k)
	}
}

func (t *Ticket) refund(i int, k Key) {
	e := t.l.m[k.Name]
	if e == nil || e.n == 0 {
		return
	}
	e.n--
	if e.until.Equal(t.set[i]) {
		e.until = t.prev[i]
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Wait is the wait the rule sets after the n-th counted check (for a
// limiter kept elsewhere, such as in a database shared by processes).
func (r Rule) Wait(n int) time.Duration { return r.wait(n) }
