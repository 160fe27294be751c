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
