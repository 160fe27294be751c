package hq

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/ledger"
)

// bRollup keys a store's rollup head: r/<store> (JSON Rollup);
// bRollupDay its days: Y/<store>/<day> (HQ's day encoding);
// bRollupSpend its over-spend records: P/<store>/<key>; bRollupGen its
// generation: R/<store> (big-endian).
const (
	bRollup      = 'r'
	bRollupDay   = 'Y'
	bRollupSpend = 'P'
	bRollupGen   = 'R'
)

func (b *Badger) PutRollup(_ context.Context, store ledger.StoreID, r Rollup) error {
	return b.db.Update(func(txn *badger.Txn) error { return badgerPutRollup(txn, store, &r) })
}

// badgerPutRollup writes r in txn over generation r.Gen: the head, the
// days given, and with Replace drops the store's other days.
func badgerPutRollup(txn *badger.Txn, store ledger.StoreID, r *Rollup) error {
	gen, err := badgerRollupGen(txn, store)
	if err != nil {
		return err
	}
	if gen != r.Gen {
		return fmt.Errorf("%w: store %s at generation %d, not %d", ErrRollupMoved, store, gen, r.Gen)
	}
	if err := txn.Set(bkey(bRollupGen, store[:]), be64(gen+1)); err != nil {
		return err
	}
	if err := setJSON(txn, bkey(bRollup, store[:]), r); err != nil {
		return err
	}
	if r.Replace {
		keep := map[string]bool{}
		for _, d := range r.Days {
			keep[d.Day] = true
		}
		if err := badgerDropOthers(txn, bkey(bRollupDay, store[:]), keep); err != nil {
			return err
		}
		keep = map[string]bool{}
		for _, sp := range r.Spends {
			keep[sp.Key] = true
		}
		if err := badgerDropOthers(txn, bkey(bRollupSpend, store[:]), keep); err != nil {
			return err
		}
	}
	for _, d := range r.Days {
		if err := txn.Set(bkey(bRollupDay, store[:], []byte(d.Day)), d.Body); err != nil {
			return err
		}
	}
	for _, sp := range r.Spends {
		if err := txn.Set(bkey(bRollupSpend, store[:], []byte(sp.Key)), sp.Body); err != nil {
			return err
		}
	}
	return nil
}

// badgerDropOthers deletes the keys under prefix whose rest keep lacks.
func badgerDropOthers(txn *badger.Txn, prefix []byte, keep map[string]bool) error {
	var drop [][]byte
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	for it.Rewind(); it.Valid(); it.Next() {
		if k := it.Item().Key(); !keep[string(k[len(prefix):])] {
			drop = append(drop, it.Item().KeyCopy(nil))
		}
	}
	it.Close()
	for _, k := range drop {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func badgerRollupGen(txn *badger.Txn, store ledger.StoreID) (uint64, error) {
	it, err := txn.Get(bkey(bRollupGen, store[:]))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil // none stored, or stored before generations were
	}
	if err != nil {
		return 0, err
	}
	var gen uint64
	err = it.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("rollup generation of store %s: %d bytes", store, len(v))
		}
		gen = binary.BigEndian.Uint64(v)
		return nil
	})
	return gen, err
}

// Exclusive says that this process alone has the database open (Badger
// locks its directory): no other HQ process writes to it.
func (b *Badger) Exclusive() bool { return true }

func (b *Badger) RollupGen(_ context.Context, store ledger.StoreID) (uint64, error) {
	var gen uint64
	err := b.db.View(func(txn *badger.Txn) (err error) {
		gen, err = badgerRollupGen(txn, store)
		return err
	})
	return gen, err
}

func (b *Badger) RollupSpend(_ context.Context, store ledger.StoreID, key string) ([]byte, error) {
	var out []byte
	err := b.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(bkey(bRollupSpend, store[:], []byte(key)))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	return out, err
}

func (b *Badger) Rollup(_ context.Context, store ledger.StoreID) (Rollup, error) {
	var r Rollup
	err := b.db.View(func(txn *badger.Txn) error {
		if err := getJSON(txn, bkey(bRollup, store[:]), &r); err != nil {
			return err
		}
		var err error
		if r.Gen, err = badgerRollupGen(txn, store); err != nil {
			return err
		}
		prefix := bkey(bRollupDay, store[:])
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			r.Days = append(r.Days, RollupDay{Day: string(it.Item().Key()[len(prefix):]), Body: v})
		}
		return nil
	})
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
