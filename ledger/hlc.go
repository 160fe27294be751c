package ledger

import "fmt"

// HLC is a hybrid logical clock timestamp: Wall is Unix milliseconds and
// Logical orders events within one millisecond. HLCs of one till only grow,
// whatever its wall clock does, and an event's HLC is above every HLC its
// till had seen when it was made. The zero HLC is before everything.
type HLC struct {
	_       struct{} `cbor:",toarray"`
	Wall    int64
	Logical uint32
}

// String is "wall.logical".
func (h HLC) String() string { return fmt.Sprintf("%d.%d", h.Wall, h.Logical) }

// Before reports whether h orders before o.
func (h HLC) Before(o HLC) bool {
	return h.Wall < o.Wall || (h.Wall == o.Wall && h.Logical < o.Logical)
}

// After reports whether h orders after o.
func (h HLC) After(o HLC) bool { return o.Before(h) }

// Next returns the timestamp for a local event made at wall time now (Unix
// ms) after last, the newest timestamp this till has seen.
func (h HLC) Next(now int64) HLC {
	if now > h.Wall {
		return HLC{Wall: now}
	}
	return HLC{Wall: h.Wall, Logical: h.Logical + 1}
}

// Observe merges a timestamp received from a peer into h, the newest
// timestamp this till has seen, at wall time now. It returns the new
// newest timestamp. A peer clock far in the future would drag ours along:
// the caller compares remote against now and refuses or warns first (see
// node's skew check).
func (h HLC) Observe(remote HLC, now int64) HLC {
	m := h
	if remote.Wall > m.Wall || (remote.Wall == m.Wall && remote.Logical > m.Logical) {
		m = remote
	}
	if now > m.Wall {
		return HLC{Wall: now}
	}
	return m
}
