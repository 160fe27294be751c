package node_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// A kind added after the first release is written only once every till of
// the store announced a release that knows it; first-release kinds always.
func TestKindGateWaitsForEveryTill(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	ctx := t.Context()
	waitFor(t, "till 1 to see till 2's announced kinds", func() bool {
		k, err := a.Inventory().Kinds(ctx)
		return err == nil && len(k[b.ID().String()]) >= len(ledger.Kinds)
	})
	for _, k := range ledger.Kinds {
		if got, err := a.TillsNotKnowing(ctx, k); err != nil || len(got) != 0 {
			t.Fatalf("kind %s: tills not knowing = %v, %v; want none", k, got, err)
		}
	}
	got, err := a.TillsNotKnowing(ctx, "gift_card")
	if err != nil || !slices.Equal(got, []string{"till 1", "till 2"}) {
		t.Fatalf("a kind no till knows: %v, %v; want till 1 and till 2", got, err)
	}
	err = a.KindAllowed(ctx, "gift_card")
	if !errors.Is(err, ui.ErrConflict) || !strings.Contains(err.Error(), "till 1, till 2 run a release that does not know gift_card events") {
		t.Fatalf("KindAllowed(gift_card) = %v", err)
	}

	// Let a gated kind through, so the till remembers the answer; the
	// older announcement below must close the gate again.
	if err := a.KindAllowed(ctx, ledger.KindCard); err != nil {
		t.Fatalf("card with every till announcing it: %v", err)
	}

	// Till 2 as an older release announced it: only "sale" (a release
	// before the announcement existed has no entry at all, which counts the
	// same). A first-release kind stays allowed; the gate names till 2.
	announce(t, a, b, []string{"sale"})
	if got, err := a.TillsNotKnowing(ctx, ledger.KindRefund); err != nil || !slices.Equal(got, []string{"till 2"}) {
		t.Fatalf("refund with till 2 announcing only sale: %v, %v; want till 2", got, err)
	}
	if err := a.KindAllowed(ctx, ledger.KindRefund); err != nil {
		t.Fatalf("a first-release kind must always be allowed: %v", err)
	}
	waitFor(t, "the gate to close for card once till 2 announced an older release", func() bool {
		return errors.Is(a.KindAllowed(ctx, ledger.KindCard), ui.ErrConflict)
	})
	if err := a.Inventory().PutKinds(ctx, b.ID().String(), []string{"sale", "bad kind"}); err == nil {
		t.Fatal("a kind name with a space was accepted")
	}
}

// announce makes till of announce kinds, as an older or newer release
// would, and waits until till at's kind gate counts it: at holds of's
// certificate (until then the gate leaves of out) and reads exactly those
// kinds. The write is made at till of itself, as a till announces: the
// CRDT keeps the write of the higher DAG, so the setting written at till
// at could lose to of's own announcement, while of's later write always
// wins over its earlier one. It is written again should of not hold it.
func announce(t testing.TB, at, of *runningTill, kinds []string) {
	t.Helper()
	ctx := t.Context()
	id := of.ID().String()
	holds := func(r *runningTill) bool {
		k, err := r.Inventory().Kinds(ctx)
		return err == nil && slices.Equal(k[id], kinds)
	}
	waitFor(t, fmt.Sprintf("till %d announced as knowing %d kinds, at till %d", of.Number(), len(kinds), at.Number()), func() bool {
		if !holds(of) {
			if err := of.Inventory().PutKinds(ctx, id, kinds); err != nil {
				t.Fatalf("announce %v for till %d: %v", kinds, of.Number(), err)
			}
			return false
		}
		certs, err := at.Inventory().Certificates(ctx)
		return err == nil && certs[id] != nil && holds(at)
	})
}
