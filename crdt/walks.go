package crdt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// Interrupted walks.
//
// go-ds-crdt v0.6.8 merges an announced head by walking its branch top
// down: it merges a node, marks it processed, then fetches and merges the
// children, and only when the walk reaches a node it already holds does
// the new head replace the old one. A walk cut short (the process stops,
// a merge or fetch fails) therefore leaves the upper nodes marked
// processed, the lower ones not merged, and the heads unchanged. Nothing
// in go-ds-crdt finds such a branch again: a re-announcement of the head
// is skipped as known, and its repair walks down from the heads, which do
// not lead there. Reproduced here: a till killed mid-walk kept a peer's
// stock slot one sale behind for good.
//
// The Store keeps, outside the CRDT namespace, a record of the heads whose
// walk is under way (walkNS/<cid>), written before go-ds-crdt gets the
// announcement and removed once the walk ended cleanly. A failed walk is
// retried once at run time: the head's processed mark is removed and the
// announcement handed over again, so go-ds-crdt merges the head again
// (idempotent) and, finding its children processed, makes it a head;
// then a repair walks down from it and merges the rest. A record still
// there at the next start means the walk may have been cut short: before
// go-ds-crdt opens, the store is marked dirty, so the repair at start
// walks the DAG again, and each such head whose block is here and which
// the current heads do not lead to is written into go-ds-crdt's heads, so
// that the repair walks it too (merging it first if it is not marked
// processed).

const (
	dirtyMessage = "marking datastore as dirty" // go-ds-crdt v0.6.8's MarkDirty log line
)

// go-ds-crdt v0.6.8 layout under its namespace.
func processedKey(crdtNS ds.Key, c cid.Cid) ds.Key {
	return crdtNS.ChildString("b").Child(dshelp.MultihashToDsKey(c.Hash()))
}

func headKey(crdtNS ds.Key, c cid.Cid) ds.Key {
	return crdtNS.ChildString("h").Child(dshelp.MultihashToDsKey(c.Hash()))
}

func walkKey(walkNS ds.Key, c cid.Cid) ds.Key { return walkNS.ChildString(c.String()) }

// recoverWalks runs before go-ds-crdt opens. For every recorded walk it
// marks the store dirty, so the repair at start walks the DAG again, and
// makes the walk's head a head if the current heads do not lead to it
// (they lead to it when the walk finished, or when a later node of the
// same peer was merged on top: the repair then passes through it anyway,
// and making it a head would only leave a redundant head). It clears the
// records and returns the number of heads restored.
func recoverWalks(ctx context.Context, d ds.Batching, walkNS, crdtNS, blocksNS ds.Key) (int, error) {
	res, err := d.Query(ctx, query.Query{Prefix: walkNS.String(), KeysOnly: true})
	if err != nil {
		return 0, fmt.Errorf("list interrupted walks: %w", err)
	}
	entries, err := res.Rest()
	if err != nil {
		return 0, fmt.Errorf("list interrupted walks: %w", err)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	heads, err := storedHeads(ctx, d, crdtNS)
	if err != nil {
		return 0, err
	}
	b, err := d.Batch(ctx)
	if err != nil {
		return 0, err
	}
	restored := 0
	for _, e := range entries {
		if err := b.Delete(ctx, ds.NewKey(e.Key)); err != nil {
			return 0, err
		}
		c, err := cid.Decode(strings.TrimPrefix(e.Key, walkNS.String()+"/"))
		if err != nil {
			continue // not ours to interpret; dropped with the record
		}
		h, err := interruptedHeight(ctx, d, crdtNS, blocksNS, c)
		if err != nil {
			return 0, err
		}
		if h == 0 {
			continue
		}
		if ok, err := reaches(ctx, d, blocksNS, heads, c, h, maxReachWalk); err != nil {
			return 0, err
		} else if ok {
			continue
		}
		buf := binary.AppendUvarint(nil, h)
		if err := b.Put(ctx, headKey(crdtNS, c), buf); err != nil {
			return 0, err
		}
		restored++
	}
	if err := b.Put(ctx, crdtNS.ChildString("d"), nil); err != nil {
		return 0, err
	}
	if err := b.Commit(ctx); err != nil {
		return 0, fmt.Errorf("restore interrupted walks: %w", err)
	}
	return restored, nil
}

// maxReachWalk bounds the nodes reaches visits; past it a head is
// restored (a redundant head costs less than a lost branch).
const maxReachWalk = 200_000

// storedHeads lists go-ds-crdt's heads as stored.
func storedHeads(ctx context.Context, d ds.Datastore, crdtNS ds.Key) ([]cid.Cid, error) {
	prefix := crdtNS.ChildString("h")
	res, err := d.Query(ctx, query.Query{Prefix: prefix.String(), KeysOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list heads: %w", err)
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, fmt.Errorf("list heads: %w", err)
	}
	var out []cid.Cid
	for _, e := range entries {
		c, err := dshelp.DsKeyToCidV1(ds.NewKey(strings.TrimPrefix(e.Key, prefix.String())), cid.DagProtobuf)
		if err != nil {
			return nil, fmt.Errorf("stored head %s: %w", e.Key, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// reaches reports whether target (of the given height) is reachable from
// the nodes in from, walking local blocks no lower than its height (a
// node's height is above its children's). It gives up, false, after limit
// nodes or at a block that is not here.
func reaches(ctx context.Context, d ds.Datastore, blocksNS ds.Key, from []cid.Cid, target cid.Cid, height uint64, limit int) (bool, error) {
	stack := slices.Clone(from)
	seen := make(map[cid.Cid]bool)
	for len(stack) > 0 && len(seen) < limit {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.Equals(target) {
			return true, nil
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		data, err := d.Get(ctx, blocksNS.Child(dshelp.MultihashToDsKey(c.Hash())))
		if errors.Is(err, ds.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read block %s: %w", c, err)
		}
		links, h, err := decodeDAGNode(data)
		if err != nil || h <= height {
			continue
		}
		stack = append(stack, links...)
	}
	return false, nil
}

// interruptedHeight returns the height of c if it may need to become a
// head for the repair to walk it: it is not a head and its block is here
// (a block never fetched was never merged: its next announcement walks
// it).
func interruptedHeight(ctx context.Context, d ds.Datastore, crdtNS, blocksNS ds.Key, c cid.Cid) (uint64, error) {
	isHead, err := d.Has(ctx, headKey(crdtNS, c))
	if err != nil || isHead {
		return 0, err
	}
	return blockHeight(ctx, d, blocksNS, c)
}

// blockHeight returns the height of the DAG node c, or 0 if its block is
// not here or does not decode.
func blockHeight(ctx context.Context, d ds.Datastore, blocksNS ds.Key, c cid.Cid) (uint64, error) {
	data, err := d.Get(ctx, blocksNS.Child(dshelp.MultihashToDsKey(c.Hash())))
	if errors.Is(err, ds.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read block %s: %w", c, err)
	}
	_, h, err := decodeDAGNode(data)
	if err != nil {
		return 0, nil
	}
	return h, nil
}

// beginWalk records a's heads before go-ds-crdt walks them.
func (s *Store) beginWalk(a *announcement) {
	s.walkStarted()
	ctx := context.Background()
	a.wasDirty = s.crdt.IsDirty(ctx)
	a.dirtyMarks = s.dirtyMarks.Load()
	for _, h := range a.heads {
		if err := s.cfg.Datastore.Put(ctx, walkKey(s.walkNS, h), nil); err != nil {
			s.log.Warn("record walk", "head", h, "err", err)
		}
	}
}

// endWalk runs when go-ds-crdt has finished walking a's heads. A clean
// walk drops the records. A failed one (go-ds-crdt marked itself dirty
// meanwhile) keeps them for the next start and, the first time and unless
// the Store is closing, removes the processed mark of each head that did
// not become a head and asks for the announcement to be handed over
// again. After that second walk it repairs.
func (s *Store) endWalk(a *announcement, closing bool) (again bool) {
	defer s.walkEnded()
	ctx := context.Background()
	// The walk's merged writes go to the datastore before its records
	// are dropped or its processed marks cleared below.
	if err := s.buf.flush(ctx); err != nil {
		s.log.Warn("write merged inventory state; keeping the walk records", "err", err)
		return false
	}
	failed := s.dirtyMarks.Load() != a.dirtyMarks || (!a.wasDirty && s.crdt.IsDirty(ctx))
	if !failed {
		for _, h := range a.heads {
			if err := s.cfg.Datastore.Delete(ctx, walkKey(s.walkNS, h)); err != nil {
				s.log.Warn("clear walk record", "head", h, "err", err)
			}
		}
	}
	if closing {
		return false
	}
	if a.again {
		s.repairSoon()
		return false
	}
	if !failed {
		return false
	}
	heads, _ := s.rawHeads()
	for _, h := range a.heads {
		if slices.ContainsFunc(heads, h.Equals) {
			continue
		}
		if err := s.cfg.Datastore.Delete(ctx, processedKey(s.crdtNS, h)); err != nil {
			s.log.Warn("clear processed mark", "head", h, "err", err)
			return false
		}
	}
	s.log.Warn("inventory merge interrupted; walking the announcement again", "heads", len(a.heads))
	return true
}

// repairSoon starts one go-ds-crdt repair in the background unless one
// is running. A repair that fails (an error, or a merge in it marked the
// store dirty) is tried again after repairRetry, doubling up to
// Config.RepairInterval, until one succeeds or the Store closes:
// go-ds-crdt's own timer would try again only after RepairInterval
// (minutes), and until then the tills hold different heads.
func (s *Store) repairSoon() {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed || !s.repairing.CompareAndSwap(false, true) {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer s.repairing.Store(false)
		wait := repairRetry
		for {
			marks := s.dirtyMarks.Load()
			err := s.crdt.Repair(s.ctx)
			if s.ctx.Err() != nil {
				return
			}
			if err == nil && s.dirtyMarks.Load() == marks && !s.crdt.IsDirty(s.ctx) {
				return
			}
			if err == nil {
				err = errors.New("a merge in it failed")
			}
			s.log.Warn("repair inventory after an interrupted merge failed; trying again", "err", err, "in", wait)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, s.cfg.RepairInterval)
		}
	}()
}

// repairRetry is the first wait before a failed repair is tried again.
const repairRetry = 2 * time.Second
