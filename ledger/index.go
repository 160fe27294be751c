package ledger

import (
	"errors"
	"fmt"
)

// Index is where a State finds the events it needs again after applying
// them, so that it need not keep them: the ID at a chain position (a
// duplicate or a conflicting copy), a sale's body (refunds and voids copy
// from it), and the refunds and voids naming a sale (what remains
// refundable). A node's implementation reads its durable store; MemIndex
// keeps them in memory.
//
// The index holds events the caller stored, which may include events the
// State has not applied yet (held above a gap, or applied next); State
// ignores any event above its till's chain head. It must hold every event
// the State has applied, under the till and seq it was applied at, and
// never a second event for one position.
type Index interface {
	// EventID returns the ID of the event stored at a till's seq.
	EventID(t TillID, seq uint64) (EventID, bool, error)
	// Sale returns the stored sale event with this ID.
	Sale(id EventID) (*Event, bool, error)
	// Settlements returns the stored refunds and voids that name a sale,
	// in any order.
	Settlements(sale EventID) ([]*Event, error)
}

// ErrIndex wraps what an Index returned when it could not answer.
var ErrIndex = errors.New("ledger: index lookup")

func indexErr(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrIndex, what, err)
}

// MemIndex is an Index in memory: it keeps every event added to it. The
// zero value is not usable; see NewMemIndex. It is not safe for
// concurrent use.
type MemIndex struct {
	ids    map[TillID]map[uint64]EventID
	sales  map[EventID]*Event
	settle map[EventID][]*Event
	// numbers and seqs map receipt numbers (ReceiptIndex), per till.
	numbers map[TillID]map[uint64]uint64 // seq -> number
	seqs    map[TillID]map[uint64]uint64 // number -> seq
}

// NewMemIndex returns an empty index.
func NewMemIndex() *MemIndex {
	return &MemIndex{ids: map[TillID]map[uint64]EventID{}, sales: map[EventID]*Event{}, settle: map[EventID][]*Event{},
		numbers: map[TillID]map[uint64]uint64{}, seqs: map[TillID]map[uint64]uint64{}}
}

// Add indexes an event. An event for a position already held is ignored:
// the first one stays, as a durable store keeps the first it wrote.
func (m *MemIndex) Add(ev *Event) {
	c := m.ids[ev.Till]
	if c == nil {
		c = map[uint64]EventID{}
		m.ids[ev.Till] = c
	}
	if _, ok := c[ev.Seq]; ok {
		return
	}
	c[ev.Seq] = ev.ID()
	switch b := ev.Body.(type) {
	case *Sale:
		m.sales[ev.ID()] = ev
	case *Refund:
		m.settle[b.Sale] = append(m.settle[b.Sale], ev)
	case *Void:
		m.settle[b.Sale] = append(m.settle[b.Sale], ev)
	}
}

// Len returns how many events the index holds.
func (m *MemIndex) Len() int {
	n := 0
	for _, c := range m.ids {
		n += len(c)
	}
	return n
}

// EventID implements Index.
func (m *MemIndex) EventID(t TillID, seq uint64) (EventID, bool, error) {
	id, ok := m.ids[t][seq]
	return id, ok, nil
}

// Sale implements Index.
func (m *MemIndex) Sale(id EventID) (*Event, bool, error) {
	ev, ok := m.sales[id]
	return ev, ok, nil
}

// Settlements implements Index.
func (m *MemIndex) Settlements(sale EventID) ([]*Event, error) { return m.settle[sale], nil }

// addReceipt records that a till's receipt number n is the event at seq.
// A State that keeps its own MemIndex (NewState) records each number as
// it applies the event.
func (m *MemIndex) addReceipt(t TillID, n, seq uint64) {
	if m.numbers[t] == nil {
		m.numbers[t], m.seqs[t] = map[uint64]uint64{}, map[uint64]uint64{}
	}
	m.numbers[t][seq], m.seqs[t][n] = n, seq
}

// ReceiptNumber implements ReceiptIndex.
func (m *MemIndex) ReceiptNumber(t TillID, seq uint64) (uint64, bool, error) {
	n, ok := m.numbers[t][seq]
	return n, ok, nil
}

// ReceiptSeq implements ReceiptIndex.
func (m *MemIndex) ReceiptSeq(t TillID, n uint64) (uint64, bool, error) {
	seq, ok := m.seqs[t][n]
	return seq, ok, nil
}
