// Package outboxtest has in-memory stand-ins for the outbox's ledger and
// replicated store, for tests and benchmarks: one MemStore shared by two
// Outboxes is a store whose CRDT replicates instantly.
package outboxtest

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// MemStore is the outbox's Store in memory. Fail, when set, makes every
// write fail (a till that died: nothing it had not written lands).
type MemStore struct {
	mu     sync.Mutex
	m      map[string][]byte
	Writes atomic.Int64 // PutOutbox calls that landed
	Fail   atomic.Bool
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{m: map[string][]byte{}} }

func key(c, k, id string) string { return c + "/" + k + "/" + id }

// PutOutbox stores entries at once.
func (s *MemStore) PutOutbox(ctx context.Context, entries []crdt.OutboxEntry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err) // as the CRDT: no write under an ended context
	}
	if s.Fail.Load() {
		return fmt.Errorf("memstore: %w", crdt.ErrClosed)
	}
	if len(entries) > 256 {
		return fmt.Errorf("memstore: %d entries: %w", len(entries), crdt.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		s.m[key(e.Connector, e.Kind, e.ID)] = append([]byte(nil), e.Value...)
	}
	s.Writes.Add(1)
	return nil
}

// OutboxGet returns a record or crdt.ErrNotFound.
func (s *MemStore) OutboxGet(_ context.Context, c, k, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key(c, k, id)]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key(c, k, id), crdt.ErrNotFound)
	}
	return v, nil
}

// OutboxList returns a connector's records of a kind.
func (s *MemStore) OutboxList(_ context.Context, c, k string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	p := c + "/" + k + "/"
	for key, v := range s.m {
		if id, ok := strings.CutPrefix(key, p); ok {
			out[id] = v
		}
	}
	return out, nil
}

// Snapshot copies every record.
func (s *MemStore) Snapshot() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m)
}

// MemLedger is the merged ledger of a store in memory.
type MemLedger struct {
	mu     sync.Mutex
	chains map[ledger.TillID][]*ledger.Event
	Tills  []*ledgertest.Till
	number map[ledger.TillID]uint32
}

// NewMemLedger returns a ledger of n tills numbered 1..n.
func NewMemLedger(n int) *MemLedger {
	l := &MemLedger{chains: map[ledger.TillID][]*ledger.Event{}, number: map[ledger.TillID]uint32{}}
	store := ledger.StoreID{1}
	for i := 1; i <= n; i++ {
		t := ledgertest.NewTill(store, byte(i), uint32(i))
		l.Tills = append(l.Tills, t)
		l.number[t.ID] = uint32(i)
	}
	return l
}

// Append signs body as till i's (0-based) next event at wall time now.
func (l *MemLedger) Append(i int, body ledger.Body, now int64) *ledger.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.Tills[i]
	ev, err := t.Next(body, now, fmt.Sprintf("k-%d-%d", i, t.Seq+1))
	if err != nil {
		panic(err) // tests pass valid bodies
	}
	l.chains[t.ID] = append(l.chains[t.ID], ev)
	return ev
}

// Vector returns each till's head.
func (l *MemLedger) Vector() ledger.Vector {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := ledger.Vector{}
	for t, c := range l.chains {
		v[t] = uint64(len(c))
	}
	return v
}

// Range calls f with a till's events from seq from.
func (l *MemLedger) Range(till ledger.TillID, from uint64, f func(*ledger.Event) bool) error {
	l.mu.Lock()
	c := l.chains[till]
	l.mu.Unlock()
	for i := from; i >= 1 && i <= uint64(len(c)); i++ {
		if !f(c[i-1]) {
			return nil
		}
	}
	return nil
}

// Number is a till's number.
func (l *MemLedger) Number(id ledger.TillID) uint32 { return l.number[id] }

// Events returns every event, till by till.
func (l *MemLedger) Events() []*ledger.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*ledger.Event
	for _, t := range l.Tills {
		out = append(out, l.chains[t.ID]...)
	}
	return out
}

// Sign signs body as till i's (0-based) next event at wall time now
// without adding it: an event made at another till that has not reached
// this one yet. Add it later, in the till's order.
func (l *MemLedger) Sign(i int, body ledger.Body, now int64) *ledger.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.Tills[i]
	ev, err := t.Next(body, now, fmt.Sprintf("k-%d-%d", i, t.Seq+1))
	if err != nil {
		panic(err) // tests pass valid bodies
	}
	return ev
}

// Add adds an event Sign made: it reaches this till.
func (l *MemLedger) Add(ev *ledger.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.chains[ev.Till] = append(l.chains[ev.Till], ev)
}
