package hq

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
)

// outboxStorage keeps, per store, the state of the outbox connectors HQ
// runs for it (outbox_run.go): the same records a store keeps in its
// CRDT (cursor, item results, dead letters, fiscal number index), and
// where each connector runs. The embedded Badger storage and PostgreSQL
// implement it; writes are durable before they return.
type outboxStorage interface {
	PutOutboxEntries(ctx context.Context, store ledger.StoreID, entries []crdt.OutboxEntry) error
	// OutboxEntry returns a record, or an error wrapping ErrNotFound.
	OutboxEntry(ctx context.Context, store ledger.StoreID, connector, kind, id string) ([]byte, error)
	OutboxEntries(ctx context.Context, store ledger.StoreID, connector, kind string) (map[string][]byte, error)
}

var (
	_ outboxStorage = (*Badger)(nil)
	_ outboxStorage = (*Postgres)(nil)
)

// bOutbox keys an outbox record in the embedded storage:
// O<store><connector>\x00<kind>\x00<id>.
const bOutbox = 'O'

func outboxKey(store ledger.StoreID, parts ...string) []byte {
	k := bkey(bOutbox, store[:])
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

func (b *Badger) PutOutboxEntries(_ context.Context, store ledger.StoreID, entries []crdt.OutboxEntry) error {
	return b.db.Update(func(txn *badger.Txn) error {
		for _, e := range entries {
			if err := txn.Set(outboxKey(store, e.Connector, e.Kind, e.ID), e.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *Badger) OutboxEntry(_ context.Context, store ledger.StoreID, connector, kind, id string) ([]byte, error) {
	var v []byte
	err := b.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(outboxKey(store, connector, kind, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("outbox %s/%s/%s: %w", connector, kind, id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	return v, err
}

func (b *Badger) OutboxEntries(_ context.Context, store ledger.StoreID, connector, kind string) (map[string][]byte, error) {
	prefix := append(outboxKey(store, connector, kind), 0)
	out := map[string][]byte{}
	err := b.scan(prefix, nil, func(k, v []byte) error {
		id := k[len(prefix):]
		if bytes.IndexByte(id, 0) < 0 {
			out[string(id)] = v
		}
		return nil
	})
	return out, err
}

// outboxSchema is the PostgreSQL table of outbox records.
const outboxSchema = `
CREATE TABLE IF NOT EXISTS hq_outbox (
	store     bytea NOT NULL,
	connector text  NOT NULL,
	kind      text  NOT NULL,
	id        text  NOT NULL,
	value     bytea NOT NULL,
	PRIMARY KEY (store, connector, kind, id)
);
`

func (p *Postgres) PutOutboxEntries(ctx context.Context, store ledger.StoreID, entries []crdt.OutboxEntry) error {
	return p.inTx(ctx, func(tx *sql.Tx) error {
		for _, e := range entries {
			_, err := tx.ExecContext(ctx, `INSERT INTO hq_outbox (store, connector, kind, id, value) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (store, connector, kind, id) DO UPDATE SET value = EXCLUDED.value`,
				store[:], e.Connector, e.Kind, e.ID, e.Value)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (p *Postgres) OutboxEntry(ctx context.Context, store ledger.StoreID, connector, kind, id string) ([]byte, error) {
	var v []byte
	err := p.db.QueryRowContext(ctx, `SELECT value FROM hq_outbox WHERE store = $1 AND connector = $2 AND kind = $3 AND id = $4`,
		store[:], connector, kind, id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("outbox %s/%s/%s: %w", connector, kind, id, ErrNotFound)
	}
	return v, err
}

func (p *Postgres) OutboxEntries(ctx context.Context, store ledger.StoreID, connector, kind string) (map[string][]byte, error) {
	out := map[string][]byte{}
	var id string
	var v []byte
	err := p.each(ctx, `SELECT id, value FROM hq_outbox WHERE store = $1 AND connector = $2 AND kind = $3`,
		[]any{store[:], connector, kind}, []any{&id, &v}, func() error { out[id] = append([]byte(nil), v...); return nil })
	return out, err
}
