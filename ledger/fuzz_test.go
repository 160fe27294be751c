package ledger_test

import (
	"bytes"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

func seedEvents(f *testing.F) {
	till := ledgertest.NewTill(store, 1, 1)
	for _, b := range []ledger.Body{
		ledgertest.Sale3(),
		&ledger.ShiftOpen{Currency: "EUR", Float: 100, Staff: "1"},
		&ledger.StockCount{Lines: []ledger.CountLine{{SKU: "a", Counted: 1, Expected: 2}}, Staff: "1"},
		&ledger.Refund{Sale: ledger.EventID{1}, Currency: "EUR", Staff: "1",
			Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 5}},
			Tenders: []ledger.Tender{{Kind: ledger.Card, Amount: 5}}},
		&ledger.CartCleared{Currency: "EUR", Lines: ledgertest.Sale3().Lines, Total: 500, Staff: "2", Reason: "customer left"},
	} {
		f.Add(till.MustNext(b, now).Bytes())
	}
	// What a newer version writes: an unknown kind, a sale with new fields.
	_, raw, err := ledgertest.SignRaw(till.Key, store, till.Seq+1, till.Prev, till.Clock.Next(now), ledgertest.FutureKind, ledgertest.Future(3), "k-f")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	body, _ := ledgertest.WithFields(ledgertest.Sale3(), map[uint64]any{99: "loyalty"})
	if _, raw, err = ledgertest.SignRaw(till.Key, store, 1, ledger.EventID{}, ledger.HLC{Wall: now}, ledger.KindSale, body, "k-s"); err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
}

// FuzzDecode: any bytes decode to an error or to an event that re-encodes
// to the same bytes and the same ID.
func FuzzDecode(f *testing.F) {
	seedEvents(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ledger.Decode(b)
		if err != nil {
			return
		}
		again, err := ledger.Decode(ev.Bytes())
		if err != nil || again.ID() != ev.ID() {
			t.Fatalf("decoded event does not decode again: %v", err)
		}
	})
}

// FuzzValidate: verification and folding of arbitrary decodable events
// never panic, and an event that verifies can be applied and folded.
func FuzzValidate(f *testing.F) {
	seedEvents(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ledger.Decode(b)
		if err != nil {
			return
		}
		verr := ev.Verify()
		_ = ev.Check()
		s := ledger.NewState(ev.Store)
		_ = s.CheckLocal(ev)
		if verr != nil {
			return
		}
		if _, err := s.Apply(ev); err != nil {
			return
		}
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		_ = s.Fold().StoreReport()
		_ = s.Fold().Anomalies()
	})
}

// FuzzNewerBody: a correctly signed event of any kind name with any body
// bytes either is refused by Decode, or decodes to an event that keeps
// exactly the signed bytes, verifies, and applies and folds (counted as
// newer when its kind is unknown).
func FuzzNewerBody(f *testing.F) {
	sale, _ := ledgertest.Encode(ledgertest.Sale3())
	extra, _ := ledgertest.WithFields(ledgertest.Sale3(), map[uint64]any{99: "x"})
	f.Add("future_kind", ledgertest.Future(1))
	f.Add("sale", sale)
	f.Add("sale", extra)
	f.Add("gift_card", []byte{0xa1, 0x01, 0x62, 'h', 'i'})
	key := ledgertest.Key(1)
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		ev, raw, err := ledgertest.SignRaw(key, store, 1, ledger.EventID{}, ledger.HLC{Wall: now}, ledger.Kind(kind), body, "k")
		if err != nil {
			return
		}
		if !bytes.Equal(ev.Bytes(), raw) {
			t.Fatal("decoded event does not keep the signed bytes")
		}
		if err := ev.Verify(); err != nil {
			if !ledger.Known(ev.Kind()) {
				t.Fatalf("unknown kind %q decodes but does not verify: %v", kind, err)
			}
			return // a known kind whose rules the body breaks
		}
		s := ledger.NewState(store)
		if _, err := s.Apply(ev); err != nil {
			t.Fatal(err)
		}
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		if !ledger.Known(ev.Kind()) && s.Fold().Newer()[ev.Kind()] != 1 {
			t.Fatalf("unknown kind %q not counted", kind)
		}
	})
}

func FuzzCertificate(f *testing.F) {
	c := ledgertest.NewTill(store, 1, 1).Certificate(ledgertest.Key(9), "till", now)
	b, _ := c.Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ledger.DecodeCertificate(b)
		if err != nil {
			return
		}
		_ = c.Verify(ledger.TillOf(ledgertest.Key(9)).PublicKey(), store)
	})
}
