package crdt

import (
	"context"
	"errors"
	"fmt"
	"sync"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// mergeBufferMax is the number of buffered keys at which a writer flushes
// the buffer itself instead of waiting for the next flush.
const mergeBufferMax = 4096

// bufferedStore sits between go-ds-crdt and the datastore and turns its
// many small commits into few large ones. go-ds-crdt commits a batch, a
// "processed" marker and a heads update per merged DAG node, each a Badger
// transaction of its own with point reads around it; a catch-up of 5,000
// one-sale nodes paid that 5,000 times. Here every write (batches
// atomically) lands in an in-memory buffer that reads see at once, and the
// buffer goes to the datastore in one write batch when:
//
//   - Sync is called (the Store syncs after every local write before it
//     is acknowledged, and every SyncInterval while it merges);
//   - a walk of announced heads ends (endWalk), before its records go;
//   - a query runs (queries read the datastore alone);
//   - it holds mergeBufferMax keys.
//
// Crash safety: the buffer is written in the order keys were first
// written, each with its latest value, in one Badger write batch, whose
// transactions commit in order; a crash loses a suffix of the write-ahead
// log. A key is therefore never durable after a key first written later:
// a node's "processed" marker, written after the node's merged values,
// is never durable without them (they may be durable with a newer
// value, as when a crash fell between a later node's merge and its
// marker, which go-ds-crdt's merge tolerates: merging is idempotent).
// A power loss can drop the last SyncInterval of merged remote state, as
// before (see BadgerOptions).
//
// Only go-ds-crdt's namespace goes through it: the blockstore and the
// Store's own records (epoch, open marker, walks) use the datastore
// directly, so a write there that must follow merged state (endWalk)
// flushes first.
type bufferedStore struct {
	base ds.Batching

	flushMu sync.Mutex // one flush at a time

	mu       sync.RWMutex
	pending  *bufGen // written since the last flush began
	flushing *bufGen // being written to base; still read from here
}

// bufGen is one generation of buffered writes.
type bufGen struct {
	m     map[string]bufEntry
	order []ds.Key // keys in the order first written
}

type bufEntry struct {
	value   []byte
	deleted bool
}

func newBufGen() *bufGen { return &bufGen{m: make(map[string]bufEntry)} }

func (g *bufGen) set(k ds.Key, e bufEntry) {
	s := k.String()
	if _, ok := g.m[s]; !ok {
		g.order = append(g.order, k)
	}
	g.m[s] = e
}

var _ ds.Batching = (*bufferedStore)(nil)

func newBufferedStore(base ds.Batching) *bufferedStore {
	return &bufferedStore{base: base, pending: newBufGen()}
}

// lookup returns the buffered entry for k, if any.
func (b *bufferedStore) lookup(k ds.Key) (bufEntry, bool) {
	s := k.String()
	b.mu.RLock()
	defer b.mu.RUnlock()
	if e, ok := b.pending.m[s]; ok {
		return e, true
	}
	if b.flushing != nil {
		if e, ok := b.flushing.m[s]; ok {
			return e, true
		}
	}
	return bufEntry{}, false
}

func (b *bufferedStore) Get(ctx context.Context, k ds.Key) ([]byte, error) {
	if e, ok := b.lookup(k); ok {
		if e.deleted {
			return nil, ds.ErrNotFound
		}
		return e.value, nil
	}
	return b.base.Get(ctx, k)
}

func (b *bufferedStore) Has(ctx context.Context, k ds.Key) (bool, error) {
	if e, ok := b.lookup(k); ok {
		return !e.deleted, nil
	}
	return b.base.Has(ctx, k)
}

func (b *bufferedStore) GetSize(ctx context.Context, k ds.Key) (int, error) {
	if e, ok := b.lookup(k); ok {
		if e.deleted {
			return -1, ds.ErrNotFound
		}
		return len(e.value), nil
	}
	return b.base.GetSize(ctx, k)
}

// Query flushes the buffer and queries the datastore.
func (b *bufferedStore) Query(ctx context.Context, q query.Query) (query.Results, error) {
	if err := b.flush(ctx); err != nil {
		return nil, err
	}
	return b.base.Query(ctx, q)
}

func (b *bufferedStore) Put(ctx context.Context, k ds.Key, v []byte) error {
	return b.apply(ctx, []bufOp{{key: k, e: bufEntry{value: bytesClone(v)}}})
}

func (b *bufferedStore) Delete(ctx context.Context, k ds.Key) error {
	return b.apply(ctx, []bufOp{{key: k, e: bufEntry{deleted: true}}})
}

type bufOp struct {
	key ds.Key
	e   bufEntry
}

// apply buffers ops at once (readers see all or none of them) and
// flushes if the buffer is full.
func (b *bufferedStore) apply(ctx context.Context, ops []bufOp) error {
	b.mu.Lock()
	for _, o := range ops {
		b.pending.set(o.key, o.e)
	}
	full := len(b.pending.order) >= mergeBufferMax
	b.mu.Unlock()
	if full {
		return b.flush(ctx)
	}
	return nil
}

// Sync flushes the buffer and syncs the datastore.
func (b *bufferedStore) Sync(ctx context.Context, prefix ds.Key) error {
	if err := b.flush(ctx); err != nil {
		return err
	}
	return b.base.Sync(ctx, prefix)
}

// Close flushes the buffer; it does not close the datastore.
func (b *bufferedStore) Close() error {
	return b.flush(context.Background())
}

// flush writes everything buffered to the datastore in one write batch,
// in the order keys were first written. Writes made meanwhile go to a
// new generation; reads see the one being written until it is done.
func (b *bufferedStore) flush(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	g := b.pending
	if len(g.order) == 0 {
		b.mu.Unlock()
		return nil
	}
	b.flushing, b.pending = g, newBufGen()
	b.mu.Unlock()

	err := b.write(ctx, g)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushing = nil
	if err != nil {
		// Keep the writes: back under the newer ones, and first in
		// order, for the next flush.
		newer := b.pending
		b.pending = g
		for _, k := range newer.order {
			b.pending.set(k, newer.m[k.String()])
		}
		return fmt.Errorf("flush merged inventory writes (%d keys): %w", len(g.order), err)
	}
	return nil
}

func (b *bufferedStore) write(ctx context.Context, g *bufGen) error {
	// Not the caller's context: a cancelled caller must not leave half a
	// batch behind (the writes stay buffered and the next flush retries).
	ctx = context.WithoutCancel(ctx)
	batch, err := b.base.Batch(ctx)
	if err != nil {
		return err
	}
	for _, k := range g.order {
		e := g.m[k.String()]
		if e.deleted {
			err = batch.Delete(ctx, k)
		} else {
			err = batch.Put(ctx, k, e.value)
		}
		if err != nil {
			return errors.Join(err, cancelBatch(batch))
		}
	}
	return batch.Commit(ctx)
}

// cancelBatch discards a batch that will not be committed, where the
// datastore supports it (go-ds-badger4 does).
func cancelBatch(b ds.Batch) error {
	if c, ok := b.(interface{ Cancel() error }); ok {
		return c.Cancel()
	}
	return nil
}

// Batch returns a batch whose writes are buffered at once on Commit.
func (b *bufferedStore) Batch(context.Context) (ds.Batch, error) {
	return &bufBatch{b: b}, nil
}

type bufBatch struct {
	b   *bufferedStore
	ops []bufOp
}

func (x *bufBatch) Put(_ context.Context, k ds.Key, v []byte) error {
	x.ops = append(x.ops, bufOp{key: k, e: bufEntry{value: bytesClone(v)}})
	return nil
}

func (x *bufBatch) Delete(_ context.Context, k ds.Key) error {
	x.ops = append(x.ops, bufOp{key: k, e: bufEntry{deleted: true}})
	return nil
}

func (x *bufBatch) Commit(ctx context.Context) error {
	ops := x.ops
	x.ops = nil
	return x.b.apply(ctx, ops)
}

// bytesClone copies v, never returning nil: the caller may reuse v, and a
// nil value is a present key (go-ds-crdt's markers are empty values).
func bytesClone(v []byte) []byte { return append([]byte{}, v...) }
