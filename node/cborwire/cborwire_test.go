package cborwire_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/tillmesh/tillmesh/node/cborwire"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	g := testkit.Imports(t, ".")
	g.OnlyFrom("github.com/tillmesh/tillmesh", "framing knows no tillmesh type")
	g.Never("the host is the caller's", "github.com/libp2p/go-libp2p")
}

type msg struct {
	A string `cbor:"1,keyasint,omitempty"`
	B []int  `cbor:"2,keyasint,omitempty"`
}

func (m *msg) Check() error {
	if m.A == "" {
		return errors.New("no A")
	}
	return nil
}

func codec(testing.TB) cborwire.Codec {
	return cborwire.MustCodec("test", 32, cborwire.Limits{Arrays: 16, Pairs: 16, Nesting: 4})
}

func TestFrame(t *testing.T) {
	c := codec(t)
	var b bytes.Buffer
	if err := c.Write(&b, msg{A: "hi", B: []int{1}}); err != nil {
		t.Fatal(err)
	}
	// uvarint length, then the CBOR body as cbor.Marshal writes it.
	if got, want := hex.EncodeToString(b.Bytes()), "08a201626869028101"; got != want {
		t.Fatalf("frame %s, want %s", got, want)
	}
	var m msg
	if err := c.Read(bufio.NewReader(&b), &m); err != nil || m.A != "hi" || len(m.B) != 1 {
		t.Fatalf("read back %+v %v", m, err)
	}

	if err := c.Write(&b, msg{A: strings.Repeat("x", 40)}); err == nil || !strings.Contains(err.Error(), "test: message of") {
		t.Fatalf("oversized write: %v", err)
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"length over the limit", "21", "limit 32"},
		{"huge length", "ffffffff0f", "limit 32"},
		{"short body", "08a2016268", "EOF"},
		{"not CBOR", "01ff", "test: decode"},
		{"array over the limit", "15a1029811" + strings.Repeat("01", 17), "test: decode"},
		{"no length", "", "EOF"},
		{"indefinite length", "06a1029f0101ff", "test: decode"},
		{"duplicate key", "07a2016161016162", "test: decode"},
	} {
		in, _ := hex.DecodeString(tc.in)
		err := c.Read(bufio.NewReader(bytes.NewReader(in)), &m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestServeAndCall runs Serve and Call over libp2p's in-memory network.
func TestServeAndCall(t *testing.T) {
	c := codec(t)
	net, err := mocknet.FullMeshConnected(2)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	srv, cli := net.Hosts()[0], net.Hosts()[1]
	const proto protocol.ID = "/test/1"
	decode := func(r *bufio.Reader) (msg, error) { return cborwire.Decode[msg](c, r) }
	var refuse atomic.Bool
	s := cborwire.Server[string, msg, msg]{
		Codec:   c,
		Admit:   func(p peer.ID) (string, bool) { return "till-" + p.String()[:4], !refuse.Load() },
		Decode:  decode,
		Handle:  func(_ context.Context, from string, m msg) msg { return msg{A: fmt.Sprintf("%s:%s", from, m.A)} },
		Refuse:  func(err error) msg { return msg{A: "refused: " + err.Error()} },
		Timeout: 5 * time.Second,
	}
	srv.SetStreamHandler(proto, s.Serve)
	call := func(req msg) (msg, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return cborwire.Call(ctx, cli, srv.ID(), c, []protocol.ID{"/test/2", proto}, req, decode)
	}

	got, err := call(msg{A: "hi"})
	if want := "till-" + cli.ID().String()[:4] + ":hi"; err != nil || got.A != want {
		t.Fatalf("answer %+v %v, want %q", got, err, want)
	}
	got, err = call(msg{B: []int{1}})
	if err != nil || got.A != "refused: no A" {
		t.Fatalf("bad request answered %+v %v", got, err)
	}
	if _, err := call(msg{A: strings.Repeat("x", 40)}); err == nil || !strings.Contains(err.Error(), "send test request") {
		t.Fatalf("oversized request: %v", err)
	}
	refuse.Store(true)
	if _, err := call(msg{A: "hi"}); err == nil || !strings.Contains(err.Error(), "read test answer") {
		t.Fatalf("peer not admitted: %v", err)
	}
}
