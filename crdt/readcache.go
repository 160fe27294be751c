package crdt

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	badger4 "github.com/ipfs/go-ds-badger4"
)

// The read cache's bounds, in bytes of keys and values plus a fixed
// overhead per entry (readCacheEntryOverhead, about what a Go map entry
// and its string headers cost). At most 384 KiB in all.
const (
	readCacheValueBytes    = 256 << 10 // priorities and values
	readCacheNoTombBytes   = 128 << 10 // keys known to have no tombstone
	readCacheEntryOverhead = 64
)

// readCache answers the point reads go-ds-crdt's merge makes of every
// element from memory where it can (BENCHMARKS.md, "Catch-up, second
// pass"). Merging one element, go-ds-crdt's set asks whether the element
// is tombstoned (Has <set>/t/<key>/<block>: a key never seen before,
// almost always absent: a negative lookup through every Badger level)
// and reads the key's priority (<set>/k/<key>/p) and, on a tie, its
// value (<set>/k/<key>/v); a catch-up merges thousands of elements of a
// few hundred keys. It holds:
//
//   - vals: results of reads of <set>/k/<key>/{p,v}, present or absent;
//   - noTombs: keys with no tombstone at all in the datastore, so a
//     tombstone lookup of any block of such a key is answered "absent".
//
// Both are bounded (readCacheValueBytes, readCacheNoTombBytes); when full,
// an arbitrary entry goes. Correctness rests on three rules, all in
// bufferedStore: the write buffer is read before the cache (a write is
// seen at once); when a flush ends, every key it wrote is updated (wrote:
// a priority or value is cached as written; a tombstone drops its key's
// noTombs entry; after a failed flush all of them are forgotten); and
// a read that went to the datastore fills the cache only if no flush
// ended meanwhile (bufferedStore.flushes). Nothing else writes go-ds-crdt's
// set namespace once the Store is open (a snapshot is taken before).
//
// All fields but the counters are guarded by bufferedStore.mu (reads under
// its read lock, changes under its lock).
type readCache struct {
	keysPrefix  string // <set>/k/
	tombsPrefix string // <set>/t/

	vals     map[string]cachedVal
	valBytes int
	noTombs  map[string]struct{}
	tombSize int

	hits, misses atomic.Uint64
}

type cachedVal struct {
	value []byte
	found bool
}

func newReadCache(setNS ds.Key) *readCache {
	return &readCache{
		keysPrefix:  setNS.ChildString("k").String() + "/",
		tombsPrefix: setNS.ChildString("t").String() + "/",
		vals:        make(map[string]cachedVal),
		noTombs:     make(map[string]struct{}),
	}
}

// isValueKey reports whether s is a key's priority or value.
func (c *readCache) isValueKey(s string) bool {
	return strings.HasPrefix(s, c.keysPrefix) && (strings.HasSuffix(s, "/p") || strings.HasSuffix(s, "/v"))
}

// tombOf returns the key whose tombstone s is (<set>/t/<key>/<block>).
func (c *readCache) tombOf(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, c.tombsPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return "", false
	}
	return rest[:i], true
}

func (c *readCache) putVal(s string, v []byte, found bool) {
	if old, ok := c.vals[s]; ok {
		c.valBytes -= len(s) + len(old.value) + readCacheEntryOverhead
	}
	size := len(s) + len(v) + readCacheEntryOverhead
	if size > readCacheValueBytes/16 {
		delete(c.vals, s)
		return // not worth a sixteenth of the cache
	}
	for k, e := range c.vals {
		if c.valBytes+size <= readCacheValueBytes {
			break
		}
		delete(c.vals, k)
		c.valBytes -= len(k) + len(e.value) + readCacheEntryOverhead
	}
	c.vals[s] = cachedVal{value: v, found: found}
	c.valBytes += size
}

func (c *readCache) putNoTomb(key string) {
	if _, ok := c.noTombs[key]; ok {
		return
	}
	size := len(key) + readCacheEntryOverhead
	for k := range c.noTombs {
		if c.tombSize+size <= readCacheNoTombBytes {
			break
		}
		delete(c.noTombs, k)
		c.tombSize -= len(k) + readCacheEntryOverhead
	}
	c.noTombs[key] = struct{}{}
	c.tombSize += size
}

// forget drops what the cache knows of s, which was just written.
func (c *readCache) forget(s string) {
	if e, ok := c.vals[s]; ok {
		delete(c.vals, s)
		c.valBytes -= len(s) + len(e.value) + readCacheEntryOverhead
	}
	if key, ok := c.tombOf(s); ok {
		if _, ok := c.noTombs[key]; ok {
			delete(c.noTombs, key)
			c.tombSize -= len(key) + readCacheEntryOverhead
		}
	}
}

// wrote records that s now holds e in the datastore: a priority or
// value is cached as written (the next merge of the key reads it from
// memory), anything else is forgotten.
func (c *readCache) wrote(s string, e bufEntry) {
	if c.isValueKey(s) {
		c.putVal(s, e.value, !e.deleted)
		return
	}
	c.forget(s)
}

// cachedGet reads a priority or value key through the cache. ok is false
// for any other key (the caller reads it as before).
func (b *bufferedStore) cachedGet(ctx context.Context, k ds.Key) (v []byte, found, ok bool, err error) {
	s := k.String()
	c := b.cache
	if !c.isValueKey(s) {
		return nil, false, false, nil
	}
	b.mu.RLock()
	if e, in := b.lookupLocked(s); in {
		b.mu.RUnlock()
		return e.value, !e.deleted, true, nil
	}
	if e, in := c.vals[s]; in {
		b.mu.RUnlock()
		c.hits.Add(1)
		return e.value, e.found, true, nil
	}
	gen := b.flushes
	b.mu.RUnlock()
	c.misses.Add(1)
	v, err = b.base.Get(ctx, k)
	switch {
	case err == nil:
		found = true
	case errors.Is(err, ds.ErrNotFound):
		v, err = nil, nil
	default:
		return nil, false, true, err
	}
	b.mu.Lock()
	if b.flushes == gen {
		c.putVal(s, v, found)
	}
	b.mu.Unlock()
	return v, found, true, nil
}

// tombHas answers whether a tombstone key is present. ok is false for
// any other key.
func (b *bufferedStore) tombHas(ctx context.Context, k ds.Key) (found, ok bool, err error) {
	s := k.String()
	c := b.cache
	key, isTomb := c.tombOf(s)
	if !isTomb {
		return false, false, nil
	}
	b.mu.RLock()
	if e, in := b.lookupLocked(s); in {
		b.mu.RUnlock()
		return !e.deleted, true, nil
	}
	if _, none := c.noTombs[key]; none {
		b.mu.RUnlock()
		c.hits.Add(1)
		return false, true, nil
	}
	gen := b.flushes
	b.mu.RUnlock()
	c.misses.Add(1)
	some, err := b.anyUnder(ctx, c.tombsPrefix+key+"/")
	if err != nil {
		return false, true, err
	}
	if some {
		found, err := b.base.Has(ctx, k)
		return found, true, err
	}
	b.mu.Lock()
	if b.flushes == gen {
		c.putNoTomb(key)
	}
	b.mu.Unlock()
	return false, true, nil
}

// anyUnder reports whether base holds a key beginning with prefix (which
// ends in "/").
func (b *bufferedStore) anyUnder(ctx context.Context, prefix string) (bool, error) {
	if bd, ok := b.base.(*badger4.Datastore); ok {
		// One seek, no goroutine (go-ds-badger4's Query starts one).
		txn := bd.DB.NewTransaction(false)
		defer txn.Discard()
		p := []byte(prefix)
		opts := badger.IteratorOptions{Prefix: p}
		it := txn.NewIterator(opts)
		defer it.Close()
		it.Seek(p)
		return it.ValidForPrefix(p), nil
	}
	res, err := b.base.Query(ctx, query.Query{Prefix: strings.TrimSuffix(prefix, "/"), KeysOnly: true, Limit: 1})
	if err != nil {
		return false, err
	}
	defer res.Close()
	r, ok := res.NextSync()
	if !ok {
		return false, nil
	}
	return r.Error == nil, r.Error
}
