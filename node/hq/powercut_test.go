package hq_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/badgeropen"
	"github.com/tillmesh/tillmesh/node/hq"
)

// TestBadgerOpensAfterPowerCutDuringStart: HQ's embedded store opens
// after a cut that left the logs of its last open at 0 bytes (dgraph-io/
// badger issue 2207), with what it held.
func TestBadgerOpensAfterPowerCutDuringStart(t *testing.T) {
	dir := t.TempDir()
	st, err := hq.OpenBadger(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	rec := hq.StoreRecord{ID: ledger.StoreID{9}, Name: "Cut", CA: make(ed25519.PublicKey, ed25519.PublicKeySize), Created: 1}
	if err := st.PutStore(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := badgeropen.LeaveCutAtOpen(dir); err != nil {
		t.Fatal(err)
	}
	st, err = hq.OpenBadger(dir, quiet())
	if err != nil {
		t.Fatalf("open after a cut during start-up: %v", err)
	}
	defer st.Close()
	stores, err := st.Stores(t.Context())
	if err != nil || len(stores) != 1 || stores[0].Name != "Cut" {
		t.Errorf("stores after the cut: got %+v, %v; want the one stored", stores, err)
	}
}
