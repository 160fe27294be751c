package grant

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	g := testkit.Imports(t, ".")
	g.OnlyFrom("github.com/tillmesh/tillmesh", "the grant protocol is wire and plumbing over ledger types",
		"github.com/tillmesh/tillmesh/ledger", "github.com/tillmesh/tillmesh/node/cborwire")
	g.Never("the host is the caller's", "github.com/libp2p/go-libp2p")
}

func frame(t testing.TB, v any) []byte {
	var b bytes.Buffer
	if err := codec.Write(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestWireUnchanged pins the bytes of a request and an answer: tills of
// older releases read exactly these.
func TestWireUnchanged(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{Request{Sale: ledger.EventID{1, 2}, Picks: []Pick{{Line: 1, Qty: 2}}, Key: "k1"},
			"2fa301582001020000000000000000000000000000000000000000000000000000000000000281a20101020203626b31"},
		{Response{Code: CodeOverRefund, Error: "more than remains", Amount: 150},
			"4ba401a201582000000000000000000000000000000000000000000000000000000000000000000200036b6f7665725f726566756e6404716d6f7265207468616e2072656d61696e73051896"},
	} {
		if got := hex.EncodeToString(frame(t, tc.v)); got != tc.want {
			t.Errorf("frame of %+v:\n got %s\nwant %s", tc.v, got, tc.want)
		}
	}
	res, err := decodeResponse(bufio.NewReader(bytes.NewReader(frame(t, Response{Code: CodeOverRedeem, Amount: 7}))))
	if err != nil || res.Code != CodeOverRedeem || res.Amount != 7 {
		t.Fatalf("answer read back: %+v %v", res, err)
	}
}

func TestDecodeRequestRefusesBadInput(t *testing.T) {
	good := Request{Sale: ledger.EventID{1}, Picks: []Pick{{Line: 0, Qty: 1}}, Key: "k"}
	if got, err := DecodeRequest(bufio.NewReader(bytes.NewReader(frame(t, good)))); err != nil || got.Sale != good.Sale || got.Picks[0] != good.Picks[0] {
		t.Fatalf("good request: %+v %v", got, err)
	}
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"no sale", Request{Picks: good.Picks, Key: "k"}, "names no sale"},
		{"no lines", Request{Sale: good.Sale, Key: "k"}, "0 lines"},
		{"negative qty", Request{Sale: good.Sale, Picks: []Pick{{Line: 0, Qty: -1}}, Key: "k"}, "quantity -1"},
		{"fractional via zero", Request{Sale: good.Sale, Picks: []Pick{{Line: 0, Qty: 0}}, Key: "k"}, "quantity 0"},
		{"bad line", Request{Sale: good.Sale, Picks: []Pick{{Line: -2, Qty: 1}}, Key: "k"}, "sale line -2"},
		{"no key", Request{Sale: good.Sale, Picks: good.Picks}, "idempotency key"},
		{"void with no lines", Request{Sale: good.Sale, Key: "k", Void: true}, "0 lines"},
		{"void of a card", Request{Card: "GC-1", Amount: 1, Currency: "EUR", Key: "k", Void: true}, "both a card and a sale"},
	} {
		_, err := DecodeRequest(bufio.NewReader(bytes.NewReader(frame(t, tc.req))))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, err := DecodeRequest(bufio.NewReader(bytes.NewReader(huge))); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("huge frame: %v", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(frame(f, Request{Sale: ledger.EventID{1}, Picks: []Pick{{Line: 0, Qty: 1}}, Key: "k"}))
	f.Add(frame(f, Request{Sale: ledger.EventID{1}, Picks: []Pick{{Line: 0, Qty: 2}}, Key: "k", Void: true}))
	f.Add(frame(f, Response{Code: CodeOverRefund}))
	f.Add([]byte{0x05, 0xa1, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(bufio.NewReader(bytes.NewReader(b)))
		if err == nil {
			if err := req.Check(); err != nil {
				t.Fatalf("decoded request fails its check: %v", err)
			}
		}
	})
}
