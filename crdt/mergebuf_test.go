package crdt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
)

// recordingStore is a datastore whose batches record the keys they
// write, in order, and can be made to fail.
type recordingStore struct {
	ds.Batching
	mu      sync.Mutex
	written [][]string // keys of each committed batch, in order
	failing bool       // Commit fails
}

func (r *recordingStore) Batch(context.Context) (ds.Batch, error) {
	return &recordingBatch{r: r}, nil
}

type recordingBatch struct {
	r   *recordingStore
	ops []bufOp
}

func (b *recordingBatch) Put(_ context.Context, k ds.Key, v []byte) error {
	b.ops = append(b.ops, bufOp{key: k, e: bufEntry{value: v}})
	return nil
}

func (b *recordingBatch) Delete(_ context.Context, k ds.Key) error {
	b.ops = append(b.ops, bufOp{key: k, e: bufEntry{deleted: true}})
	return nil
}

func (b *recordingBatch) Commit(ctx context.Context) error {
	b.r.mu.Lock()
	defer b.r.mu.Unlock()
	if b.r.failing {
		return errors.New("disk full")
	}
	var keys []string
	for _, o := range b.ops {
		keys = append(keys, o.key.String())
		var err error
		if o.e.deleted {
			err = b.r.Batching.Delete(ctx, o.key)
		} else {
			err = b.r.Batching.Put(ctx, o.key, o.e.value)
		}
		if err != nil {
			return err
		}
	}
	b.r.written = append(b.r.written, keys)
	return nil
}

func newRecording() *recordingStore {
	return &recordingStore{Batching: dssync.MutexWrap(ds.NewMapDatastore())}
}

func TestBufferedStoreReadsItsWritesAndFlushesInFirstWriteOrder(t *testing.T) {
	ctx := t.Context()
	base := newRecording()
	if err := base.Batching.Put(ctx, ds.NewKey("/old"), []byte("o")); err != nil {
		t.Fatal(err)
	}
	b := newBufferedStore(base)

	// A node's values, then its marker, then a later node rewrites a
	// value and deletes the old key.
	val := []byte("v1")
	batch, _ := b.Batch(ctx)
	_ = batch.Put(ctx, ds.NewKey("/k/prio"), val)
	_ = batch.Put(ctx, ds.NewKey("/k/value"), []byte("x1"))
	val[1] = '9' // the caller reuses its buffer
	if ok, _ := b.Has(ctx, ds.NewKey("/k/prio")); ok {
		t.Fatal("a batch's write is visible before Commit")
	}
	if err := batch.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, ds.NewKey("/processed/n1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, ds.NewKey("/k/prio"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, ds.NewKey("/old")); err != nil {
		t.Fatal(err)
	}

	for k, want := range map[string]string{"/k/prio": "v2", "/k/value": "x1", "/processed/n1": ""} {
		got, err := b.Get(ctx, ds.NewKey(k))
		if err != nil || string(got) != want {
			t.Errorf("Get %s = %q, %v; want %q", k, got, err, want)
		}
		if ok, err := b.Has(ctx, ds.NewKey(k)); !ok || err != nil {
			t.Errorf("Has %s = %v, %v", k, ok, err)
		}
	}
	if _, err := b.Get(ctx, ds.NewKey("/old")); !errors.Is(err, ds.ErrNotFound) {
		t.Errorf("Get of a buffered delete: %v, want not found", err)
	}
	if n, err := b.GetSize(ctx, ds.NewKey("/k/value")); n != 2 || err != nil {
		t.Errorf("GetSize = %d, %v", n, err)
	}
	if len(base.written) != 0 {
		t.Fatalf("written before any flush: %v", base.written)
	}

	// A query flushes first and so sees everything.
	res, err := b.Query(ctx, query.Query{Prefix: "/k", KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := res.Rest()
	if len(all) != 2 {
		t.Errorf("query found %d keys under /k, want 2", len(all))
	}
	want := []string{"/k/prio", "/k/value", "/processed/n1", "/old"}
	if len(base.written) != 1 || !slices.Equal(base.written[0], want) {
		t.Fatalf("flushed %v, want one batch %v (first-write order)", base.written, want)
	}
	if v, _ := base.Batching.Get(ctx, ds.NewKey("/k/prio")); string(v) != "v2" {
		t.Errorf("flushed /k/prio = %q, want the latest v2", v)
	}
	if ok, _ := base.Batching.Has(ctx, ds.NewKey("/old")); ok {
		t.Error("the buffered delete did not reach the datastore")
	}
	if err := b.Sync(ctx, ds.NewKey("/")); err != nil || len(base.written) != 1 {
		t.Errorf("Sync with nothing buffered: %v, %d batches", err, len(base.written))
	}
}

func TestBufferedStoreKeepsWritesWhenAFlushFails(t *testing.T) {
	ctx := t.Context()
	base := newRecording()
	b := newBufferedStore(base)
	_ = b.Put(ctx, ds.NewKey("/a"), []byte("1"))
	_ = b.Put(ctx, ds.NewKey("/b"), []byte("1"))
	base.failing = true
	if err := b.Sync(ctx, ds.NewKey("/")); err == nil {
		t.Fatal("Sync succeeded although the datastore refused the batch")
	}
	_ = b.Put(ctx, ds.NewKey("/a"), []byte("2")) // after the failure
	if v, err := b.Get(ctx, ds.NewKey("/b")); err != nil || string(v) != "1" {
		t.Fatalf("after a failed flush Get /b = %q, %v", v, err)
	}
	base.failing = false
	if err := b.Sync(ctx, ds.NewKey("/")); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/a", "/b"}; len(base.written) != 1 || !slices.Equal(base.written[0], want) {
		t.Fatalf("flushed %v, want %v", base.written, want)
	}
	if v, _ := base.Batching.Get(ctx, ds.NewKey("/a")); string(v) != "2" {
		t.Errorf("/a = %q, want the newer 2", v)
	}
}

// Writers, readers and flushes racing: every write is readable from the
// moment it returns, and all of them reach the datastore.
func TestBufferedStoreConcurrentWritesReadsAndFlushes(t *testing.T) {
	ctx := t.Context()
	base := newRecording()
	b := newBufferedStore(base)
	const writers, each = 4, 300
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				k := ds.NewKey(fmt.Sprintf("/w%d/%d", w, i))
				if err := b.Put(ctx, k, []byte{byte(i)}); err != nil {
					errs <- err
					return
				}
				if v, err := b.Get(ctx, k); err != nil || len(v) != 1 || v[0] != byte(i) {
					errs <- fmt.Errorf("read back %s: %v %v", k, v, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		for range 50 {
			if err := b.Sync(ctx, ds.NewKey("/")); err != nil {
				errs <- err
				return
			}
		}
	}()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := base.Batching.Query(ctx, query.Query{KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := res.Rest()
	if len(all) != writers*each {
		t.Fatalf("datastore holds %d keys, want %d", len(all), writers*each)
	}
}
