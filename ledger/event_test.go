package ledger_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

var store = ledger.StoreID{1, 2, 3}

const now = int64(1_790_000_000_000)

func sign(t *testing.T, body ledger.Body) (*ledger.Event, error) {
	t.Helper()
	till := ledgertest.NewTill(store, 1, 1)
	return till.Next(body, now, "key")
}

func TestSignDecodeRoundTrip(t *testing.T) {
	ev, err := sign(t, ledgertest.Sale3())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ledger.Decode(ev.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != ev.ID() || !bytes.Equal(got.Bytes(), ev.Bytes()) {
		t.Fatalf("decoded ID %s, want %s", got.ID(), ev.ID())
	}
	if err := got.Verify(); err != nil {
		t.Fatalf("verify decoded: %v", err)
	}
	if got.Kind() != ledger.KindSale || got.Body.(*ledger.Sale).Lines[2].Qty != 1234 {
		t.Fatalf("decoded body %+v", got.Body)
	}
	if len(ev.Bytes()) > 400 {
		t.Errorf("a 3-line sale encodes to %d bytes; want it compact (< 400)", len(ev.Bytes()))
	}
}

func TestEveryFlippedByteIsCaught(t *testing.T) {
	ev, err := sign(t, ledgertest.Sale3())
	if err != nil {
		t.Fatal(err)
	}
	b := ev.Bytes()
	for i := range b {
		for _, bit := range []byte{0x01, 0x80} {
			c := append([]byte(nil), b...)
			c[i] ^= bit
			got, err := ledger.Decode(c)
			if err == nil {
				err = got.Verify()
			}
			if err == nil {
				t.Fatalf("byte %d ^ %#x: decoded and verified", i, bit)
			}
		}
	}
}

func TestNonCanonicalRejected(t *testing.T) {
	ev, err := sign(t, ledgertest.Sale3())
	if err != nil {
		t.Fatal(err)
	}
	// Re-encode the same map with keys in a non-canonical order.
	var m map[int]cbor.RawMessage
	if err := cbor.Unmarshal(ev.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	enc, _ := cbor.EncOptions{Sort: cbor.SortNone}.EncMode()
	var alt []byte
	for range 20 { // Go map order is random; find an order that differs
		if alt, err = enc.Marshal(m); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(alt, ev.Bytes()) {
			break
		}
	}
	if bytes.Equal(alt, ev.Bytes()) {
		t.Skip("could not produce a different key order")
	}
	if _, err := ledger.Decode(alt); !errors.Is(err, ledger.ErrNotCanonical) && !errors.Is(err, ledger.ErrMalformed) {
		t.Fatalf("non-canonical order: got %v, want ErrNotCanonical", err)
	}
}

func TestDecodeGarbage(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not cbor":  []byte("hello"),
		"a number":  {0x01},
		"huge":      make([]byte, ledger.MaxEventSize+1),
		"empty map": {0xa0},
	} {
		if _, err := ledger.Decode(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func sale(mod func(*ledger.Sale)) *ledger.Sale {
	s := ledgertest.Sale3()
	mod(s)
	return s
}

func TestValidation(t *testing.T) {
	id := ledger.EventID{9}
	cases := []struct {
		name string
		body ledger.Body
		want error // nil: valid
	}{
		{"sale ok", ledgertest.Sale3(), nil},
		{"sale card exact", sale(func(s *ledger.Sale) {
			s.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: 1206, Ref: "X"}}
			s.Change = 0
		}), nil},
		{"sale split tender", sale(func(s *ledger.Sale) {
			s.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: 1000}, {Kind: ledger.Cash, Amount: 500}}
			s.Change = 294
		}), nil},
		{"sale tenders short", sale(func(s *ledger.Sale) { s.Tenders[0].Amount = 1000; s.Change = 0 }), ledger.ErrTendersShort},
		{"sale change wrong", sale(func(s *ledger.Sale) { s.Change = 1 }), ledger.ErrInvalidBody},
		{"sale change from card", sale(func(s *ledger.Sale) {
			s.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: 2000}}
		}), ledger.ErrInvalidBody},
		{"sale negative qty", sale(func(s *ledger.Sale) { s.Lines[0].Qty = -1 }), ledger.ErrInvalidBody},
		{"sale zero qty", sale(func(s *ledger.Sale) { s.Lines[0].Qty = 0 }), ledger.ErrInvalidBody},
		{"sale no lines", sale(func(s *ledger.Sale) { s.Lines = nil }), ledger.ErrInvalidBody},
		{"sale discount above line", sale(func(s *ledger.Sale) { s.Lines[0].Discount = 1000 }), ledger.ErrInvalidBody},
		{"sale bad currency", sale(func(s *ledger.Sale) { s.Currency = "eu" }), ledger.ErrInvalidBody},
		{"sale bad unit", sale(func(s *ledger.Sale) { s.Lines[0].Unit = "lb" }), ledger.ErrInvalidBody},
		{"sale tax above 100%", sale(func(s *ledger.Sale) { s.Lines[0].TaxRate = 10001 }), ledger.ErrInvalidBody},
		{"sale no staff", sale(func(s *ledger.Sale) { s.Staff = "" }), ledger.ErrInvalidBody},
		{"sale unknown tender", sale(func(s *ledger.Sale) { s.Tenders[0].Kind = "iou" }), ledger.ErrInvalidBody},
		{"sale sku with slash", sale(func(s *ledger.Sale) { s.Lines[0].SKU = "a/b" }), ledger.ErrInvalidBody},
		{"refund ok", &ledger.Refund{Sale: id, Currency: "EUR", Staff: "1",
			Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 119, Tax: 8, Rate: 700}},
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 119}}}, nil},
		{"refund tenders differ", &ledger.Refund{Sale: id, Currency: "EUR", Staff: "1",
			Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 119}},
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 120}}}, ledger.ErrInvalidBody},
		{"refund line twice", &ledger.Refund{Sale: id, Currency: "EUR", Staff: "1",
			Lines:   []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 1}, {Line: 0, SKU: "1001", Qty: 1, Amount: 1}},
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 2}}}, ledger.ErrInvalidBody},
		{"refund no sale", &ledger.Refund{Currency: "EUR", Staff: "1",
			Lines: []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1}}}, ledger.ErrInvalidBody},
		{"void ok", &ledger.Void{Sale: id, Currency: "EUR", Total: 100, Cash: 100, Manager: "9",
			Lines: []ledger.StockLine{{SKU: "1001", Qty: 1}}}, nil},
		{"void without manager", &ledger.Void{Sale: id, Currency: "EUR", Total: 100,
			Lines: []ledger.StockLine{{SKU: "1001", Qty: 1}}}, ledger.ErrInvalidBody},
		{"shift open ok", &ledger.ShiftOpen{Currency: "EUR", Float: 10000, Staff: "1"}, nil},
		{"shift open negative float", &ledger.ShiftOpen{Currency: "EUR", Float: -1, Staff: "1"}, ledger.ErrInvalidBody},
		{"shift close ok", &ledger.ShiftClose{Currency: "EUR", Staff: "1",
			Counted: []ledger.Denomination{{Value: 1000, Count: 3}, {Value: 50, Count: 7}}}, nil},
		{"shift close denomination twice", &ledger.ShiftClose{Currency: "EUR", Staff: "1",
			Counted: []ledger.Denomination{{Value: 1000, Count: 3}, {Value: 1000, Count: 1}}}, ledger.ErrInvalidBody},
		{"cash in ok", &ledger.CashIn{Currency: "EUR", Amount: 5000, Reason: "change delivery", Staff: "1"}, nil},
		{"cash out no reason", &ledger.CashOut{Currency: "EUR", Amount: 5000, Staff: "1"}, ledger.ErrInvalidBody},
		{"cash out zero", &ledger.CashOut{Currency: "EUR", Reason: "bank", Staff: "1"}, ledger.ErrInvalidBody},
		{"no sale ok", &ledger.NoSale{Staff: "1"}, nil},
		{"receive ok", &ledger.StockReceive{Lines: []ledger.StockLine{{SKU: "1001", Qty: 24}}, Staff: "1"}, nil},
		{"receive negative", &ledger.StockReceive{Lines: []ledger.StockLine{{SKU: "1001", Qty: -24}}, Staff: "1"}, ledger.ErrInvalidBody},
		{"adjust ok", &ledger.StockAdjust{Lines: []ledger.StockLine{{SKU: "1001", Qty: -2}}, Reason: "damaged", Staff: "1"}, nil},
		{"adjust no reason", &ledger.StockAdjust{Lines: []ledger.StockLine{{SKU: "1001", Qty: -2}}, Staff: "1"}, ledger.ErrInvalidBody},
		{"count ok", &ledger.StockCount{Lines: []ledger.CountLine{{SKU: "1001", Counted: 10, Expected: 12}}, Staff: "1"}, nil},
		{"count negative", &ledger.StockCount{Lines: []ledger.CountLine{{SKU: "1001", Counted: -1}}, Staff: "1"}, ledger.ErrInvalidBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := sign(t, tc.body)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("sign: %v", err)
				}
				got, err := ledger.Decode(ev.Bytes())
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if err := got.Verify(); err != nil {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var le *ledger.Error
			if !errors.As(err, &le) || le.Seq != 1 {
				t.Fatalf("error %v does not name till and seq", err)
			}
		})
	}
}

func TestBadSignature(t *testing.T) {
	ev, err := sign(t, ledgertest.Sale3())
	if err != nil {
		t.Fatal(err)
	}
	other := ledgertest.Key(2)
	forged := *ev
	forged.Till = ledger.TillOf(other) // claims another till, keeps the signature
	if err := forged.Verify(); !errors.Is(err, ledger.ErrBadSignature) {
		t.Fatalf("forged till: got %v, want ErrBadSignature", err)
	}
}

func TestVerifyRun(t *testing.T) {
	till := ledgertest.NewTill(store, 1, 1)
	var run []*ledger.Event
	for i := range 50 {
		run = append(run, till.MustNext(ledgertest.Sale3(), now+int64(i)))
	}
	if i, err := ledger.VerifyRun(ledger.EventID{}, run); err != nil {
		t.Fatalf("good run: event %d: %v", i, err)
	}
	if i, err := ledger.VerifyRun(ledger.EventID{}, run[1:]); i != 0 || !errors.Is(err, ledger.ErrWrongPrev) {
		t.Fatalf("run without its first event: got %d %v", i, err)
	}
	// A gap in the middle breaks the chain.
	gap := append(append([]*ledger.Event{}, run[:10]...), run[11:]...)
	if i, err := ledger.VerifyRun(ledger.EventID{}, gap); i != 10 || !errors.Is(err, ledger.ErrSeqGap) {
		t.Fatalf("gap: got %d %v", i, err)
	}
	// A run whose newest event carries a bad signature fails as a whole.
	bad := *run[49]
	bad.Sig = append([]byte(nil), bad.Sig...)
	bad.Sig[0] ^= 1
	tampered := append(append([]*ledger.Event{}, run[:49]...), &bad)
	if i, err := ledger.VerifyRun(ledger.EventID{}, tampered); i != 49 || !errors.Is(err, ledger.ErrBadSignature) {
		t.Fatalf("bad newest signature: got %d %v", i, err)
	}
}

func TestCertificate(t *testing.T) {
	ca := ledgertest.Key(200)
	till := ledgertest.NewTill(store, 1, 3)
	c := till.Certificate(ca, "Front till", now)
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ledger.DecodeCertificate(b)
	if err != nil {
		t.Fatal(err)
	}
	caPub := ledger.TillOf(ca).PublicKey()
	if err := got.Verify(caPub, store); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := got.Verify(caPub, ledger.StoreID{7}); !errors.Is(err, ledger.ErrBadCert) {
		t.Errorf("other store: got %v", err)
	}
	got.Number = 4
	if err := got.Verify(caPub, store); !errors.Is(err, ledger.ErrBadCert) {
		t.Errorf("altered number: got %v", err)
	}
	if err := c.Verify(ledger.TillOf(ledgertest.Key(201)).PublicKey(), store); !errors.Is(err, ledger.ErrBadCert) {
		t.Errorf("other CA: got %v", err)
	}
}

func TestVectorDiff(t *testing.T) {
	a, b, c := ledger.TillID{1}, ledger.TillID{2}, ledger.TillID{3}
	v := ledger.Vector{a: 10, b: 5}
	o := ledger.Vector{a: 7, b: 9, c: 1}
	got := v.Diff(o)
	want := []ledger.Range{{Till: a, From: 8, To: 10}}
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("Diff = %+v, want %+v", got, want)
	}
	if d := o.Diff(v); len(d) != 2 || d[0] != (ledger.Range{Till: b, From: 6, To: 9}) || d[1] != (ledger.Range{Till: c, From: 1, To: 1}) {
		t.Fatalf("reverse Diff = %+v", d)
	}
	var zero ledger.Vector
	if len(zero.Diff(v)) != 0 || len(v.Diff(zero)) != 2 || !v.Covers(zero) || zero.Covers(v) {
		t.Fatal("nil vector is not a usable empty vector")
	}
}
