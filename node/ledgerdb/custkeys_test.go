package ledgerdb_test

import (
	"bytes"
	"testing"
)

// TestCustomerKeys: keys survive a reopen, are kept per customer (one
// number is not a prefix of another's keys), and deleting a customer's
// keys leaves the others; bad input stores nothing.
func TestCustomerKeys(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	if err := db.PutCustomerKey("100001", [8]byte{1}, k1); err != nil {
		t.Fatal(err)
	}
	if err := db.PutCustomerKey("1000011", [8]byte{2}, k2); err != nil {
		t.Fatal(err)
	}
	if err := db.PutCustomerKey("100001", [8]byte{3}, k1[:16]); err == nil {
		t.Fatal("short key stored")
	}
	if err := db.PutCustomerKey("10/0", [8]byte{3}, k1); err == nil {
		t.Fatal("key of a malformed number stored")
	}
	db.Close()
	db = open(t, dir)
	defer db.Close()
	got, err := db.CustomerKeys("100001")
	if err != nil || len(got) != 1 || !bytes.Equal(got[[8]byte{1}], k1) {
		t.Fatalf("keys of 100001: %v %v", got, err)
	}
	if k, ok, err := db.CustomerKey("100001", [8]byte{1}); !ok || err != nil || !bytes.Equal(k, k1) {
		t.Fatalf("key 1 of 100001: %v %v %v", k, ok, err)
	}
	if _, ok, err := db.CustomerKey("100001", [8]byte{2}); ok || err != nil {
		t.Fatalf("another customer's key id found: %v %v", ok, err)
	}
	if n, err := db.DeleteCustomerKeys("100001"); n != 1 || err != nil {
		t.Fatalf("delete: %d %v", n, err)
	}
	if got, _ := db.CustomerKeys("100001"); len(got) != 0 {
		t.Fatalf("keys after delete: %v", got)
	}
	if got, _ := db.CustomerKeys("1000011"); len(got) != 1 {
		t.Fatalf("another customer's keys after delete: %v", got)
	}
}
