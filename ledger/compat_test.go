package ledger_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// TestEventOfUnknownKindIsKeptAndCounted: a newer till writes a sale, an
// event of a kind this version does not know, and another sale. This
// version decodes, verifies (one by one and as a run), applies and folds
// all three; the unknown one is kept byte for byte, left out of the
// figures and counted.
func TestEventOfUnknownKindIsKeptAndCounted(t *testing.T) {
	till := ledgertest.NewTill(store, 1, 1)
	s1 := till.MustNext(ledgertest.Sale3(), now)
	fut, raw, err := ledgertest.SignRaw(till.Key, store, 2, s1.ID(), till.Clock.Next(now+1), ledgertest.FutureKind, ledgertest.Future(7), "k-2")
	if err != nil {
		t.Fatalf("decode an event of an unknown kind: %v", err)
	}
	till.Seq, till.Prev, till.Clock = fut.Seq, fut.ID(), fut.Time
	s3 := till.MustNext(ledgertest.Sale3(), now+2)

	if !bytes.Equal(fut.Bytes(), raw) || fut.ID() != ledger.EventID(sha256.Sum256(raw)) {
		t.Fatal("the unknown event's bytes or ID are not what its till signed")
	}
	u, ok := fut.Body.(*ledger.Unknown)
	if !ok || fut.Kind() != ledgertest.FutureKind || !bytes.Equal(u.Raw(), ledgertest.Future(7)) {
		t.Fatalf("body %T kind %q, want *Unknown of %q with the signed body", fut.Body, fut.Kind(), ledgertest.FutureKind)
	}
	if ledger.Known(fut.Kind()) {
		t.Fatal("future_kind reported as known")
	}
	if err := fut.Verify(); err != nil {
		t.Fatalf("verify: %v", err)
	}
	run := []*ledger.Event{s1, fut, s3}
	for i := range run {
		again, err := ledger.Decode(run[i].Bytes())
		if err != nil {
			t.Fatal(err)
		}
		run[i] = again
	}
	if i, err := ledger.VerifyRun(ledger.EventID{}, run); err != nil {
		t.Fatalf("verify run: event %d: %v", i, err)
	}
	st := ledger.NewState(store)
	for _, ev := range run {
		if _, err := st.Apply(ev); err != nil {
			t.Fatalf("apply seq %d: %v", ev.Seq, err)
		}
	}
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	if got := st.Vector()[till.ID]; got != 3 {
		t.Fatalf("vector %d, want 3", got)
	}
	newer := st.Fold().Newer()
	if newer[ledgertest.FutureKind] != 1 || newer.Total() != 1 {
		t.Fatalf("newer %v, want one future_kind", newer)
	}
	if got, want := newer.String(), "1 event from a newer version (kind future_kind)"; !bytes.HasPrefix([]byte(got), []byte(want)) {
		t.Fatalf("warning %q, want it to start %q", got, want)
	}
	if rep := st.Fold().StoreReport(); rep.Sales != 2 {
		t.Fatalf("report counts %d sales, want 2 (the unknown event left out)", rep.Sales)
	}
	// A checkpoint keeps the count: a till that restarts from it still
	// warns about events it applied before.
	cp, _, err := st.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := ledger.RestoreState(store, cp, ledger.NewMemIndex())
	if err != nil {
		t.Fatal(err)
	}
	if got := restored.Fold().Newer()[ledgertest.FutureKind]; got != 1 {
		t.Fatalf("after a checkpoint: %d future_kind events counted, want 1", got)
	}
	// Tampering with the unknown body breaks the signature.
	bad := append([]byte(nil), raw...)
	i := bytes.Index(bad, []byte("card-7"))
	bad[i+5] = '8'
	if ev, err := ledger.Decode(bad); err == nil {
		if err := ev.Verify(); !errors.Is(err, ledger.ErrBadSignature) {
			t.Fatalf("tampered unknown body: %v, want ErrBadSignature", err)
		}
	}
}

// TestSaleWithNewerFieldVerifies: a sale with a field this version does
// not know still verifies, folds with the fields it knows, and is sent on
// byte for byte (never re-encoded from the struct, which would drop it).
func TestSaleWithNewerFieldVerifies(t *testing.T) {
	till := ledgertest.NewTill(store, 1, 1)
	body, err := ledgertest.WithFields(ledgertest.Sale3(), map[uint64]any{99: "loyalty-1234", 100: map[uint64]any{1: int64(5)}})
	if err != nil {
		t.Fatal(err)
	}
	ev, raw, err := ledgertest.SignRaw(till.Key, store, 1, ledger.EventID{}, till.Clock.Next(now), ledger.KindSale, body, "k-1")
	if err != nil {
		t.Fatalf("decode a sale with newer fields: %v", err)
	}
	if !ev.NewerFields() || !bytes.Equal(ev.Bytes(), raw) {
		t.Fatalf("newer fields %v, bytes kept %v", ev.NewerFields(), bytes.Equal(ev.Bytes(), raw))
	}
	if err := ev.Verify(); err != nil {
		t.Fatalf("verify: %v", err)
	}
	again, err := ledger.Decode(ev.Bytes())
	if err != nil || again.ID() != ev.ID() || again.Verify() != nil {
		t.Fatalf("decode again: %v", err)
	}
	st := ledger.NewState(store)
	if _, err := st.Apply(again); err != nil {
		t.Fatal(err)
	}
	want, _ := ledgertest.Sale3().Totals()
	if rep := st.Fold().StoreReport(); rep.Sales != 1 || rep.Gross != want.Total {
		t.Fatalf("report %d sales gross %v, want 1 and %v", rep.Sales, rep.Gross, want.Total)
	}
	if n := st.Fold().Newer(); n.Total() != 0 {
		t.Fatalf("a known kind counted as newer: %v", n)
	}
	// A plain sale has no newer fields.
	plain := till.MustNext(ledgertest.Sale3(), now+1)
	if d, _ := ledger.Decode(plain.Bytes()); d.NewerFields() {
		t.Fatal("plain sale reports newer fields")
	}
}

// TestTillNeverWritesUnknownKind: a till signs only kinds it knows.
func TestTillNeverWritesUnknownKind(t *testing.T) {
	till := ledgertest.NewTill(store, 1, 1)
	fut, err := till.NextRaw(ledgertest.FutureKind, ledgertest.Future(1), now, "k")
	if err != nil {
		t.Fatal(err)
	}
	ev := &ledger.Event{Store: store, Seq: 2, Prev: fut.ID(), Time: fut.Time.Next(now + 1), Body: fut.Body}
	if err := ev.Sign(till.Key); !errors.Is(err, ledger.ErrUnknownKind) {
		t.Fatalf("sign an unknown kind: %v, want ErrUnknownKind", err)
	}
}

// TestForwardCompatBounds: what a newer version may add is bounded; bad
// bytes are still refused with a clear error.
func TestForwardCompatBounds(t *testing.T) {
	key := ledgertest.Key(1)
	at := ledger.HLC{Wall: now}
	nonCanon := []byte{0xa1, 0x18, 0x01, 0x01} // {1: 1} with the key in two bytes
	big := make([]byte, ledger.MaxEventSize)
	bigBody, _ := ledgertest.Encode(map[uint64]any{1: big})
	saleExtraNonCanon, _ := ledgertest.WithFields(ledgertest.Sale3(), nil)
	saleExtraNonCanon = append([]byte{saleExtraNonCanon[0] + 1}, saleExtraNonCanon[1:]...)
	saleExtraNonCanon = append(saleExtraNonCanon, 0x19, 0x00, 0x63, 0x01) // key 99 in three bytes
	for _, c := range []struct {
		name string
		kind ledger.Kind
		body []byte
		want error
	}{
		{"unknown kind, non-canonical body", "gift_card", nonCanon, ledger.ErrNotCanonical},
		{"unknown kind, body not a map", "gift_card", []byte{0x82, 0x01, 0x02}, ledger.ErrInvalidBody},
		{"kind with capitals", "GiftCard", []byte{0xa0}, ledger.ErrMalformed},
		{"kind too long", ledger.Kind(bytes.Repeat([]byte("k"), ledger.MaxKindLen+1)), []byte{0xa0}, ledger.ErrMalformed},
		{"empty kind", "", []byte{0xa0}, ledger.ErrMalformed},
		{"event too large", "gift_card", bigBody, ledger.ErrMalformed},
		{"sale with a newer field, not canonical", ledger.KindSale, saleExtraNonCanon, ledger.ErrNotCanonical},
		{"sale with a wrong-typed known field", ledger.KindSale, []byte{0xa1, 0x01, 0x01}, ledger.ErrMalformed},
	} {
		_, _, err := ledgertest.SignRaw(key, store, 1, ledger.EventID{}, at, c.kind, c.body, "k")
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// BenchmarkDecodeNewer: decoding a plain sale (the fast path: the body
// encodes back to its bytes), a sale with a newer field and an event of
// an unknown kind (both checked canonical generically).
func BenchmarkDecodeNewer(b *testing.B) {
	till := ledgertest.NewTill(store, 1, 1)
	plain := till.MustNext(ledgertest.Sale3(), now).Bytes()
	extra, _ := ledgertest.WithFields(ledgertest.Sale3(), map[uint64]any{99: "loyalty-1234"})
	_, withField, err := ledgertest.SignRaw(till.Key, store, 1, ledger.EventID{}, ledger.HLC{Wall: now}, ledger.KindSale, extra, "k")
	if err != nil {
		b.Fatal(err)
	}
	_, unknown, err := ledgertest.SignRaw(till.Key, store, 1, ledger.EventID{}, ledger.HLC{Wall: now}, ledgertest.FutureKind, ledgertest.Future(1), "k")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		raw  []byte
	}{{"plain-sale", plain}, {"sale-newer-field", withField}, {"unknown-kind", unknown}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ledger.Decode(c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
