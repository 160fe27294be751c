package ledger_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// TestVerifyAllAgreesWithVerify damages random events of a few hundred
// (a flipped signature bit, a signature by another till's key, a broken
// body rule, a truncated signature) and checks that VerifyAll flags
// exactly the events Verify rejects, with Verify's error.
func TestVerifyAllAgreesWithVerify(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for round := range 20 {
		tills := []*ledgertest.Till{ledgertest.NewTill(store, 1, 1), ledgertest.NewTill(store, 2, 2), ledgertest.NewTill(store, 3, 3)}
		n := 1 + r.IntN(600)
		evs := make([]*ledger.Event, n)
		for i := range evs {
			till := tills[r.IntN(len(tills))]
			ev := till.MustNext(ledgertest.Sale3(), now+int64(i))
			if r.IntN(8) == 0 {
				ev = damage(t, r, ev, tills)
			}
			evs[i] = ev
		}
		errs := ledger.VerifyAll(evs)
		bad := 0
		for i, ev := range evs {
			want := ev.Verify()
			var got error
			if errs != nil {
				got = errs[i]
			}
			if (want == nil) != (got == nil) || want != nil && want.Error() != got.Error() {
				t.Fatalf("round %d, event %d of %d: VerifyAll says %v, Verify says %v", round, i, n, got, want)
			}
			if want != nil {
				bad++
			}
		}
		if bad == 0 && errs != nil {
			t.Fatalf("round %d: every event verifies but VerifyAll returned errors", round)
		}
	}
}

// damage returns a copy of ev broken in one of several ways, decoded from
// bytes as it would arrive from a peer.
func damage(t *testing.T, r *rand.Rand, ev *ledger.Event, tills []*ledgertest.Till) *ledger.Event {
	t.Helper()
	raw := append([]byte(nil), ev.Bytes()...)
	switch r.IntN(3) {
	case 0: // flip a bit of the signature (the last 64 bytes)
		raw[len(raw)-1-r.IntN(64)] ^= 1 << r.IntN(8)
		out, err := ledger.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case 1: // a signature changed after decoding: no longer the recorded bytes
		out, err := ledger.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		cp := *out
		cp.Sig = append([]byte(nil), out.Sig...)
		cp.Sig[0] ^= 0x80
		return &cp
	default: // signed by another till's key but naming this till
		other := tills[0]
		if other.ID == ev.Till {
			other = tills[1]
		}
		forged := *ev
		forged.Sig = nil
		if err := forged.Sign(other.Key); err != nil {
			t.Fatal(err)
		}
		forged.Till = ev.Till // the signature no longer matches the key
		return &forged
	}
}

func TestVerifyAllEmptyAndBadLength(t *testing.T) {
	if errs := ledger.VerifyAll(nil); errs != nil {
		t.Fatalf("no events: %v", errs)
	}
	ev := chain(1)[0]
	short := *ev
	short.Sig = ev.Sig[:10]
	errs := ledger.VerifyAll([]*ledger.Event{ev, &short})
	if errs == nil || errs[0] != nil || !errors.Is(errs[1], ledger.ErrBadSignature) {
		t.Fatalf("short signature: got %v", errs)
	}
}
