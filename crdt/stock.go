package crdt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	ds "github.com/ipfs/go-datastore"
)

// ApplyMovements adds this till's stock movements for one ledger event
// (seq is its ledger seq) in ONE CRDT batch: a sale of five lines is one
// DAG node. deltas maps SKU to the change in units (negative for a sale).
//
// Each SKU's slot becomes {max(slot seq, seq), total + delta}. A SKU whose
// slot already carries seq is skipped: that is a retry of the same event.
// Exactly-once beyond that is the ledger's job; on start the node repairs
// its slots from its ledger with SetSlot. If any SKU is invalid or a total
// would overflow, nothing is written.
func (s *Store) ApplyMovements(ctx context.Context, seq uint64, deltas map[string]int64) error {
	build, err := s.movements(seq, deltas)
	if err != nil || build == nil {
		return err
	}
	return s.write(ctx, build)
}

// ApplyMovementsRun applies moves[i] with seq firstSeq+i, as that many
// ApplyMovements calls would (one DAG node each), but syncs the
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

// movements returns the writer's build for ApplyMovements, or nil if
// there is nothing to write.
func (s *Store) movements(seq uint64, deltas map[string]int64) (func() ([]op, func(), error), error) {
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
	if len(skus) == 0 {
		return nil, nil
	}
	slices.Sort(skus)
	return func() ([]op, func(), error) {
		ops := make([]op, 0, len(skus))
		next := make(map[string]Slot, len(skus))
		for _, sku := range skus {
			cur, err := s.ownSlot(sku)
			if err != nil {
				return nil, nil, fmt.Errorf("apply movements seq %d: %w", seq, err)
			}
			if cur.Seq == seq {
				continue
			}
			d := deltas[sku]
			if (d > 0 && cur.Total > math.MaxInt64-d) || (d < 0 && cur.Total < math.MinInt64-d) {
				return nil, nil, fmt.Errorf("apply movements seq %d: sku %s: total %d%+d overflows: %w", seq, sku, cur.Total, d, ErrInvalid)
			}
			sl := Slot{Seq: max(cur.Seq, seq), Total: cur.Total + d}
			ops = append(ops, op{key: s.ownKey(sku), value: encodeSlot(sl)})
			next[sku] = sl
		}
		return ops, func() {
			for sku, sl := range next {
				s.own[sku] = sl
			}
		}, nil
	}, nil
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
