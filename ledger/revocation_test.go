package ledger_test

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

func TestRevocationSignVerify(t *testing.T) {
	_, ca, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	var store ledger.StoreID
	store[0] = 1
	r := &ledger.Revocation{Store: store, Number: 2, AfterSeq: 10, Reason: "stolen", Issued: 5}
	r.Till[0] = 9
	if err := r.Sign(ca); err != nil {
		t.Fatal(err)
	}
	pub := ca.Public().(ed25519.PublicKey)
	if err := r.Verify(pub, store); err != nil {
		t.Fatalf("good revocation: %v", err)
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ledger.DecodeRevocation(b)
	if err != nil || back.Verify(pub, store) != nil || back.AfterSeq != 10 {
		t.Fatalf("decoded: %+v %v", back, err)
	}
	forged := *r
	forged.AfterSeq = 1000
	if err := forged.Verify(pub, store); !errors.Is(err, ledger.ErrBadRevocation) {
		t.Errorf("altered after_seq: %v", err)
	}
	if err := r.Verify(other.Public().(ed25519.PublicKey), store); !errors.Is(err, ledger.ErrBadRevocation) {
		t.Errorf("another store's CA: %v", err)
	}
	var store2 ledger.StoreID
	if err := r.Verify(pub, store2); !errors.Is(err, ledger.ErrBadRevocation) {
		t.Errorf("another store: %v", err)
	}
	if _, err := ledger.DecodeRevocation([]byte{0xff, 0x00}); !errors.Is(err, ledger.ErrBadRevocation) {
		t.Errorf("garbage: %v", err)
	}
}

func FuzzDecodeRevocation(f *testing.F) {
	f.Add([]byte{0xa1, 0x01, 0x50})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ledger.DecodeRevocation(b)
		if err != nil {
			return
		}
		if _, err := r.Encode(); err != nil {
			t.Fatal(err)
		}
	})
}
