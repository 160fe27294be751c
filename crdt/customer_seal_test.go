package crdt

import (
	"errors"
	"strings"
	"testing"
)

// TestSealedSlotRoundTrip: a sealed slot holds no field in plain, opens
// with its key to the edits sealed, and does not open with another key
// or once moved to another customer, field or edit.
func TestSealedSlotRoundTrip(t *testing.T) {
	id, key, err := NewCustomerKey()
	if err != nil {
		t.Fatal(err)
	}
	edits := createEdits(Customer{Name: "Quilla Vantongeren", Phone: "0171 5550177", Card: "LOY-77"}, hlc(5), "t1")
	sealed, err := sealEdits("100001", key, edits)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeValue(customerSlot{Number: "100001", Key: id[:], Sealed: sealed})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		if strings.Contains(string(b), e.Value) {
			t.Fatalf("sealed slot holds %q in plain", e.Value)
		}
	}
	slot, err := decodeCustomerSlot(b)
	if err != nil || !slot.sealed() || slot.keyID() != id {
		t.Fatalf("decode sealed slot: %+v, %v", slot, err)
	}
	got, err := openEdits("100001", key, slot.Sealed)
	if err != nil || MergeCustomer("100001", got) != MergeCustomer("100001", edits) {
		t.Fatalf("opened %+v, %v; want %+v", got, err, edits)
	}
	_, other, _ := NewCustomerKey()
	moved := append([]sealedEdit(nil), slot.Sealed...)
	moved[0].At = hlc(6)
	swapped := append([]sealedEdit(nil), slot.Sealed...)
	swapped[0].Field = FieldNotes
	for name, try := range map[string]func() error{
		"another key":      func() error { _, err := openEdits("100001", other, slot.Sealed); return err },
		"another customer": func() error { _, err := openEdits("100002", key, slot.Sealed); return err },
		"another clock":    func() error { _, err := openEdits("100001", key, moved); return err },
		"another field":    func() error { _, err := openEdits("100001", key, swapped); return err },
	} {
		if err := try(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	// A slot both plain and sealed, or with a short key ID, is refused.
	for _, bad := range []customerSlot{
		{Number: "100001", Key: id[:], Sealed: sealed, Edits: edits},
		{Number: "100001", Key: id[:4], Sealed: sealed},
		{Number: "100001", Key: id[:]},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("slot %+v: %v, want ErrInvalid", bad, err)
		}
	}
}

// TestCustomerIndexPending: a customer with a sealed slot waiting for its
// key shows its number only and is found by number only, until the slot
// opens.
func TestCustomerIndexPending(t *testing.T) {
	x := newCustomerIndex()
	id, _, _ := NewCustomerKey()
	x.applySlot("100001", "/customer/100001/t1/e", createEdits(Customer{Name: "Anna", Card: "LOY-1"}, hlc(1), "t1"))
	x.markPending("100001", "/customer/100001/t2/e", id)
	c, _, _ := x.get("100001")
	if !c.Unavailable || c.Name != "" || c.Number != "100001" {
		t.Fatalf("pending customer shows %+v", c)
	}
	if got := x.find("Anna", 5); len(got) != 0 {
		t.Fatalf("found a pending customer by name: %+v", got)
	}
	if got := x.byCard("LOY-1"); len(got) != 0 {
		t.Fatalf("found a pending customer by card: %+v", got)
	}
	if got := x.find("100001", 5); len(got) != 1 || !got[0].Unavailable {
		t.Fatalf("pending customer by number: %+v", got)
	}
	if p := x.pendingKeys(); len(p["100001"]) != 1 || p["100001"][0] != id {
		t.Fatalf("pending keys %v", p)
	}
	x.applySlot("100001", "/customer/100001/t2/e", createEdits(Customer{Phone: "0171 5550101"}, hlc(2), "t2"))
	c, _, _ = x.get("100001")
	if c.Unavailable || c.Name != "Anna" || c.Phone != "0171 5550101" {
		t.Fatalf("opened customer shows %+v", c)
	}
	if got := x.byCard("LOY-1"); len(got) != 1 {
		t.Fatalf("card after the slot opened: %+v", got)
	}
}
