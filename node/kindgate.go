package node

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// The kind gate. A release may add event kinds (issue 19: events are
// forward-compatible). A till of an older release keeps such events but
// leaves them out of its stock and reports, so a store whose tills run
// mixed releases would see reports disagree. So a till writes a kind
// outside ledger.BaseKinds only once every enrolled, unrevoked till of the
// store has announced (in the store setting kinds.<till>) a release
// that knows it. A till that never announced is taken to know BaseKinds
// only. See docs/ARCHITECTURE.md, "Adding an event kind".

// kindNames are the kinds this release knows, as announced, then the
// gated features that are not kinds (ledger.Features: a sale's cash
// rounding), which pass the same gate.
func kindNames() []string {
	out := make([]string, 0, len(ledger.Kinds)+len(ledger.Features))
	for _, k := range ledger.Kinds {
		out = append(out, string(k))
	}
	for _, f := range ledger.Features {
		out = append(out, string(f))
	}
	return out
}

// announceKinds publishes the kinds this release knows, once per release.
func (t *Till) announceKinds(ctx context.Context) error {
	all, err := t.inv.Kinds(ctx)
	if err != nil {
		return fmt.Errorf("read announced kinds: %w", err)
	}
	mine := kindNames()
	if slices.Equal(all[t.id.String()], mine) {
		return nil
	}
	if err := t.inv.PutKinds(ctx, t.id.String(), mine); err != nil {
		return fmt.Errorf("announce kinds: %w", err)
	}
	return nil
}

// kindAllowed reports whether this till may write events of kind k: nil,
// or an error wrapping ui.ErrConflict naming the tills that must be
// upgraded first.
func (t *Till) kindAllowed(ctx context.Context, k ledger.Kind) error {
	if ledger.IsBaseKind(k) || ledger.IsTestnetKind(k) {
		return nil
	}
	gen, cached := t.kindGate.lookup(k)
	if cached {
		return nil
	}
	behind, err := t.tillsNotKnowing(ctx, k)
	if err != nil {
		return fmt.Errorf("%w: check which tills know %s events: %v", ui.ErrUnavailable, k, err)
	}
	if len(behind) == 0 {
		t.kindGate.remember(k, gen)
		return nil
	}
	return fmt.Errorf("%w: %s run%s a release that does not know %s events; upgrade %s first",
		ui.ErrConflict, strings.Join(behind, ", "), map[bool]string{true: "s", false: ""}[len(behind) == 1], k,
		map[bool]string{true: "it", false: "them"}[len(behind) == 1])
}

// tillsNotKnowing names the enrolled, unrevoked tills of the store that
// have not announced kind k ("till 2").
func (t *Till) tillsNotKnowing(ctx context.Context, k ledger.Kind) ([]string, error) {
	certs, err := t.inv.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	kinds, err := t.inv.Kinds(ctx)
	if err != nil {
		return nil, err
	}
	var nums []int
	for id := range certs {
		tid, err := ledger.ParseTillID(id)
		if err != nil || tid == t.id || !t.enrolled(tid) || t.revoked(tid) {
			continue
		}
		if !slices.Contains(kinds[id], string(k)) {
			nums = append(nums, int(t.number(tid)))
		}
	}
	if !slices.Contains(kindNames(), string(k)) {
		nums = append(nums, int(t.cert.Number))
	}
	sort.Ints(nums)
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = fmt.Sprintf("till %d", n)
	}
	return out, nil
}

// kindGateCache remembers the kinds the gate let through, so a gated sale
// (a card tender, cash rounding) does not read every certificate and
// every announcement from the CRDT. watchKindGate forgets them all at any
// change that could close the gate: a certificate (a till enrolled), a
// revocation, an announcement, or changes the CRDT dropped. Without the
// watcher running nothing is remembered.
type kindGateCache struct {
	mu   sync.Mutex
	live bool   // watchKindGate runs
	gen  uint64 // bumped at each change that could close the gate
	open map[ledger.Kind]uint64
}

// lookup says whether k was let through since the last change, and the
// generation an answer computed now belongs to.
func (c *kindGateCache) lookup(k ledger.Kind) (gen uint64, open bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.open[k]
	return c.gen, c.live && ok && g == c.gen
}

// remember records that k passed, unless the gate changed since gen.
func (c *kindGateCache) remember(k ledger.Kind, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	if c.open == nil {
		c.open = map[ledger.Kind]uint64{}
	}
	c.open[k] = gen
}

func (c *kindGateCache) forget(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.gen++
	clear(c.open)
}

// watchKindGate keeps t.kindGate true to the CRDT while the till runs.
func (t *Till) watchKindGate(ctx context.Context) error {
	changes, stop := t.inv.Subscribe(256)
	defer stop()
	t.kindGate.forget(true)
	defer t.kindGate.forget(false)
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			switch c.Kind {
			case crdt.ChangeCertificate, crdt.ChangeRevocation, crdt.ChangeOverflow:
				t.kindGate.forget(true)
			case crdt.ChangeSetting:
				if strings.HasPrefix(c.ID, crdt.KindsSetting) {
					t.kindGate.forget(true)
				}
			}
		}
	}
}
