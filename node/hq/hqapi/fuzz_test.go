package hqapi

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

func seedUpload() *Upload {
	till := ledgertest.NewTill(ledger.StoreID{1}, 1, 1)
	ev := till.MustNext(ledgertest.Sale3(), 1_700_000_000_000)
	c := till.Certificate(ledgertest.Key(9), "Till 1", 1)
	cb, _ := c.Encode()
	return &Upload{Fence: 3, Vector: ledger.Vector{till.ID: 1}, Certs: [][]byte{cb}, Events: [][]byte{ev.Bytes()},
		Versions: map[ledger.TillID]string{till.ID: "v1.0.0"}}
}

// FuzzDecodeUpload feeds the upload decoder arbitrary bodies in both
// content types: it must never panic, and what it accepts must keep to
// the limits and encode again.
func FuzzDecodeUpload(f *testing.F) {
	u := seedUpload()
	cb, _ := EncodeUpload(u)
	jb, _ := json.Marshal(u)
	f.Add(true, cb)
	f.Add(false, jb)
	f.Add(false, []byte(`{"fence":1,"events":[]}`))
	f.Add(true, []byte{0xa1, 0x04, 0x80})
	f.Add(true, []byte{0xa2, 0x04, 0x80, 0x18, 0x63, 0x01}) // a key a newer relay adds
	f.Fuzz(func(t *testing.T, isCBOR bool, body []byte) {
		ct := ContentJSON
		if isCBOR {
			ct = ContentCBOR
		}
		u, err := DecodeUpload(ct, body)
		if err != nil {
			return
		}
		if len(u.Events) > MaxBatch || len(u.Certs) > MaxCerts || len(u.Vector) > MaxVectorTills {
			t.Fatalf("accepted an upload over the limits: %d events, %d certs, %d tills", len(u.Events), len(u.Certs), len(u.Vector))
		}
		for _, e := range u.Events {
			if len(e) == 0 || len(e) > ledger.MaxEventSize {
				t.Fatalf("accepted an event of %d bytes", len(e))
			}
		}
		b, err := EncodeUpload(u)
		if err != nil {
			t.Fatalf("accepted upload does not encode: %v", err)
		}
		if _, err := DecodeUpload(ContentCBOR, b); err != nil {
			t.Fatalf("re-encoded upload does not decode: %v", err)
		}
	})
}

// FuzzParseAuth: the authorization header parser never panics, and a
// header it accepts verifies only the request it signed.
func FuzzParseAuth(f *testing.F) {
	key := ledgertest.Key(3)
	req, _ := http.NewRequest("GET", "http://hq/v1/stores/00/vector", nil)
	Sign(req, key, nil, nil, 1_700_000_000_000)
	f.Add(req.Header.Get(HeaderAuth))
	f.Add("Tillmesh-Ed25519 till=00,ts=1,sig=AA")
	f.Add("Basic Zm9vOmJhcg==")
	f.Fuzz(func(t *testing.T, h string) {
		c, err := ParseAuth(h)
		if err != nil {
			return
		}
		if len(c.Sig) != ed25519.SignatureSize {
			t.Fatalf("accepted a %d-byte signature", len(c.Sig))
		}
		if c.Verify("POST", "/other", []byte("x")) {
			t.Fatal("a header verified a request it did not sign")
		}
	})
}

// FuzzDecodeHeaders covers the vector and certificate headers.
func FuzzDecodeHeaders(f *testing.F) {
	u := seedUpload()
	v, _ := EncodeVector(u.Vector)
	f.Add(v)
	f.Add(b64.EncodeToString(u.Certs[0]))
	f.Add("")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := DecodeVector(s); err == nil && len(v) > MaxVectorTills {
			t.Fatalf("vector of %d tills accepted", len(v))
		}
		if c, err := DecodeCertHeader(s); err == nil {
			if _, err := c.Encode(); err != nil {
				t.Fatalf("accepted certificate does not encode: %v", err)
			}
		}
	})
}

func TestSignVerify(t *testing.T) {
	key := ledgertest.Key(4)
	body := []byte("batch")
	req, _ := http.NewRequest("POST", "http://hq/v1/stores/ab/events?x=1", bytes.NewReader(body))
	Sign(req, key, []byte{1, 2}, body, 42)
	c, err := ParseAuth(req.Header.Get(HeaderAuth))
	if err != nil {
		t.Fatal(err)
	}
	if c.Till != ledger.TillOf(key) || c.Time != 42 {
		t.Errorf("parsed %+v", c)
	}
	tests := []struct {
		method, path string
		body         []byte
		want         bool
	}{
		{"POST", "/v1/stores/ab/events?x=1", body, true},
		{"GET", "/v1/stores/ab/events?x=1", body, false},
		{"POST", "/v1/stores/ab/events?x=2", body, false},
		{"POST", "/v1/stores/ab/events?x=1", []byte("batch!"), false},
	}
	for _, tc := range tests {
		if got := c.Verify(tc.method, tc.path, tc.body); got != tc.want {
			t.Errorf("Verify(%s %s %q) = %v, want %v", tc.method, tc.path, tc.body, got, tc.want)
		}
	}
	if req.Header.Get(HeaderCert) == "" {
		t.Error("no certificate header")
	}
}

// FuzzParseVersions: any HeaderVersions value parses to versions HQ can
// negotiate with, or to ErrBadRequest; never a panic.
func FuzzParseVersions(f *testing.F) {
	f.Add("2, 1")
	f.Add("")
	f.Add("1,1,1")
	f.Add("-3")
	f.Fuzz(func(t *testing.T, h string) {
		vs, err := ParseVersions(h)
		if err != nil {
			return
		}
		for _, v := range vs {
			if v < 1 {
				t.Fatalf("parsed version %d from %q", v, h)
			}
		}
		if v, err := Negotiate(vs, Versions()); err == nil && v != 1 {
			t.Fatalf("negotiated %d", v)
		}
	})
}
