package crdt

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	ds "github.com/ipfs/go-datastore"
)

func TestStaffValidate(t *testing.T) {
	good := Staff{ID: "s1", Name: "Ann", PINHash: []byte("h"), Role: RoleCashier}
	for _, tc := range []struct {
		name string
		mut  func(*Staff)
		ok   bool
	}{
		{"good", func(*Staff) {}, true},
		{"manager", func(s *Staff) { s.Role = RoleManager }, true},
		{"supervisor", func(s *Staff) { s.Role = RoleSupervisor }, true},
		{"inactive", func(s *Staff) { s.Inactive = true }, true},
		{"removed", func(s *Staff) { s.Removed, s.PINHash = true, nil }, true},
		{"removed with a hash", func(s *Staff) { s.Removed = true }, false},
		{"no hash", func(s *Staff) { s.PINHash = nil }, false},
		{"huge hash", func(s *Staff) { s.PINHash = make([]byte, maxPINHashLen+1) }, false},
		{"role", func(s *Staff) { s.Role = "admin" }, false},
		{"id", func(s *Staff) { s.ID = "-x" }, false},
		{"name", func(s *Staff) { s.Name = "" }, false},
	} {
		s := good
		tc.mut(&s)
		if err := s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	p := testProduct("SKU-1", 199, "4006381333931", "29-A")
	b, err := encodeValue(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeProduct(b)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("decodeProduct = %+v, %v; want %+v", got, err, p)
	}
	// Deterministic: the same product always encodes to the same bytes.
	b2, _ := encodeValue(p)
	if !bytes.Equal(b, b2) {
		t.Error("two encodings of one product differ")
	}
	if _, err := encodeValue(Product{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("encode invalid product: %v", err)
	}
	st := Staff{ID: "s1", Name: "Ann", PINHash: []byte{1, 2}, Role: RoleManager}
	b, _ = encodeValue(st)
	if got, err := decodeStaff(b); err != nil || !reflect.DeepEqual(got, st) {
		t.Errorf("decodeStaff = %+v, %v", got, err)
	}
	// An entry written before Inactive and Removed existed reads as
	// active, and one that has them round-trips.
	old, _ := encMode.Marshal(map[int]any{1: "s2", 2: "Bo", 3: []byte{1}, 4: "cashier"})
	if got, err := decodeStaff(old); err != nil || got.Inactive || got.Removed {
		t.Errorf("old entry: %+v, %v", got, err)
	}
	for _, st := range []Staff{{ID: "s3", Name: "Cy", PINHash: []byte{1}, Role: RoleSupervisor, Inactive: true}, {ID: "s4", Name: "Di", Role: RoleCashier, Removed: true}} {
		b, _ = encodeValue(st)
		if got, err := decodeStaff(b); err != nil || !reflect.DeepEqual(got, st) {
			t.Errorf("decodeStaff = %+v, %v; want %+v", got, err, st)
		}
	}
	r := Revocation{ID: "till-9", Reason: "lost", At: 5, AfterSeq: 7, Signed: []byte{1, 2, 3}}
	b, _ = encodeValue(r)
	if got, err := decodeRevocation(b); err != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("decodeRevocation = %+v, %v", got, err)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	valid, _ := encodeValue(testProduct("A", 1))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"null", []byte{0xf6}},
		{"integer", []byte{0x01}},
		{"array", []byte{0x80}},
		{"empty map", []byte{0xa0}},
		{"truncated", valid[:len(valid)-1]},
		{"trailing byte", append(append([]byte(nil), valid...), 0)},
		{"wrong type for price", []byte{0xa1, 0x04, 0x61, 'x'}},
		{"duplicate key", []byte{0xa2, 0x01, 0x61, 'A', 0x01, 0x61, 'B'}},
		{"indefinite map", []byte{0xbf, 0xff}},
		{"tag", []byte{0xc1, 0xa0}},
		{"slot bytes", encodeSlot(Slot{Seq: 1, Total: 2})},
	} {
		if _, err := decodeProduct(tc.in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decodeProduct err = %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func TestSlotEncoding(t *testing.T) {
	for _, s := range []Slot{{1, 0}, {2, -5}, {math.MaxUint64, math.MinInt64}, {7, math.MaxInt64}} {
		got, err := decodeSlot(encodeSlot(s))
		if err != nil || got != s {
			t.Errorf("round trip %+v = %+v, %v", s, got, err)
		}
	}
	// At equal DAG height go-ds-crdt keeps the larger bytes: a later seq
	// must win whatever the totals.
	older, newer := encodeSlot(Slot{Seq: 9, Total: 100}), encodeSlot(Slot{Seq: 10, Total: -100})
	if bytes.Compare(newer, older) <= 0 {
		t.Error("a higher seq does not encode to larger bytes")
	}
	for _, bad := range [][]byte{nil, make([]byte, 15), make([]byte, 17), make([]byte, 16)} {
		if _, err := decodeSlot(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeSlot(%x) err = %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestKeys(t *testing.T) {
	k := stockKey("SKU.1", "till-2", "00ff")
	sku, till, epoch, ok := parseStockKey(k.String())
	if !ok || sku != "SKU.1" || till != "till-2" || epoch != "00ff" {
		t.Errorf("parseStockKey(%s) = %q %q %q %v", k, sku, till, epoch, ok)
	}
	for _, bad := range []string{"/stock/a/b", "/stock/a/b/c/d", "/product/a/b/c", "/stock/a/../c"} {
		if _, _, _, ok := parseStockKey(bad); ok {
			t.Errorf("parseStockKey(%s) ok", bad)
		}
	}
	for key, want := range map[string]Change{
		"/product/A":       {Kind: ChangeProduct, ID: "A"},
		"/stock/A/t1/e1":   {Kind: ChangeStock, ID: "A", Till: "t1", Epoch: "e1"},
		"/revoked/peer-1":  {Kind: ChangeRevocation, ID: "peer-1"},
		"/setting/x.y":     {Kind: ChangeSetting, ID: "x.y"},
		"/cert/till-1":     {Kind: ChangeCertificate, ID: "till-1"},
		"/staff/s1":        {Kind: ChangeStaff, ID: "s1"},
		"/unknown/x":       {},
		"/product/a/extra": {},
	} {
		got, ok := changeOf(key)
		if got != want || ok != (want.Kind != 0) {
			t.Errorf("changeOf(%s) = %+v %v, want %+v", key, got, ok, want)
		}
	}
	o := &observedStore{valuePrefix: "/inventory/c/s/k/"}
	for in, want := range map[string]string{
		"/inventory/c/s/k/product/A/v":   "/product/A",
		"/inventory/c/s/k/setting/v/v":   "/setting/v",
		"/inventory/c/s/k/product/A/p":   "",
		"/inventory/c/s/s/product/A/v":   "",
		"/inventory/c/s/k/stock/A/t/e/v": "/stock/A/t/e",
	} {
		got, ok := o.crdtKey(ds.RawKey(in))
		if got != want || ok != (want != "") {
			t.Errorf("crdtKey(%s) = %q %v, want %q", in, got, ok, want)
		}
	}
}

// ---- fuzzing: every decoder that reads bytes from peers ----

func FuzzDecodeProduct(f *testing.F) {
	for _, p := range []Product{testProduct("A", 1, "123"), testProduct("B-2", 0)} {
		b, _ := encodeValue(p)
		f.Add(b)
	}
	f.Add([]byte{0xa0})
	f.Add([]byte{0xf6})
	f.Add([]byte{0xa1, 0x01, 0x61, 'A'})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeProduct(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("decoded an invalid product: %v", err)
		}
		b2, err := encodeValue(p)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		p2, err := decodeProduct(b2)
		if err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip: %+v != %+v (%v)", p, p2, err)
		}
	})
}

func FuzzDecodeStaff(f *testing.F) {
	b, _ := encodeValue(Staff{ID: "s1", Name: "Ann", PINHash: []byte{1}, Role: RoleCashier})
	f.Add(b)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeStaff(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("decoded invalid staff: %v", err)
		}
	})
}

func FuzzDecodeSlot(f *testing.F) {
	f.Add(encodeSlot(Slot{Seq: 1, Total: -3}))
	f.Add(encodeSlot(Slot{Seq: math.MaxUint64, Total: math.MinInt64}))
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSlot(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if s.Seq == 0 || !bytes.Equal(encodeSlot(s), b) {
			t.Fatalf("decodeSlot(%x) = %+v does not re-encode to its input", b, s)
		}
	})
}

func FuzzDecodeHeads(f *testing.F) {
	c := testCID(f, "x")
	good, _ := encodeHeads(append(testCIDs(f, 3), c))
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		heads, err := decodeHeads(b)
		if err != nil {
			return
		}
		if len(heads) == 0 || len(heads) > maxAnnouncedHeads {
			t.Fatalf("%d heads accepted", len(heads))
		}
		for _, h := range heads {
			if !h.Defined() {
				t.Fatal("undefined cid accepted")
			}
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	cs := testCIDs(f, 2)
	good, _ := encMode.Marshal(blockRequest{Want: [][]byte{cs[0].Bytes()}, Have: [][]byte{cs[1].Bytes()}, Limit: 10})
	f.Add(good)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(b)
		if err != nil {
			return
		}
		if len(req.want) == 0 || req.limit < 1 || req.limit > maxServeBlocks {
			t.Fatalf("bad request accepted: %+v", req)
		}
	})
}
