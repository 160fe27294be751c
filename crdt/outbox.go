package crdt

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ds "github.com/ipfs/go-datastore"
)

// OutboxEntry is one record of the store's outbox state (node/outbox):
// a connector's cursor, an item's result, a dead letter. Connector, Kind
// and ID are key segments ([A-Za-z0-9._-], 1-128 characters); Value is
// opaque to crdt. The key is /outbox/<connector>/<kind>/<id>.
type OutboxEntry struct {
	Connector, Kind, ID string
	Value               []byte
}

// maxOutboxValue bounds one outbox record; results are a few hundred bytes.
const maxOutboxValue = 16 << 10

// maxOutboxBatch bounds one PutOutbox call, well inside go-ds-crdt's 1 MB
// delta.
const maxOutboxBatch = 256

func outboxKey(connector, kind, id string) ds.Key {
	return ds.RawKey("/" + prefixOutbox + "/" + connector + "/" + kind + "/" + id)
}

func (e OutboxEntry) check() error {
	for _, s := range []string{e.Connector, e.Kind, e.ID} {
		if err := validID(s); err != nil {
			return fmt.Errorf("outbox key %s/%s/%s: %w", e.Connector, e.Kind, e.ID, err)
		}
	}
	if len(e.Value) == 0 || len(e.Value) > maxOutboxValue {
		return fmt.Errorf("outbox %s/%s/%s: value of %d bytes not in 1..%d: %w", e.Connector, e.Kind, e.ID, len(e.Value), maxOutboxValue, ErrInvalid)
	}
	return nil
}

// PutOutbox writes up to 256 outbox records in one batch (one DAG node):
// the outbox records its results in groups, so a day of receipts adds
// few nodes. It checks every entry first and writes nothing if one is
// invalid.
func (s *Store) PutOutbox(ctx context.Context, entries []OutboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if len(entries) > maxOutboxBatch {
		return fmt.Errorf("outbox batch of %d records, at most %d: %w", len(entries), maxOutboxBatch, ErrInvalid)
	}
	ops := make([]op, 0, len(entries))
	for _, e := range entries {
		if err := e.check(); err != nil {
			return err
		}
		ops = append(ops, op{key: outboxKey(e.Connector, e.Kind, e.ID), value: slices.Clone(e.Value)})
	}
	return s.write(ctx, func() ([]op, func(), error) { return ops, nil, nil })
}

// OutboxGet returns one outbox record, or an error wrapping ErrNotFound.
func (s *Store) OutboxGet(ctx context.Context, connector, kind, id string) ([]byte, error) {
	e := OutboxEntry{Connector: connector, Kind: kind, ID: id, Value: []byte{0}}
	if err := e.check(); err != nil {
		return nil, err
	}
	return s.get(ctx, outboxKey(connector, kind, id))
}

// OutboxList returns every record of a connector's kind, by ID.
func (s *Store) OutboxList(ctx context.Context, connector, kind string) (map[string][]byte, error) {
	e := OutboxEntry{Connector: connector, Kind: kind, ID: "x", Value: []byte{0}}
	if err := e.check(); err != nil {
		return nil, err
	}
	prefix := "/" + prefixOutbox + "/" + connector + "/" + kind + "/"
	entries, err := s.list(ctx, strings.TrimSuffix(prefix, "/"))
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(entries))
	for _, en := range entries {
		if id, ok := strings.CutPrefix(en.key, prefix); ok && validID(id) == nil {
			out[id] = en.value
		}
	}
	return out, nil
}
