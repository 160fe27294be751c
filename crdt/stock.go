package crdt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	ds "github.com/ipfs/go-datastore"
)

// QueueMovements queues this till's stock movements for one ledger event
// (seq is its ledger seq) and returns without waiting for them to be
// written. deltas maps SKU to the change in units (negative for a sale).
// The writer commits the movements queued since its last node as ONE DAG
// node, at most one per Config.MoveInterval: a till selling fast sends
// its peers one node per interval instead of one per sale, so a peer
// cut off for an hour has a few thousand nodes to merge, not one per
// sale (docs/ARCHITECTURE.md, "Stock movements in one node per
// interval"). Reads of stock (Stock, AllStock, OwnSlot) wait for the
// queue first, so this till reads its own movements at once.
//
// Each SKU's slot becomes {max(slot seq, seq), total + delta}. A SKU whose
// slot already carries seq is skipped: that is a retry of the same event.
// Exactly-once beyond that is the ledger's job; on start the node repairs
// its slots from its ledger with SetSlot, which also mends movements
// still queued when the Store closed (Close drops them). An invalid SKU or seq is
// refused here; a total that would overflow drops that event's
// movements, logged (nothing of them is written).
func (s *Store) QueueMovements(seq uint64, deltas map[string]int64) error {
	return s.queueMoves(seq, deltas, nil)
}

func (s *Store) queueMoves(seq uint64, deltas map[string]int64, done chan error) error {
	skus, err := moveSKUs(seq, deltas)
	if err != nil {
		return err
	}
	if len(skus) == 0 {
		if done != nil {
			done <- nil
		}
		return nil
	}
	s.movesMu.Lock()
	// Counted before the writer can take it: settleMoves must never
	// see 0 while a movement is queued.
	s.movesHeld.Add(1)
	s.moves = append(s.moves, queuedMove{seq: seq, deltas: deltas, skus: skus, done: done})
	s.movesMu.Unlock()
	select {
	case s.movesKick <- struct{}{}:
	default:
	}
	return nil
}

// ApplyMovements is QueueMovements, then waits until they are written
// (with any queued before them) and returns what refused them.
func (s *Store) ApplyMovements(ctx context.Context, seq uint64, deltas map[string]int64) error {
	done := make(chan error, 1)
	if err := s.queueMoves(seq, deltas, done); err != nil {
		return err
	}
	if err := s.settleMoves(ctx); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// queuedMove is one event's movements waiting for the writer.
type queuedMove struct {
	seq    uint64
	deltas map[string]int64
	skus   []string   // sorted, non-zero deltas only
	done   chan error // ApplyMovements waits here; nil when queued alone
}

// settleMoves returns once every movement queued before it was called is
// written (or failed, logged).
func (s *Store) settleMoves(ctx context.Context) error {
	if s.movesHeld.Load() == 0 {
		return nil
	}
	// The writer commits the queue before every request.
	return s.write(ctx, func() ([]op, func(), error) { return nil, nil, nil })
}

// commitMoves writes the queued movements as one DAG node; writer
// goroutine only. It reports whether the queue held any.
func (s *Store) commitMoves() bool {
	s.movesMu.Lock()
	moves := s.moves
	s.moves = nil
	s.movesMu.Unlock()
	if len(moves) == 0 {
		return false
	}
	defer s.movesHeld.Add(-int64(len(moves)))
	next := make(map[string]Slot)
	errs := make([]error, len(moves))
	for i, m := range moves {
		upd, err := s.moveSlots(m, next)
		if err != nil {
			errs[i] = err
			s.log.Warn("stock movements not written; repaired from the ledger at the next start", "seq", m.seq, "err", err)
			continue
		}
		maps.Copy(next, upd)
	}
	if len(next) > 0 {
		ops := s.slotOps(next)
		err := s.commit(writeReq{build: func() ([]op, func(), error) {
			return ops, func() { maps.Copy(s.own, next) }, nil
		}})
		if err != nil {
			s.log.Warn("stock movements not written; repaired from the ledger at the next start",
				"events", len(moves), "first_seq", moves[0].seq, "err", err)
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	for i, m := range moves {
		if m.done != nil {
			m.done <- errs[i]
		}
	}
	return true
}

// dropMoves empties the queue when the Store closes; ApplyMovements
// callers waiting on it get ErrClosed.
func (s *Store) dropMoves() {
	s.movesMu.Lock()
	moves := s.moves
	s.moves = nil
	s.movesMu.Unlock()
	if len(moves) == 0 {
		return
	}
	s.movesHeld.Add(-int64(len(moves)))
	s.log.Info("stock movements left for the repair at the next start", "events", len(moves), "first_seq", moves[0].seq)
	for _, m := range moves {
		if m.done != nil {
			m.done <- ErrClosed
		}
	}
}

// moveSKUs checks one event's movements and returns its SKUs with a
// non-zero delta, sorted.
func moveSKUs(seq uint64, deltas map[string]int64) ([]string, error) {
	if seq == 0 {
		return nil, fmt.Errorf("apply movements: seq 0: %w", ErrInvalid)
	}
	skus := make([]string, 0, len(deltas))
	for sku, d := range deltas {
		if err := validID(sku); err != nil {
			return nil, fmt.Errorf("apply movements seq %d: sku: %w", seq, err)
		}
		if d != 0 {
			skus = append(skus, sku)
		}
	}
	slices.Sort(skus)
	return skus, nil
}

// ApplyMovementsRun applies moves[i] with seq firstSeq+i as one DAG node
// each (as a till selling one sale at a time writes them), syncing the
// datastore once at the end instead of after each: it builds a long
// history quickly (`tillmesh bench history --dag`). A crash before it
// returns may lose any of them.
func (s *Store) ApplyMovementsRun(ctx context.Context, firstSeq uint64, moves []map[string]int64) error {
	for i, deltas := range moves {
		build, err := s.movements(firstSeq+uint64(i), deltas)
		if err != nil {
			return err
		}
		if build == nil {
			continue
		}
		if err := s.writeReq(ctx, writeReq{build: build, noSync: true, done: make(chan error, 1)}); err != nil {
			return err
		}
	}
	if err := s.buf.Sync(ctx, ds.NewKey("/")); err != nil {
		return fmt.Errorf("sync movements: %w", err)
	}
	return nil
}

// movements returns the writer's build of one event's movements as one
// node (ApplyMovementsRun), or nil if there is nothing to write.
func (s *Store) movements(seq uint64, deltas map[string]int64) (func() ([]op, func(), error), error) {
	skus, err := moveSKUs(seq, deltas)
	if err != nil || len(skus) == 0 {
		return nil, err
	}
	return func() ([]op, func(), error) {
		next, err := s.moveSlots(queuedMove{seq: seq, deltas: deltas, skus: skus}, nil)
		if err != nil {
			return nil, nil, err
		}
		return s.slotOps(next), func() { maps.Copy(s.own, next) }, nil
	}, nil
}

// slotOps writes this till's slots, by SKU in order.
func (s *Store) slotOps(slots map[string]Slot) []op {
	ops := make([]op, 0, len(slots))
	for _, sku := range slices.Sorted(maps.Keys(slots)) {
		ops = append(ops, op{key: s.ownKey(sku), value: encodeSlot(slots[sku])})
	}
	return ops
}

// moveSlots returns the slots one event's movements give, on top of the
// slots in base (this till's stored slots for SKUs base lacks): each
// SKU's slot becomes {max(slot seq, seq), total + delta}, a SKU whose
// slot already carries seq is left out (a retry), and a total that would
// overflow refuses the whole event. Writer goroutine only.
func (s *Store) moveSlots(m queuedMove, base map[string]Slot) (map[string]Slot, error) {
	upd := make(map[string]Slot, len(m.skus))
	for _, sku := range m.skus {
		cur, ok := base[sku]
		if !ok {
			var err error
			if cur, err = s.ownSlot(sku); err != nil {
				return nil, fmt.Errorf("apply movements seq %d: %w", m.seq, err)
			}
		}
		if cur.Seq == m.seq {
			continue
		}
		d := m.deltas[sku]
		if (d > 0 && cur.Total > math.MaxInt64-d) || (d < 0 && cur.Total < math.MinInt64-d) {
			return nil, fmt.Errorf("apply movements seq %d: sku %s: total %d%+d overflows: %w", m.seq, sku, cur.Total, d, ErrInvalid)
		}
		upd[sku] = Slot{Seq: max(cur.Seq, m.seq), Total: cur.Total + d}
	}
	return upd, nil
}

// SetSlot sets this till's slot for sku to {seq, total}: the total of
// every movement in this till's ledger for sku in this epoch, as
// recomputed on start. It writes only if the slot differs.
func (s *Store) SetSlot(ctx context.Context, sku string, seq uint64, total int64) error {
	if err := validID(sku); err != nil {
		return fmt.Errorf("set slot: %w", err)
	}
	if seq == 0 {
		return fmt.Errorf("set slot %s: seq 0: %w", sku, ErrInvalid)
	}
	want := Slot{Seq: seq, Total: total}
	return s.write(ctx, func() ([]op, func(), error) {
		if cur, err := s.ownSlot(sku); err == nil && cur == want {
			return nil, nil, nil
		}
		return []op{{key: s.ownKey(sku), value: encodeSlot(want)}}, func() { s.own[sku] = want }, nil
	})
}

func (s *Store) ownKey(sku string) ds.Key { return stockKey(sku, s.cfg.TillID, s.epoch) }

// ownSlot returns this till's slot for sku; writer goroutine only.
func (s *Store) ownSlot(sku string) (Slot, error) {
	if sl, ok := s.own[sku]; ok {
		return sl, nil
	}
	v, err := s.crdt.Get(context.Background(), s.ownKey(sku))
	if errors.Is(err, ds.ErrNotFound) {
		return Slot{}, nil
	}
	if err != nil {
		return Slot{}, fmt.Errorf("read own slot %s: %w", sku, err)
	}
	sl, err := decodeSlot(v)
	if err != nil {
		return Slot{}, fmt.Errorf("own slot %s: %w", sku, err)
	}
	s.own[sku] = sl
	return sl, nil
}

// Stock returns the stock of sku: the sum over every till and epoch, and
// the sum per till. Slots that do not decode are skipped and logged.
func (s *Store) Stock(ctx context.Context, sku string) (total int64, perTill map[string]int64, err error) {
	if err := validID(sku); err != nil {
		return 0, nil, fmt.Errorf("stock: %w", err)
	}
	if err := s.settleMoves(ctx); err != nil {
		return 0, nil, fmt.Errorf("stock %s: %w", sku, err)
	}
	entries, err := s.list(ctx, prefixKey(prefixStock)+"/"+sku)
	if err != nil {
		return 0, nil, err
	}
	perTill = make(map[string]int64)
	for _, e := range entries {
		k, till, sl, ok := s.slotOf(e)
		if !ok || k != sku {
			continue
		}
		perTill[till] += sl.Total
		total += sl.Total
	}
	return total, perTill, nil
}

// AllStock returns the stock of every SKU that has a slot.
func (s *Store) AllStock(ctx context.Context) (map[string]int64, error) {
	if err := s.settleMoves(ctx); err != nil {
		return nil, fmt.Errorf("stock: %w", err)
	}
	entries, err := s.list(ctx, prefixKey(prefixStock))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64)
	for _, e := range entries {
		if sku, _, sl, ok := s.slotOf(e); ok {
			out[sku] += sl.Total
		}
	}
	return out, nil
}

func (s *Store) slotOf(e entry) (sku, till string, sl Slot, ok bool) {
	sku, till, _, ok = parseStockKey(e.key)
	if !ok {
		s.log.Warn("skip malformed stock key", "key", e.key)
		return "", "", Slot{}, false
	}
	sl, err := decodeSlot(e.value)
	if err != nil {
		s.log.Warn("skip corrupt stock slot", "key", e.key, "err", err)
		return "", "", Slot{}, false
	}
	return sku, till, sl, true
}
