package outbox

import (
	"math"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// Heard is what this till last heard from another till of the store: at
// a ledger exchange the till's clock said Clock and then (read after it)
// its own chain stood at Seq. Every event that till makes after reading
// its clock carries a time at or above Clock (its events' times never
// fall behind its clock), and every one before is within Seq, so once
// this till holds the other's chain up to Seq, it holds every event of
// that till made before Clock. Read in the other order, an event
// recorded between the readings would be dated before Clock and above
// Seq, and an item after it would go out first.
type Heard struct {
	Till  ledger.TillID
	Seq   uint64
	Clock time.Time
}

// holdPoll is how often a connector whose next item waits for the
// watermark looks again.
const holdPoll = 100 * time.Millisecond

// marks returns, for each till Config.Heard lists, the time before which
// this till holds every event of that till: the later of the newest of
// its events here and the clock it last showed (if every event it had
// then is here). nil when Heard is unset: no watermark.
func (o *Outbox) marks(heads ledger.Vector) map[ledger.TillID]ledger.HLC {
	if o.cfg.Heard == nil {
		return nil
	}
	out := map[ledger.TillID]ledger.HLC{}
	for _, h := range o.cfg.Heard() {
		var m ledger.HLC
		if head := heads[h.Till]; head > 0 {
			o.cfg.Ledger.Range(h.Till, head, func(ev *ledger.Event) bool { m = ev.Time; return false })
		}
		if heads[h.Till] >= h.Seq && !h.Clock.IsZero() {
			// An event of h's still to come is at Clock or later.
			if c := (ledger.HLC{Wall: h.Clock.UnixMilli() - 1, Logical: math.MaxUint32}); c.After(m) {
				m = c
			}
		}
		if old, ok := out[h.Till]; !ok || m.After(old) {
			out[h.Till] = m
		}
	}
	return out
}

// waitFor reports whether an item at time at waits for the watermark,
// and for which till: a till whose mark is before it, unless that till
// has held the watermark back for Hold already (a clock that lags, a
// till gone quiet): it is then passed over, and its events that come
// later go out late.
func (o *Outbox) waitFor(k *conn, marks map[ledger.TillID]ledger.HLC, at ledger.HLC, now time.Time) (ledger.TillID, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var lowest ledger.TillID
	found := false
	for t, m := range marks {
		if !m.Before(at) {
			continue
		}
		since, ok := k.lag[t]
		if !ok {
			k.lag[t] = now
			since = now
		}
		if now.Sub(since) >= o.cfg.Hold {
			continue
		}
		if !found || marks[t].Before(marks[lowest]) {
			lowest, found = t, true
		}
	}
	return lowest, found
}

// settleLag forgets the wait of each till that caught up with the oldest
// item (first) or is no longer heard, and notes whether an item waits.
func (o *Outbox) settleLag(k *conn, marks map[ledger.TillID]ledger.HLC, first ledger.HLC, holding bool, waiting ledger.TillID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for t := range k.lag {
		if m, ok := marks[t]; !ok || !m.Before(first) {
			delete(k.lag, t)
		}
	}
	k.holding = holding
	k.status.WaitingFor = 0
	if holding {
		k.status.WaitingFor = o.cfg.Number(waiting)
	}
}
