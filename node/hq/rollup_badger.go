package hq

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/ledger"
)

// bRollup keys a store's report rollup: r/<store> (JSON Rollup).
const bRollup = 'r'

func (b *Badger) PutRollup(_ context.Context, store ledger.StoreID, r Rollup) error {
	return b.db.Update(func(txn *badger.Txn) error { return setJSON(txn, bkey(bRollup, store[:]), r) })
}

func (b *Badger) Rollup(_ context.Context, store ledger.StoreID) (Rollup, error) {
	var r Rollup
	err := b.db.View(func(txn *badger.Txn) error { return getJSON(txn, bkey(bRollup, store[:]), &r) })
	return r, err
}

func (b *Badger) RangeTill(ctx context.Context, store ledger.StoreID, till ledger.TillID, after uint64, f func(raw []byte) error) error {
	heads, err := b.Heads(ctx, store)
	if err != nil {
		return err
	}
	head := heads[till].Seq
	prefix := bkey(bEvent, store[:], till[:])
	err = b.scan(prefix, bkey(bEvent, store[:], till[:], be64(after+1)), func(k, v []byte) error {
		if binary.BigEndian.Uint64(k[len(prefix):]) > head {
			return errStop // written by an append whose heads did not move
		}
		return f(v)
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return err
}
