package crdt

import (
	"context"
	"errors"
	"fmt"

	ds "github.com/ipfs/go-datastore"
)

// OwnSlot returns the total in this till's slot of the current epoch for
// sku, as stored (0 if there is none). A till uses it on start to repair
// its slot from its ledger when other epochs of the same till also count.
func (s *Store) OwnSlot(ctx context.Context, sku string) (int64, error) {
	if err := validID(sku); err != nil {
		return 0, fmt.Errorf("own slot: %w", err)
	}
	if err := s.settleMoves(ctx); err != nil {
		return 0, fmt.Errorf("own slot %s: %w", sku, err)
	}
	v, err := s.crdt.Get(ctx, s.ownKey(sku))
	if errors.Is(err, ds.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read own slot %s: %w", sku, err)
	}
	sl, err := decodeSlot(v)
	if err != nil {
		return 0, fmt.Errorf("own slot %s: %w", sku, err)
	}
	return sl.Total, nil
}

// republishBatch bounds the slots in one republished DAG node.
const republishBatch = 256

// republishOwnSlots writes every stock slot of this till's current epoch
// again, unchanged, in new DAG nodes. It runs at start after an unclean
// shutdown. go-ds-crdt stores a local write's block and merges its values
// before it moves the heads and announces the block: a till killed in
// between keeps the new value while no head leads to its block, so no
// peer ever receives it, and the node's repair of its slots from the
// ledger finds nothing to change (found by the testnet: kill -9 mid-sale
// left a peer's view of the till's slot one sale behind). Writing the
// slots again puts their values in nodes the heads do lead to.
func (s *Store) republishOwnSlots(ctx context.Context) (int, error) {
	entries, err := s.list(ctx, prefixKey(prefixStock))
	if err != nil {
		return 0, err
	}
	var skus []string
	for _, e := range entries {
		sku, till, epoch, ok := parseStockKey(e.key)
		if ok && till == s.cfg.TillID && epoch == s.epoch {
			skus = append(skus, sku)
		}
	}
	for start := 0; start < len(skus); start += republishBatch {
		part := skus[start:min(start+republishBatch, len(skus))]
		err := s.write(ctx, func() ([]op, func(), error) {
			ops := make([]op, 0, len(part))
			for _, sku := range part {
				sl, err := s.ownSlot(sku)
				if err != nil {
					return nil, nil, fmt.Errorf("republish: %w", err)
				}
				ops = append(ops, op{key: s.ownKey(sku), value: encodeSlot(sl)})
			}
			return ops, nil, nil
		})
		if err != nil {
			return start, fmt.Errorf("republish own stock slots: %w", err)
		}
	}
	return len(skus), nil
}
