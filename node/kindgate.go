package node

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

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
	behind, err := t.tillsNotKnowing(ctx, k)
	if err != nil {
		return fmt.Errorf("%w: check which tills know %s events: %v", ui.ErrUnavailable, k, err)
	}
	if len(behind) == 0 {
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
