package crdt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	ds "github.com/ipfs/go-datastore"
	badger4 "github.com/ipfs/go-ds-badger4"
)

var testSetNS = ds.NewKey("/inventory/crdt/s")

func prioKey(key string) ds.Key { return testSetNS.ChildString("k").ChildString(key).ChildString("p") }
func tombKey(key, block string) ds.Key {
	return testSetNS.ChildString("t").ChildString(key).ChildString(block)
}

func cacheStats(b *bufferedStore) (hits, misses uint64) {
	return b.cache.hits.Load(), b.cache.misses.Load()
}

// A cached "absent" priority is replaced by the write that makes it
// present: at once (the write buffer) and after the flush (the cache
// forgets what a flush wrote).
func TestReadCacheNegativePriorityInvalidatedByWrite(t *testing.T) {
	ctx := t.Context()
	b := newBufferedStore(newRecording()).withReadCache(testSetNS)
	k := prioKey("stock/SKU-1/t1")
	for range 2 {
		if _, err := b.Get(ctx, k); !errors.Is(err, ds.ErrNotFound) {
			t.Fatalf("Get of an absent priority: %v, want ErrNotFound", err)
		}
	}
	if h, m := cacheStats(b); h != 1 || m != 1 {
		t.Fatalf("hits %d, misses %d after two reads of one key, want 1 and 1", h, m)
	}
	if err := b.Put(ctx, k, []byte{7}); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, k); err != nil || len(v) != 1 || v[0] != 7 {
		t.Fatalf("Get after Put (buffered) = %v, %v", v, err)
	}
	if has, err := b.Has(ctx, k); err != nil || !has {
		t.Fatalf("Has after Put (buffered) = %v, %v", has, err)
	}
	if err := b.flush(ctx); err != nil {
		t.Fatal(err)
	}
	_, missesBefore := cacheStats(b)
	for range 2 { // from the cache, which took what the flush wrote
		if v, err := b.Get(ctx, k); err != nil || len(v) != 1 || v[0] != 7 {
			t.Fatalf("Get after the flush = %v, %v", v, err)
		}
	}
	if _, m := cacheStats(b); m != missesBefore {
		t.Errorf("%d reads went to the datastore after the flush; the cache should hold what it wrote", m-missesBefore)
	}
	// And back: a delete through a batch.
	bt, _ := b.Batch(ctx)
	_ = bt.Delete(ctx, k)
	if err := bt.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, k); !errors.Is(err, ds.ErrNotFound) {
		t.Fatalf("Get after a flushed delete: %v, want ErrNotFound", err)
	}
}

// "No tombstone for this key" answers the lookups of every block of the
// key until a tombstone of the key is written, through the buffer.
func TestReadCacheNoTombstoneInvalidatedByTombstone(t *testing.T) {
	ctx := t.Context()
	b := newBufferedStore(newRecording()).withReadCache(testSetNS)
	key := "customer/c1"
	for i := range 3 {
		has, err := b.Has(ctx, tombKey(key, fmt.Sprintf("block%d", i)))
		if err != nil || has {
			t.Fatalf("Has of an absent tombstone = %v, %v", has, err)
		}
	}
	if h, m := cacheStats(b); h != 2 || m != 1 {
		t.Fatalf("hits %d, misses %d after three blocks of one key, want 2 and 1", h, m)
	}
	bt, _ := b.Batch(ctx)
	_ = bt.Put(ctx, tombKey(key, "block1"), nil)
	if err := bt.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if has, _ := b.Has(ctx, tombKey(key, "block1")); !has {
		t.Fatal("a buffered tombstone is not seen")
	}
	if err := b.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if has, _ := b.Has(ctx, tombKey(key, "block1")); !has {
		t.Fatal("a flushed tombstone is not seen: the cache still says the key has none")
	}
	if has, _ := b.Has(ctx, tombKey(key, "block2")); has {
		t.Fatal("another block of the key is reported tombstoned")
	}
	// A key whose name extends another's is its own key.
	if has, _ := b.Has(ctx, tombKey(key+"/x", "block1")); has {
		t.Fatal("a tombstone of customer/c1 counted for customer/c1/x")
	}
}

// blockingStore holds every Get of key after reading it, until released.
type blockingStore struct {
	*recordingStore
	key     ds.Key
	reading chan struct{} // closed when the held Get has read
	release chan struct{}
	once    sync.Once
}

func (s *blockingStore) Get(ctx context.Context, k ds.Key) ([]byte, error) {
	v, err := s.recordingStore.Get(ctx, k)
	if k == s.key {
		s.once.Do(func() {
			close(s.reading)
			<-s.release
		})
	}
	return v, err
}

// A read that went to the datastore before a flush wrote its key, and
// returns after, must not leave its stale answer in the cache.
func TestReadCacheStaleReadRacingAFlushIsNotCached(t *testing.T) {
	ctx := t.Context()
	k := prioKey("stock/SKU-2/t2")
	base := &blockingStore{recordingStore: newRecording(), key: k, reading: make(chan struct{}), release: make(chan struct{})}
	b := newBufferedStore(base).withReadCache(testSetNS)
	done := make(chan error, 1)
	go func() {
		_, err := b.Get(ctx, k)
		done <- err
	}()
	<-base.reading // it read "absent"
	if err := b.Put(ctx, k, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := b.flush(ctx); err != nil {
		t.Fatal(err)
	}
	close(base.release)
	if err := <-done; !errors.Is(err, ds.ErrNotFound) {
		t.Fatalf("the racing read: %v, want its own ErrNotFound", err)
	}
	if v, err := b.Get(ctx, k); err != nil || len(v) != 1 || v[0] != 1 {
		t.Fatalf("Get after the flush = %v, %v: a stale read was cached", v, err)
	}
}

// The cache stays within its bounds however many keys are read.
func TestReadCacheBounded(t *testing.T) {
	ctx := t.Context()
	b := newBufferedStore(newRecording()).withReadCache(testSetNS)
	for i := range 20_000 {
		key := fmt.Sprintf("stock/SKU-%06d/till-with-a-long-name", i)
		if _, err := b.Get(ctx, prioKey(key)); !errors.Is(err, ds.ErrNotFound) {
			t.Fatal(err)
		}
		if has, err := b.Has(ctx, tombKey(key, "bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmkqe5fi")); err != nil || has {
			t.Fatal(has, err)
		}
	}
	c := b.cache
	if c.valBytes > readCacheValueBytes || c.tombSize > readCacheNoTombBytes {
		t.Fatalf("cache holds %d and %d bytes, bounds %d and %d", c.valBytes, c.tombSize, readCacheValueBytes, readCacheNoTombBytes)
	}
	if len(c.vals) == 0 || len(c.noTombs) == 0 {
		t.Fatal("nothing cached")
	}
	t.Logf("%d priorities (%d B) and %d keys without tombstones (%d B) cached", len(c.vals), c.valBytes, len(c.noTombs), c.tombSize)
}

// On Badger the tombstone check seeks the key's prefix directly.
func TestReadCacheOnBadger(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "db")
	d, err := badger4.NewDatastore(dir, BadgerOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Put(ctx, tombKey("customer/c9", "b1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, tombKey("customer/c99", "b1"), nil); err != nil {
		t.Fatal(err)
	}
	b := newBufferedStore(d).withReadCache(testSetNS)
	cases := []struct {
		key, block string
		want       bool
	}{
		{"customer/c9", "b1", true},
		{"customer/c9", "b2", false},
		{"customer/c8", "b1", false},
		{"customer/c8", "b2", false},
		{"customer/c99", "b1", true},
	}
	for _, c := range cases {
		if has, err := b.Has(ctx, tombKey(c.key, c.block)); err != nil || has != c.want {
			t.Errorf("Has tombstone %s/%s = %v, %v; want %v", c.key, c.block, has, err, c.want)
		}
	}
}

// After a failed flush (part of it may have landed) the cache forgets
// the keys it held, and reads go to the datastore again.
func TestReadCacheForgetsAfterAFailedFlush(t *testing.T) {
	ctx := t.Context()
	base := newRecording()
	b := newBufferedStore(base).withReadCache(testSetNS)
	k := prioKey("stock/SKU-3/t1")
	if _, err := b.Get(ctx, k); !errors.Is(err, ds.ErrNotFound) {
		t.Fatal(err)
	}
	_ = b.Put(ctx, k, []byte{3})
	base.failing = true
	if err := b.flush(ctx); err == nil {
		t.Fatal("the flush did not fail")
	}
	base.failing = false
	// The write is still buffered; the cache no longer holds the key.
	b.mu.RLock()
	_, cached := b.cache.vals[k.String()]
	b.mu.RUnlock()
	if cached {
		t.Fatal("the cache kept a key whose flush failed")
	}
	if v, err := b.Get(ctx, k); err != nil || len(v) != 1 || v[0] != 3 {
		t.Fatalf("Get after a failed flush = %v, %v", v, err)
	}
	if err := b.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, k); err != nil || len(v) != 1 || v[0] != 3 {
		t.Fatalf("Get after the retried flush = %v, %v", v, err)
	}
}
