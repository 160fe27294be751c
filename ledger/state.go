package ledger

import (
	"errors"
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
//
// What a State keeps grows with tills, SKUs, shifts and hours, not with
// events: each chain's head, the running folds, and the events held above
// a gap. Anything it needs of an older event (a sale a refund names, the
// ID at a chain position) it asks its Index for.
type State struct {
	store    StoreID
	chains   map[TillID]*chain
	evidence []Evidence
	fold     *Fold
	clock    HLC       // newest event time applied, from any till
	idx      Index     // where applied events are found again
	mem      *MemIndex // set when the State indexes for itself (NewState)
}

type chain struct {
	head    uint64  // highest contiguous seq applied
	id      EventID // ID of the head
	time    HLC     // time of the head
	pending map[uint64]*Event
	flagged bool
	// receipts counts the receipt events (IsReceiptKind) up to head: the
	// number of the newest.
	receipts uint64
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
	Applied []*Event // the event and any held events it released, in chain order
	// Numbers holds the receipt number of each event in Applied (same
	// index), 0 for an event that takes none (see IsReceiptKind).
	Numbers   []uint64
	Held      bool // above a gap: kept until the gap fills
	Duplicate bool // already applied or held: nothing changed
}

// NewState returns an empty state for a store's events that keeps every
// applied event in memory (a MemIndex of its own): for tests, simulators
// and short-lived folds. A node's State uses NewStateWith and a durable
// index.
func NewState(store StoreID) *State {
	m := NewMemIndex()
	s := NewStateWith(store, m)
	s.mem = m
	return s
}

// NewStateWith returns an empty state whose applied events are found in
// idx. The caller stores each event in idx before applying it.
func NewStateWith(store StoreID, idx Index) *State {
	s := &State{store: store, chains: map[TillID]*chain{}, idx: idx}
	s.fold = newFold(s)
	return s
}

// Apply adds a verified event (see Event.Verify and VerifyRun; Apply does
// not check signatures). An event that conflicts with the chain returns
// *Error wrapping ErrEquivocation or ErrWrongPrev and changes nothing but
// the evidence. An error wrapping ErrIndex means the index could not
// answer: nothing changed, and the event may be applied again later.
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
	switch {
	case ev.Seq <= c.head:
		have := c.id
		if ev.Seq < c.head {
			id, ok, err := s.idx.EventID(ev.Till, ev.Seq)
			if err != nil {
				return Result{}, indexErr(fmt.Sprintf("event %s/%d", ev.Till.Short(), ev.Seq), err)
			}
			if !ok {
				return Result{}, indexErr(fmt.Sprintf("event %s/%d", ev.Till.Short(), ev.Seq), errMissing)
			}
			have = id
		}
		if have != ev.ID() {
			return Result{}, s.equivocate(c, ev, have)
		}
		return Result{Duplicate: true}, nil
	case ev.Seq > c.head+1:
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
	res := Result{Applied: []*Event{ev}, Numbers: []uint64{s.number(c, ev)}}
	for {
		next := c.pending[c.head+1]
		if next == nil {
			break
		}
		if err := s.link(c, next); err != nil {
			// The held event forks from the chain we have (evidence is
			// recorded; later held events cannot link either), or the
			// index could not answer (it stays held for a later try).
			if !errors.Is(err, ErrIndex) {
				delete(c.pending, next.Seq)
			}
			break
		}
		delete(c.pending, next.Seq)
		res.Applied = append(res.Applied, next)
		res.Numbers = append(res.Numbers, s.number(c, next))
	}
	return res, nil
}

var errMissing = errors.New("not in the index")

// number returns the receipt number ev took when linked as c's head.
func (s *State) number(c *chain, ev *Event) uint64 {
	if !IsReceiptKind(ev.Kind()) {
		return 0
	}
	return c.receipts
}

// link appends ev, the event at head+1, if its prev is the head.
func (s *State) link(c *chain, ev *Event) error {
	if ev.Prev != c.id {
		c.flagged = true
		s.evidence = append(s.evidence, Evidence{Till: ev.Till, Seq: ev.Seq - 1, Have: c.id, Got: ev})
		return ev.errorf(ErrWrongPrev, "prev %s, head %s: the till forked its chain", short(ev.Prev), short(c.id))
	}
	pre, err := s.fold.prepare(ev)
	if err != nil {
		return err
	}
	if s.mem != nil {
		s.mem.Add(ev)
	}
	c.head, c.id, c.time = ev.Seq, ev.ID(), ev.Time
	if IsReceiptKind(ev.Kind()) {
		c.receipts++
		if s.mem != nil {
			s.mem.addReceipt(ev.Till, c.receipts, ev.Seq)
		}
	}
	if s.clock.Before(ev.Time) {
		s.clock = ev.Time
	}
	s.fold.apply(ev, pre)
	return nil
}

// applied reports whether a till's event at seq is in its chain.
func (s *State) applied(t TillID, seq uint64) bool {
	c := s.chains[t]
	return c != nil && seq >= 1 && seq <= c.head
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
		if c.head > 0 {
			v[t] = c.head
		}
	}
	return v
}

// Head returns a till's newest applied seq, its ID and time; zeros if none.
func (s *State) Head(t TillID) (seq uint64, id EventID, time HLC) {
	c := s.chains[t]
	if c == nil || c.head == 0 {
		return 0, EventID{}, HLC{}
	}
	return c.head, c.id, c.time
}

// ID returns the ID of a till's event at seq, if applied. Below the head
// it asks the index; an index that cannot answer reads as not applied.
func (s *State) ID(t TillID, seq uint64) (EventID, bool) {
	c := s.chains[t]
	if c == nil || seq == 0 || seq > c.head {
		return EventID{}, false
	}
	if seq == c.head {
		return c.id, true
	}
	id, ok, err := s.idx.EventID(t, seq)
	return id, ok && err == nil
}

// Held returns how many of a till's events wait above a gap, and the lowest
// seq missing below them.
func (s *State) Held(t TillID) (n int, missing uint64) {
	c := s.chains[t]
	if c == nil {
		return 0, 0
	}
	return len(c.pending), c.head + 1
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
			if seq <= c.head+1 && !c.flagged {
				return fmt.Errorf("till %s: held seq %d at or below head+1 %d", t.Short(), seq, c.head+1)
			}
		}
		if c.receipts > c.head {
			return fmt.Errorf("till %s: %d receipts in %d events", t.Short(), c.receipts, c.head)
		}
		n += int(c.head)
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
		if b.Grant != nil {
			if err := s.fold.checkGranted(b); err != nil {
				return &Error{Till: ev.Till, Seq: ev.Seq, Err: err}
			}
			break
		}
		want, err := s.fold.RefundLines(b.Sale, picks(b.Lines))
		if err != nil {
			return &Error{Till: ev.Till, Seq: ev.Seq, Err: err}
		}
		for i := range want {
			if want[i] != b.Lines[i] {
				return ev.errorf(ErrInvalidBody, "refund line %d is %+v, want %+v", i+1, b.Lines[i], want[i])
			}
		}
		sale, _, err := s.fold.sale(b.Sale)
		if err != nil {
			return &Error{Till: ev.Till, Seq: ev.Seq, Err: err}
		}
		if sb := sale.Body.(*Sale); sb.Currency != b.Currency {
			return ev.errorf(ErrInvalidBody, "refund in %s of a sale in %s", b.Currency, sb.Currency)
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
	case *TransferOut, *TransferIn:
		return s.checkTransferLocal(ev)
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
	if a.Sale != b.Sale || a.Currency != b.Currency || a.Total != b.Total || a.Cash != b.Cash || a.Rounding != b.Rounding ||
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
