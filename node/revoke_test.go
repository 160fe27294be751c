package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/ui"
)

func connected(r *runningTill, number uint32) bool {
	for _, p := range r.Status(context.Background()).Peers {
		if p.Number == number {
			return p.Connected
		}
	}
	return false
}

// TestRevocationOnlyByTheStoreCA: a revocation entry in the CRDT that the
// store CA did not sign (written by any member of the mesh, or signed by
// another store's CA) revokes no one; one the CA signed, uploaded at one
// till, reaches the others and cuts the till off.
func TestRevocationOnlyByTheStoreCA(t *testing.T) {
	s := newStore(t, 3)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	c := s.start(t, s.tills[2], a.addr())
	waitFor(t, "a connected to b and c", func() bool { return connected(a, 2) && connected(a, 3) })

	// Unsigned, and signed by another store's CA, straight into the CRDT.
	if err := a.Inventory().Revoke(t.Context(), crdt.Revocation{ID: c.ID().String(), Reason: "forged"}); err != nil {
		t.Fatal(err)
	}
	otherDir := t.TempDir()
	if _, err := pki.InitStore(otherDir, "Other"); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateKey(otherDir + "/" + pki.CAKeyFileName)
	if err != nil {
		t.Fatal(err)
	}
	forged := &ledger.Revocation{Store: s.store.ID, Till: b.ID(), Number: 2, Issued: 1}
	if err := forged.Sign(ca); err != nil {
		t.Fatal(err)
	}
	enc, _ := forged.Encode()
	if err := a.Inventory().Revoke(t.Context(), crdt.Revocation{ID: b.ID().String(), Signed: enc}); err != nil {
		t.Fatal(err)
	}
	if rs, _ := a.Revocations(t.Context()); len(rs) != 0 {
		t.Fatalf("unsigned or foreign revocations took effect: %+v", rs)
	}
	// The same forged file uploaded is refused with a reason.
	file, _ := os.ReadFile(writeRevocation(t, forged))
	if _, err := a.UploadRevocation(t.Context(), file); !errors.Is(err, ui.ErrBadRequest) || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("foreign revocation uploaded: %v", err)
	}

	// The store CA's revocation of till 2, uploaded at a.
	_, path, err := node.RevokeTill(s.dir, 2, 0, "stolen", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	file, _ = os.ReadFile(path)
	if _, err := a.UploadRevocation(t.Context(), file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c to learn the revocation through the mesh", func() bool {
		rs, _ := c.Revocations(t.Context())
		return len(rs) == 1 && rs[0].Number == 2
	})
	waitFor(t, "a to drop b", func() bool { return !connected(a, 2) })
	if !connected(a, 3) {
		t.Error("a dropped c, whose revocation was forged")
	}
	if _, _, err := node.RevokeTill(s.dir, 7, 0, "", time.Now()); !errors.Is(err, node.ErrUnknownTill) {
		t.Errorf("revoke of a number never enrolled: %v", err)
	}
}

func writeRevocation(t *testing.T, r *ledger.Revocation) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	p := t.TempDir() + "/revoke.json"
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
