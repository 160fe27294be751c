package custkey

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	g := testkit.Imports(t, ".")
	g.OnlyFrom("github.com/tillmesh/tillmesh", "the key protocol is wire and plumbing over ledger types",
		"github.com/tillmesh/tillmesh/ledger")
	g.Never("the host is the caller's", "github.com/libp2p/go-libp2p")
}

func frame(t testing.TB, v any) []byte {
	var b bytes.Buffer
	if err := writeMsg(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
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
