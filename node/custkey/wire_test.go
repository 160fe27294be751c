package custkey

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	g := testkit.Imports(t, ".")
	g.OnlyFrom("github.com/tillmesh/tillmesh", "the key protocol is wire and plumbing over ledger types",
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

// TestWireUnchanged pins the bytes of a request and of answers: tills of
// older releases read exactly these.
func TestWireUnchanged(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{Request{Push: []Key{{Customer: "100001", ID: [8]byte{1, 2}, Key: []byte("0123456789abcdef0123456789abcdef")}}, Pull: []string{"100002"}},
			"42a20181a30166313030303031024801020000000000000358203031323334353637383961626364656630313233343536373839616263646566028166313030303032"},
		{Response{Keys: []Key{{Customer: "100002", ID: [8]byte{3}, Key: []byte("fedcba9876543210fedcba9876543210")}}},
			"39a10181a30166313030303032024803000000000000000358206665646362613938373635343332313066656463626139383736353433323130"},
		{Response{Error: "keys not stored"}, "12a1026f6b657973206e6f742073746f726564"},
	} {
		if got := hex.EncodeToString(frame(t, tc.v)); got != tc.want {
			t.Errorf("frame of %+v:\n got %s\nwant %s", tc.v, got, tc.want)
		}
	}
}

func TestDecodeRefusesBadInput(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeyLen)
	good := Request{Push: []Key{{Customer: "100001", ID: [8]byte{1}, Key: key}}, Pull: []string{"100002"}}
	if got, err := DecodeRequest(bufio.NewReader(bytes.NewReader(frame(t, good)))); err != nil || got.Push[0].Customer != "100001" || got.Pull[0] != "100002" {
		t.Fatalf("good request: %+v %v", got, err)
	}
	many := make([]string, MaxRequest+1)
	for i := range many {
		many[i] = "100001"
	}
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"empty", Request{}, "0 keys and customers"},
		{"too many", Request{Pull: many}, "want 1..256"},
		{"short key", Request{Push: []Key{{Customer: "100001", Key: key[:16]}}}, "16 bytes"},
		{"bad number", Request{Push: []Key{{Customer: "10/01", Key: key}}}, "customer"},
		{"bad pull", Request{Pull: []string{""}}, "pull"},
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
	if _, err := DecodeResponse(bufio.NewReader(bytes.NewReader(frame(t, Response{Keys: []Key{{Customer: "1", Key: key[:3]}}})))); err == nil {
		t.Fatal("answer with a short key accepted")
	}
}

func FuzzDecodeRequest(f *testing.F) {
	key := bytes.Repeat([]byte{7}, KeyLen)
	f.Add(frame(f, Request{Push: []Key{{Customer: "100001", ID: [8]byte{1}, Key: key}}}))
	f.Add(frame(f, Request{Pull: []string{"100001", "100002"}}))
	f.Add(frame(f, Response{Keys: []Key{{Customer: "100001", Key: key}}}))
	f.Add([]byte{0x03, 0xa1, 0x02, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := DecodeRequest(bufio.NewReader(bytes.NewReader(b))); err == nil {
			if err := req.Check(); err != nil {
				t.Fatalf("decoded request fails its check: %v", err)
			}
		}
		if res, err := DecodeResponse(bufio.NewReader(bytes.NewReader(b))); err == nil {
			if err := res.Check(); err != nil {
				t.Fatalf("decoded answer fails its check: %v", err)
			}
		}
	})
}
