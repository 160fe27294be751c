package node

import (
	"errors"
	"testing"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node/pinhash"
	"github.com/tillmesh/tillmesh/ui"
)

// The dummy hash must be one VerifyPIN reads, so that an unknown staff
// number costs a full argon2id run like a wrong PIN.
func TestDummyPINHashIsReadable(t *testing.T) {
	ok, err := pinhash.Verify(dummyPINHash, "0000")
	if err != nil || ok {
		t.Fatalf("VerifyPIN(dummy) = %v, %v; want false, nil", ok, err)
	}
}

func TestStaffRecord(t *testing.T) {
	st, err := StaffRecord("1", " Maria ", ui.RoleManager, "1234")
	if err != nil || st.Name != "Maria" || st.Role != crdt.RoleManager {
		t.Fatalf("StaffRecord: %+v %v", st, err)
	}
	if ok, err := pinhash.Verify(string(st.PINHash), "1234"); !ok || err != nil {
		t.Fatalf("hash does not check the PIN: %v %v", ok, err)
	}
	for _, bad := range []struct{ id, name, role, pin string }{
		{"1", "Maria", "boss", "1234"}, {"1", "Maria", "manager", "12"}, {"", "Maria", "manager", "1234"}, {"1", "", "cashier", "1234"},
	} {
		if _, err := StaffRecord(bad.id, bad.name, ui.Role(bad.role), bad.pin); !errors.Is(err, ui.ErrBadRequest) {
			t.Errorf("StaffRecord(%+v): %v, want ErrBadRequest", bad, err)
		}
	}
}
