package crdt

import (
	"context"
	"slices"
	"sync"

	cid "github.com/ipfs/go-cid"
)

// Covered heads.
//
// go-ds-crdt v0.6.8 can keep a head that another head descends from. A
// peer's branch is merged top down, and its root R becomes a head as soon
// as one of R's children is a head here. If a local write lands then, its
// node takes R as a child and replaces it as a head. When the walk later
// reaches a node it already holds further down R's branch, processNode
// adds R as a head again, although the local node covers it. The state is
// right (R and everything under it is merged), and the till's next write
// takes R as a child again, which ends it; until then this till's heads
// differ from those of a till holding the same state. A testnet run saw
// two tills so "apart" for minutes with nothing left to merge.
//
// Heads therefore reports only the heads no other head descends from. It
// looks for a covered head a short way down (coveredWalk nodes): the race
// leaves it a few nodes under the local write.

// coveredWalk bounds the DAG nodes looked at to find that one head
// covers another. A covered head further down is reported as a head.
const coveredWalk = 64

// headsCache keeps the last answer: the status page and the testnet poll
// heads often, and they change only with a write or a merge.
type headsCache struct {
	mu  sync.Mutex
	in  []cid.Cid
	out []cid.Cid
}

// uncovered returns heads (sorted, as go-ds-crdt lists them) without
// those another of them descends from.
func (s *Store) uncovered(heads []cid.Cid) []cid.Cid {
	if len(heads) < 2 {
		return heads
	}
	c := &s.headsCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.EqualFunc(heads, c.in, cid.Cid.Equals) {
		return slices.Clone(c.out)
	}
	ctx := context.Background()
	out := make([]cid.Cid, 0, len(heads))
	for i, h := range heads {
		if height, err := blockHeight(ctx, s.cfg.Datastore, s.blocksNS, h); err == nil && height > 0 {
			others := slices.Delete(slices.Clone(heads), i, i+1)
			if covered, err := reaches(ctx, s.cfg.Datastore, s.blocksNS, others, h, height, coveredWalk); err == nil && covered {
				continue
			}
		}
		out = append(out, h)
	}
	c.in, c.out = slices.Clone(heads), out
	return slices.Clone(out)
}
