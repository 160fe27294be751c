package node

import "testing"

// The dummy hash must be one VerifyPIN reads, so that an unknown staff
// number costs a full argon2id run like a wrong PIN.
func TestDummyPINHashIsReadable(t *testing.T) {
	ok, err := VerifyPIN(dummyPINHash, "0000")
	if err != nil || ok {
		t.Fatalf("VerifyPIN(dummy) = %v, %v; want false, nil", ok, err)
	}
}
