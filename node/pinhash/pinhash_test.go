package pinhash

import (
	"errors"
	"strings"
	"testing"
)

var cheap = Params{Time: 1, MemoryKiB: 64, Threads: 1}

func TestVerify(t *testing.T) {
	h, err := New("4321", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Verify(h, "4321"); !ok || err != nil {
		t.Fatalf("right PIN: %v %v", ok, err)
	}
	if ok, err := Verify(h, "4322"); ok || err != nil {
		t.Fatalf("wrong PIN: %v %v", ok, err)
	}
	if h2, _ := New("4321", cheap); h == h2 {
		t.Fatal("two hashes of one PIN are equal: no salt")
	}
	d, err := New("x", Default)
	if err != nil || !strings.HasPrefix(d, "$argon2id$v=19$m=7168,t=5,p=1$") {
		t.Fatalf("default hash %q, %v", d, err)
	}
}

// TestBounds: one set of bounds for tills and HQ; a hash outside them is
// a clear error naming what is wrong, and costs nothing to refuse.
func TestBounds(t *testing.T) {
	const tail = "$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
	for _, tc := range []struct {
		hash string
		err  error
		says string
	}{
		{"$argon2id$v=19$m=262144,t=10,p=4" + tail, nil, ""},
		{"$argon2id$v=19$m=262145,t=1,p=1" + tail, ErrBounds, "m=262145"},
		{"$argon2id$v=19$m=1048576,t=1,p=1" + tail, ErrBounds, "at most 262144"}, // HQ used to allow 1 GiB
		{"$argon2id$v=19$m=64,t=11,p=1" + tail, ErrBounds, "t=11"},
		{"$argon2id$v=19$m=64,t=1,p=5" + tail, ErrBounds, "p=5"},
		{"$argon2id$v=19$m=64,t=0,p=1" + tail, ErrBounds, "0 passes"},
		{"$argon2id$v=19$m=4,t=1,p=1" + tail, ErrBounds, "memory 4 KiB"},
		{"$argon2id$v=19$m=64,t=1,p=0" + tail, ErrBounds, "0 lanes"},
		{"$argon2id$v=19$m=99999999999999999999,t=1,p=1" + tail, ErrFormat, "parameters"},
		{"$argon2id$v=19$m=64,t=1,p=1x" + tail, ErrFormat, "parameters"},
		{"", ErrFormat, ""},
		{"plain", ErrFormat, ""},
		{"$argon2i$v=19$m=64,t=1,p=1" + tail, ErrFormat, ""},
		{"$argon2id$v=18$m=64,t=1,p=1" + tail, ErrFormat, "version"},
		{"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA", ErrFormat, "salt"},
	} {
		_, err := Parse(tc.hash)
		if !errors.Is(err, tc.err) || (err != nil && !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("Parse(%q) = %v; want %v saying %q", tc.hash, err, tc.err, tc.says)
		}
		if tc.err != nil {
			if ok, err := Verify(tc.hash, "4321"); ok || err == nil {
				t.Errorf("Verify(%q) = %v, %v; want an error", tc.hash, ok, err)
			}
		}
	}
	if _, err := New("1234", Params{Time: 1, MemoryKiB: MaxMemoryKiB + 1, Threads: 1}); !errors.Is(err, ErrBounds) {
		t.Errorf("New above the bounds: %v", err)
	}
}

// FuzzParse: Parse never panics, accepts only hashes within the bounds,
// and what it accepts prints back to itself.
func FuzzParse(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2j4Y4b9zX8yJ6Jm0l0sV1d0kqkq1bq2ZkX1y1J8cQ5g")
	f.Add("$argon2id$v=19$m=1048576,t=16,p=255$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			return
		}
		if err := h.Params.Validate(); err != nil {
			t.Fatalf("Parse(%q) accepted %+v: %v", s, h.Params, err)
		}
		if h.String() != s {
			t.Fatalf("Parse(%q) prints back as %q", s, h.String())
		}
	})
}

// TestOneComputationAtATime: logins racing from goroutines released
// together never run two argon2id computations at once, so a till's
// memory holds one hash's memory parameter, not one per login.
func TestOneComputationAtATime(t *testing.T) {
	h, err := New("1234", Params{Time: 1, MemoryKiB: 1024, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	maxRunning.Store(0)
	start := make(chan struct{})
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			<-start
			ok, err := Verify(h, "1234")
			if err == nil && !ok {
				err = errors.New("right PIN refused")
			}
			errs <- err
		}()
	}
	close(start)
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := maxRunning.Load(); got != 1 {
		t.Errorf("%d argon2id computations ran at once, want 1", got)
	}
}
