package crdt

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

func hlc(wall int64) ledger.HLC { return ledger.HLC{Wall: wall} }

// create returns the edits that set every non-empty field of c.
func createEdits(c Customer, at ledger.HLC, by string) []FieldEdit {
	var out []FieldEdit
	for _, f := range CustomerFields {
		if v := c.Get(f); v != "" {
			out = append(out, FieldEdit{Field: f, Value: v, At: at, By: by})
		}
	}
	return out
}

func TestCheckCustomerField(t *testing.T) {
	for _, tc := range []struct {
		f  CustomerField
		v  string
		ok bool
	}{
		{FieldName, "Anna Meier", true},
		{FieldName, "", true},
		{FieldName, strings.Repeat("a", MaxCustomerNameLen), true},
		{FieldName, strings.Repeat("a", MaxCustomerNameLen+1), false},
		{FieldName, "Anna\x00", false},
		{FieldName, " Anna", false},
		{FieldName, "\xff", false},
		{FieldPhone, "+49 171 555-0101", true},
		{FieldPhone, "(030) 555 01 01", true},
		{FieldPhone, "1234", false},
		{FieldPhone, "+49 171 abc", false},
		{FieldPhone, "49+171555", false},
		{FieldPhone, "1234567890123456", false},
		{FieldEmail, "anna@example.com", true},
		{FieldEmail, "Anna <anna@example.com>", false},
		{FieldEmail, "anna@localhost", false},
		{FieldEmail, "anna.example.com", false},
		{FieldEmail, "anna@@example.com", false},
		{FieldCard, "LOY-0001", true},
		{FieldCard, "LOY 0001", false},
		{FieldCard, strings.Repeat("9", MaxCustomerCardLen+1), false},
		{FieldConsent, "true", true},
		{FieldConsent, "yes", false},
		{FieldNotes, "likes rye\nno nuts", true},
		{FieldNotes, strings.Repeat("n", MaxCustomerNotesLen+1), false},
		{FieldHomeStore, "berlin-1", true},
		{FieldHomeStore, "a/b", false},
		{CustomerField(99), "x", false},
	} {
		err := CheckCustomerField(tc.f, tc.v)
		if (err == nil) != tc.ok {
			t.Errorf("CheckCustomerField(%s, %q) = %v, want ok %v", tc.f, tc.v, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckCustomerField(%s, %q) = %v, does not wrap ErrInvalid", tc.f, tc.v, err)
		}
		if err != nil && !strings.Contains(err.Error(), tc.f.String()) {
			t.Errorf("error %q does not name field %s", err, tc.f)
		}
	}
}

// TestMergeCustomerOrderFree: every replica merges the same edits into the
// same record, whatever order the slots arrive in, and the greatest
// (HLC, till) wins each field.
func TestMergeCustomerOrderFree(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	tills := []string{"1", "2", "3", "hq"}
	for range 200 {
		var edits []FieldEdit
		for range 1 + rng.IntN(20) {
			f := CustomerFields[rng.IntN(len(CustomerFields))]
			v := fmt.Sprintf("v%d", rng.IntN(100))
			switch f {
			case FieldPhone:
				v = fmt.Sprintf("0171%07d", rng.IntN(1e7))
			case FieldEmail:
				v = fmt.Sprintf("a%d@example.com", rng.IntN(100))
			case FieldConsent:
				v = []string{"", "true"}[rng.IntN(2)]
			}
			edits = append(edits, FieldEdit{Field: f, Value: v, At: ledger.HLC{Wall: 1 + rng.Int64N(5), Logical: rng.Uint32N(2)}, By: tills[rng.IntN(len(tills))]})
		}
		want := MergeCustomer("42", edits)
		// The reference: for each field, the edit with the greatest (At, By).
		for _, f := range CustomerFields {
			var best *FieldEdit
			for i := range edits {
				e := &edits[i]
				if e.Field == f && (best == nil || e.At.After(best.At) || (e.At == best.At && (e.By > best.By || e.By == best.By && e.Value > best.Value))) {
					best = e
				}
			}
			if best != nil && want.Get(f) != best.Value {
				t.Fatalf("field %s = %q, want %q from %+v (edits %+v)", f, want.Get(f), best.Value, *best, edits)
			}
		}
		for range 5 {
			rng.Shuffle(len(edits), func(i, j int) { edits[i], edits[j] = edits[j], edits[i] })
			if got := MergeCustomer("42", edits); got != want {
				t.Fatalf("merge depends on order: %+v != %+v", got, want)
			}
		}
	}
}

func TestCustomerIndexFind(t *testing.T) {
	x := newCustomerIndex()
	add := func(c Customer) {
		x.applySlot(c.Number, "", createEdits(c, hlc(1), "1"))
	}
	add(Customer{Number: "100001", Name: "Anna Meier", Phone: "+49 171 555-0101", Card: "LOY-0001"})
	add(Customer{Number: "100002", Name: "Ben Annaberg", Phone: "030 1234567", Email: "ben@example.com"})
	add(Customer{Number: "100003", Name: "Carla", Card: "100001"}) // a card that reads like a number
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"LOY-0001", []string{"100001"}},
		{"  LOY-0001\n", []string{"100001"}},
		{"anna", []string{"100001", "100002"}},
		{"ANNA M", []string{"100001"}},
		{"171 555", []string{"100001"}},
		{"1715550101", []string{"100001"}},
		{"ben@exa", []string{"100002"}},
		{"100001", []string{"100003", "100001"}}, // the card first, then the number
		{"zzz", nil},
		{"", nil},
	} {
		var got []string
		for _, c := range x.find(tc.q, 10) {
			got = append(got, c.Number)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("find(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
	x.applyErasure("100001")
	if got := x.find("anna", 10); len(got) != 1 || got[0].Number != "100002" {
		t.Errorf("after erasure find(anna) = %+v, want only 100002", got)
	}
	if got := x.byCard("LOY-0001"); len(got) != 0 {
		t.Errorf("after erasure the card still finds %+v", got)
	}
	// A late slot of the erased customer is refused and reported.
	if !x.applySlot("100001", "", createEdits(Customer{Name: "Anna again"}, hlc(9), "2")) {
		t.Error("a slot of an erased customer was not reported for deletion")
	}
	if c, _, _ := x.get("100001"); c.Name != "" || !c.Erased {
		t.Errorf("erased customer reads %+v", c)
	}
}

// TestCustomerOldOfflineEditLoses: a till edits a customer while cut off
// and makes many other writes (its DAG grows higher); another till edits
// the same field later by the clock. After the partition heals every till
// shows the newer edit, where go-ds-crdt's own rule (higher DAG wins)
// would have kept the old one. A field only the offline till edited keeps
// its edit.
func TestCustomerOldOfflineEditLoses(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	base := Customer{Number: "482019376154", Name: "Anna Meier", Phone: "0171 5550101"}
	if _, err := a.s.EditCustomer(ctx, base.Number, createEdits(base, hlc(1000), a.name)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "b has the customer", func() bool {
		c, err := b.s.Customer(base.Number)
		return err == nil && c == base
	}, a, b)

	isolate(a)
	// b, later by the clock: a new name.
	if _, err := b.s.EditCustomer(ctx, base.Number, []FieldEdit{{Field: FieldName, Value: "Anna Schulz", At: hlc(3000), By: b.name}}); err != nil {
		t.Fatal(err)
	}
	// a, offline, earlier by the clock: an old name and a new email, then
	// many other writes so that its branch of the DAG is much higher.
	if _, err := a.s.EditCustomer(ctx, base.Number, []FieldEdit{
		{Field: FieldName, Value: "Anna Old", At: hlc(2000), By: a.name},
		{Field: FieldEmail, Value: "anna@example.com", At: hlc(2000), By: a.name},
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := a.s.PutSetting(ctx, fmt.Sprintf("s%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	_, ha := a.s.Heads()
	_, hb := b.s.Heads()
	if ha <= hb {
		t.Fatalf("a's height %d not above b's %d: the test would not show anything", ha, hb)
	}
	heal(t, a, b)
	want := base
	want.Name, want.Email = "Anna Schulz", "anna@example.com"
	eventually(t, 30*time.Second, "converged", func() bool { return caughtUp(a, b) }, a, b)
	for _, r := range rs {
		if got, err := r.s.Customer(base.Number); err != nil || got != want {
			t.Errorf("%s: customer %+v, %v; want %+v", r.name, got, err, want)
		}
	}
}

// TestCustomerErasureBeatsLateEdit: a customer is erased at one till while
// another, cut off, edits it. After healing both show only the number,
// every slot of the customer is gone from the replicated state, and the
// erased customer cannot be edited again.
func TestCustomerErasureBeatsLateEdit(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	c := Customer{Number: "777", Name: "Erin Erase", Phone: "0171 5550199", Card: "LOY-777"}
	if _, err := a.s.EditCustomer(ctx, c.Number, createEdits(c, hlc(1000), a.name)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "b has the customer", func() bool { _, err := b.s.Customer(c.Number); return err == nil }, a, b)
	isolate(b)
	if err := a.s.EraseCustomer(ctx, c.Number, hlc(2000), a.name); err != nil {
		t.Fatal(err)
	}
	// b's edit is later by the clock than the erasure, and still loses.
	if _, err := b.s.EditCustomer(ctx, c.Number, []FieldEdit{{Field: FieldName, Value: "Erin Back", At: hlc(5000), By: b.name}}); err != nil {
		t.Fatal(err)
	}
	heal(t, b, a)
	eventually(t, 30*time.Second, "erased everywhere, slots deleted", func() bool {
		if !caughtUp(a, b) {
			return false
		}
		for _, r := range rs {
			got, err := r.s.Customer(c.Number)
			if err != nil || got != (Customer{Number: c.Number, Erased: true}) {
				return false
			}
			entries, err := r.s.list(ctx, "/"+prefixCustomer)
			if err != nil || len(entries) != 1 || !strings.HasSuffix(entries[0].key, "/erased") {
				return false
			}
		}
		return true
	}, a, b)
	for _, r := range rs {
		if got := r.s.FindCustomers("Erin", 10); len(got) != 0 {
			t.Errorf("%s: search still finds %+v", r.name, got)
		}
		if _, err := r.s.EditCustomer(ctx, c.Number, []FieldEdit{{Field: FieldName, Value: "X", At: hlc(9000), By: r.name}}); !errors.Is(err, ErrErased) {
			t.Errorf("%s: edit after erasure: %v, want ErrErased", r.name, err)
		}
	}
}

// TestCustomerIndexSurvivesRestart: the index is rebuilt from storage.
func TestCustomerIndexSurvivesRestart(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{badger: true})
	ctx := t.Context()
	c := Customer{Number: "9001", Name: "Dora", Card: "LOY-9001"}
	if _, err := r.s.EditCustomer(ctx, c.Number, createEdits(c, hlc(1), r.name)); err != nil {
		t.Fatal(err)
	}
	if err := r.s.EraseCustomer(ctx, "9002", hlc(2), r.name); err != nil {
		t.Fatal(err)
	}
	if err := r.s.Close(); err != nil {
		t.Fatal(err)
	}
	r.start(t, replicaOpts{})
	if got := r.s.CustomersByCard("LOY-9001"); len(got) != 1 || got[0] != c {
		t.Fatalf("after restart by card: %+v, want %+v", got, c)
	}
	if n, erased := r.s.CustomerCount(); n != 2 || erased != 1 {
		t.Fatalf("after restart %d customers, %d erased; want 2, 1", n, erased)
	}
}

func TestEditCustomerBadInput(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{})
	ctx := t.Context()
	good := FieldEdit{Field: FieldName, Value: "Ok", At: hlc(1), By: r.name}
	for _, tc := range []struct {
		name   string
		number string
		edits  []FieldEdit
	}{
		{"bad number", "12/3", []FieldEdit{good}},
		{"long number", strings.Repeat("1", 40), []FieldEdit{good}},
		{"bad phone", "1", []FieldEdit{good, {Field: FieldPhone, Value: "abc", At: hlc(1), By: r.name}}},
		{"long name", "1", []FieldEdit{{Field: FieldName, Value: strings.Repeat("x", 300), At: hlc(1), By: r.name}}},
		{"no clock", "1", []FieldEdit{{Field: FieldName, Value: "x", By: r.name}}},
		{"unknown field", "1", []FieldEdit{{Field: 42, Value: "x", At: hlc(1), By: r.name}}},
	} {
		if _, err := r.s.EditCustomer(ctx, tc.number, tc.edits); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
	if n, _ := r.s.CustomerCount(); n != 0 {
		t.Fatalf("bad input stored %d customers", n)
	}
}

func FuzzDecodeCustomerSlot(f *testing.F) {
	b, _ := encodeValue(customerSlot{Number: "1", Edits: createEdits(Customer{Name: "Ann", Phone: "0171 555"}, hlc(1), "t1")})
	f.Add(b)
	b, _ = encodeValue(customerErasure{Number: "1", At: hlc(1), By: "t1"})
	f.Add(b)
	f.Add([]byte{0xa0})
	id, key, _ := NewCustomerKey()
	sealed, _ := sealEdits("1", key, createEdits(Customer{Name: "Ann"}, hlc(1), "t1"))
	b, _ = encodeValue(customerSlot{Number: "1", Key: id[:], Sealed: sealed})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeCustomerSlot(b)
		if err == nil {
			if err := s.Validate(); err != nil {
				t.Fatalf("decoded invalid slot: %v", err)
			}
			if s.sealed() {
				if _, err := openEdits(s.Number, key, s.Sealed); err != nil && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("open error %v does not wrap ErrCorrupt", err)
				}
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		e, err := decodeCustomerErasure(b)
		if err == nil {
			if err := e.Validate(); err != nil {
				t.Fatalf("decoded invalid erasure: %v", err)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
	})
}
