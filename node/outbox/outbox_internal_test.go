package outbox

import (
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ui/i18n"
)

func TestBackoffDoublesCappedWithJitter(t *testing.T) {
	o := &Outbox{cfg: Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	c := &conn{}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	c.rng = newRand(seed)
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 200 {
			d := o.backoff(c, n)
			if d < want/2 || d > want {
				t.Fatalf("backoff after %d failures: %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestAgeAndLine(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		s    Status
		want string
	}{
		{Status{Connector: "fiscal"}, "fiscal: not configured"},
		{Status{Connector: "fiscal", Configured: true}, "fiscal: counting the backlog"},
		{Status{Connector: "fiscal", Configured: true, Counted: true}, "fiscal: all sent"},
		{Status{Connector: "fiscal", Noun: "receipts", Configured: true, Counted: true, Pending: 42, Oldest: now.Add(-(3*time.Hour + 10*time.Minute + 5*time.Second))},
			"fiscal: 42 receipts pending, oldest 3 h 10 min"},
		{Status{Connector: "telegram", Noun: "messages", Configured: true, Counted: true, Pending: 1, Oldest: now.Add(-40 * time.Second), Dead: 2},
			"telegram: 1 messages pending, oldest 40 s, 2 in the dead-letter list"},
		{Status{Connector: "fiscal", Noun: "receipts", Configured: true, Counted: true, Pending: 3, Oldest: now.Add(-50 * time.Hour)},
			"fiscal: 3 receipts pending, oldest 2 d 2 h"},
		{Status{Connector: "telegram", Noun: "messages", Configured: true, Counted: true, Pending: 2, Oldest: now.Add(-5 * time.Second), WaitingFor: 3},
			"telegram: 2 messages pending, oldest 5 s, waiting for till 3"},
	}
	cat, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if got := Describe(c.s, now, cat).Line; got != c.want {
			t.Errorf("line %+v = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestDecodeRefusesWhatATillCannotHaveWritten(t *testing.T) {
	for _, b := range []string{``, `{`, `{"state":"maybe"}`, `[]`, `{"state":1}`} {
		if _, err := decodeRecord([]byte(b)); err == nil {
			t.Errorf("record %q accepted", b)
		}
	}
	for _, b := range []string{`{"zz":1}`, `{"` + strings.Repeat("a", 64) + `":-1}`, `[1]`} {
		if _, err := decodeCursor([]byte(b)); err == nil {
			t.Errorf("cursor %q accepted", b)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"state":"sent","till":"00","seq":1,"ref":"FN1","at":1}`))
	f.Add([]byte(`{"state":"rejected","code":"x","reason":"y"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err == nil && r.State != Sent && r.State != Rejected && r.State != Retry {
			t.Fatalf("state %q accepted", r.State)
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add([]byte(`{"` + strings.Repeat("ab", 32) + `":5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeCursor(b)
	})
}
