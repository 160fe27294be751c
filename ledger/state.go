package ledger

import (
	"fmt"
	"sort"
)

// State is the pure ledger state machine of a node: one chain per till,
// the events held above a gap, equivocation evidence, and the folds
// (reports, stock, refundable remainders). It is not safe for concurrent
// use: one goroutine owns it (see node).
//
// Apply takes events in any order and any number of times; the folds see
// each event once, in its till's chain order, so any two States that
// applied the same set of events agree exactly.
type State struct {
	store    StoreID
	chains   map[TillID]*chain
	evidence []Evidence
	fold     *Fold
	clock    HLC // newest event time applied, from any till
}

type chain struct {
	ids     []EventID // ids[i] is the ID of seq i+1
	time    HLC       // time of the head
	pending map[uint64]*Event
	flagged bool
}

// Evidence is proof that a till signed two different events for one
// position in its chain. Both are kept (the node stores the bytes); the
// till is flagged and neither is silently preferred: the first one applied
// stays in the chain.
type Evidence struct {
	Till TillID
	Seq  uint64
	Have EventID // the event in the chain (or held) at Seq
	Got  *Event  // the conflicting event
}

// Result says what Apply did with an event.
type Result struct {
	Applied   []*Event // the event and any held events it released, in chain order
	Held      bool     // above a gap: kept until the gap fills
	Duplicate bool     // already applied or held: nothing changed
}

// NewState returns an empty state for a store's events.
func NewState(store StoreID) *State {
	return &State{store: store, chains: map[TillID]*chain{}, fold: newFold()}
}

// Apply adds a verified event (see Event.Verify and VerifyRun; Apply does
// not check signatures). An event that conflicts with the chain returns
// *Error wrapping ErrEquivocation or ErrWrongPrev and changes nothing but
// the evidence.
func (s *State) Apply(ev *Event) (Result, error) {
	if ev.Store != s.store {
		return Result{}, ev.errorf(ErrWrongStore, "store %s, want %s", ev.Store, s.store)
	}
	if ev.Seq == 0 || ev.ID().IsZero() {
		return Result{}, ev.errorf(ErrMalformed, "event not signed or decoded")
	}
	c := s.chains[ev.Till]
	if c == nil {
		c = &chain{pending: map[uint64]*Event{}}
		s.chains[ev.Till] = c
	}
	head := uint64(len(c.ids))
	switch {
	case ev.Seq <= head:
		if have := c.ids[ev.Seq-1]; have != ev.ID() {
			return Result{}, s.equivocate(c, ev, have)
		}
		return Result{Duplicate: true}, nil
	case ev.Seq > head+1:
		if p := c.pending[ev.Seq]; p != nil {
			if p.ID() != ev.ID() {
				return Result{}, s.equivocate(c, ev, p.ID())
			}
			return Result{Duplicate: true}, nil
		}
		c.pending[ev.Seq] = ev
		return Result{Held: true}, nil
	}
	if err := s.link(c, ev); err != nil {
		return Result{}, err
	}
	res := Result{Applied: []*Event{ev}}
	for {
		next := c.pending[uint64(len(c.ids))+1]
		if next == nil {
			break
		}
		delete(c.pending, next.Seq)
		if err := s.link(c, next); err != nil {
			// The held event forks from the chain we have: evidence is
			// recorded; later held events cannot link either.
			break
		}
		res.Applied = append(res.Applied, next)
	}
	return res, nil
}

// link appends ev, the event at head+1, if its prev is the head.
func (s *State) link(c *chain, ev *Event) error {
	var prev EventID
	if n := len(c.ids); n > 0 {
		prev = c.ids[n-1]
	}
	if ev.Prev != prev {
		c.flagged = true
		s.evidence = append(s.evidence, Evidence{Till: ev.Till, Seq: ev.Seq - 1, Have: prev, Got: ev})
		return ev.errorf(ErrWrongPrev, "prev %s, head %s: the till forked its chain", short(ev.Prev), short(prev))
	}
	c.ids = append(c.ids, ev.ID())
	c.time = ev.Time
	if s.clock.Before(ev.Time) {
		s.clock = ev.Time
	}
	s.fold.apply(ev)
	return nil
}

func (s *State) equivocate(c *chain, ev *Event, have EventID) error {
	c.flagged = true
	s.evidence = append(s.evidence, Evidence{Till: ev.Till, Seq: ev.Seq, Have: have, Got: ev})
	return ev.errorf(ErrEquivocation, "seq %d signed twice: %s and %s", ev.Seq, short(have), short(ev.ID()))
}

// Clock returns the newest event time applied from any till. A till's next
// event time observes it (see NextTime), so an event made after seeing
// another orders after it.
func (s *State) Clock() HLC { return s.clock }

// NextTime returns the time for a till's next event at wall time now
// (Unix ms): after the till's own head and after every event applied,
// except that times more than maxAhead ms beyond now are not followed, so
// one till with a clock hours fast cannot drag the store's clocks along.
func (s *State) NextTime(t TillID, now, maxAhead int64) HLC {
	_, _, last := s.Head(t)
	if obs := s.clock; last.Before(obs) && obs.Wall <= now+maxAhead {
		last = obs
	}
	return last.Next(now)
}

// Store is the store whose events this state holds.
func (s *State) Store() StoreID { return s.store }

// Vector returns the version vector: each till's highest contiguous seq.
func (s *State) Vector() Vector {
	v := make(Vector, len(s.chains))
	for t, c := range s.chains {
		if len(c.ids) > 0 {
			v[t] = uint64(len(c.ids))
		}
	}
	return v
}

// Head returns a till's newest applied seq, its ID and time; zeros if none.
func (s *State) Head(t TillID) (seq uint64, id EventID, time HLC) {
	c := s.chains[t]
	if c == nil || len(c.ids) == 0 {
		return 0, EventID{}, HLC{}
	}
	return uint64(len(c.ids)), c.ids[len(c.ids)-1], c.time
}

// ID returns the ID of a till's event at seq, if applied.
func (s *State) ID(t TillID, seq uint64) (EventID, bool) {
	c := s.chains[t]
	if c == nil || seq == 0 || seq > uint64(len(c.ids)) {
		return EventID{}, false
	}
	return c.ids[seq-1], true
}

// Held returns how many of a till's events wait above a gap, and the lowest
// seq missing below them.
func (s *State) Held(t TillID) (n int, missing uint64) {
	c := s.chains[t]
	if c == nil {
		return 0, 0
	}
	return len(c.pending), uint64(len(c.ids)) + 1
}

// Tills returns every till with an event, sorted.
func (s *State) Tills() []TillID {
	ts := make([]TillID, 0, len(s.chains))
	for t := range s.chains {
		ts = append(ts, t)
	}
	sortTills(ts)
	return ts
}

// Flagged reports whether a till has equivocated or forked.
func (s *State) Flagged(t TillID) bool { c := s.chains[t]; return c != nil && c.flagged }

// Evidence returns the equivocation evidence gathered so far.
func (s *State) Evidence() []Evidence { return s.evidence }

// Fold returns the folds over the applied events. The caller must not
// modify what it returns.
func (s *State) Fold() *Fold { return s.fold }

// Check verifies the state's own invariants; simulators call it after every
// step. A failure is a bug in this package, never bad input.
func (s *State) Check() error {
	n := 0
	for t, c := range s.chains {
		for seq := range c.pending {
			if seq <= uint64(len(c.ids))+1 && !c.flagged {
				return fmt.Errorf("till %s: held seq %d at or below head+1 %d", t.Short(), seq, len(c.ids)+1)
			}
		}
		n += len(c.ids)
	}
	if n != s.fold.events {
		return fmt.Errorf("chains hold %d events, folds saw %d", n, s.fold.events)
	}
	return s.fold.check()
}

// CheckLocal checks the rules a new event of this till must meet against
// what the state holds, before the till signs it: refunds within what
// remains refundable (counting refunds made at every till), voids of known
// and unvoided sales with faithful copies, one open shift at a time. Events
// from peers are not held to these rules, since the peer may have acted on
// less (a partition); folds report the anomalies instead.
func (s *State) CheckLocal(ev *Event) error {
	switch b := ev.Body.(type) {
	case *Refund:
		want, err := s.fold.RefundLines(b.Sale, picks(b.Lines))
		if err != nil {
			return &Error{Till: ev.Till, Seq: ev.Seq, Err: err}
		}
		for i := range want {
			if want[i] != b.Lines[i] {
				return ev.errorf(ErrInvalidBody, "refund line %d is %+v, want %+v", i+1, b.Lines[i], want[i])
			}
		}
		if sale := s.fold.sales[b.Sale]; sale.body.Currency != b.Currency {
			return ev.errorf(ErrInvalidBody, "refund in %s of a sale in %s", b.Currency, sale.body.Currency)
		}
	case *Void:
		want, err := s.fold.VoidOf(b.Sale)
		if err != nil {
			return &Error{Till: ev.Till, Seq: ev.Seq, Err: err}
		}
		if !sameVoid(want, b) {
			return ev.errorf(ErrInvalidBody, "void does not copy its sale faithfully")
		}
	case *ShiftOpen:
		if s.fold.OpenShift(ev.Till) != nil {
			return ev.errorf(ErrShiftState, "a shift is already open")
		}
	case *ShiftClose:
		if s.fold.OpenShift(ev.Till) == nil {
			return ev.errorf(ErrShiftState, "no shift is open")
		}
	}
	return nil
}

func picks(ls []RefundLine) []Pick {
	ps := make([]Pick, len(ls))
	for i, l := range ls {
		ps[i] = Pick{Line: l.Line, Qty: l.Qty}
	}
	return ps
}

func sameVoid(a, b *Void) bool {
	if a.Sale != b.Sale || a.Currency != b.Currency || a.Total != b.Total || a.Cash != b.Cash ||
		len(a.Bands) != len(b.Bands) || len(a.Lines) != len(b.Lines) {
		return false
	}
	for i := range a.Bands {
		if a.Bands[i] != b.Bands[i] {
			return false
		}
	}
	for i := range a.Lines {
		if a.Lines[i] != b.Lines[i] {
			return false
		}
	}
	return true
}

func sortTills(ts []TillID) {
	sort.Slice(ts, func(i, j int) bool { return string(ts[i][:]) < string(ts[j][:]) })
}
