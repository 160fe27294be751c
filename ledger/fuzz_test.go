package ledger_test

import (
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
	} {
		f.Add(till.MustNext(b, now).Bytes())
	}
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
