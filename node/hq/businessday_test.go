package hq_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/hq"
)

// A store open past midnight: with its day ending at 02:00 in its own
// time zone, a sale at 01:30 local time counts on the day before; the
// rule survives a restart (rollup and store record), and a bad rule
// changes nothing.
func TestBusinessDayOfAStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		a := newChainStore(10)
		place := b.place(t)
		st := b.open(t, place)
		h := newHQ(t, st, a.Store)
		berlin, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			t.Skip("no time zone data on this machine")
		}
		// 2026-03-10 01:30 in Berlin (00:30 UTC) and 2026-03-10 12:00.
		late := time.Date(2026, 3, 10, 1, 30, 0, 0, berlin).UnixMilli()
		noon := time.Date(2026, 3, 10, 12, 0, 0, 0, berlin).UnixMilli()
		a.record(t, ledgertest.Sale3(), late)
		a.record(t, ledgertest.Sale3(), noon)
		a.upload(t, h)
		days := func(h *hq.HQ) map[string]int {
			out := map[string]int{}
			for _, d := range h.Report(hq.Query{Store: &a.ID}).Days {
				out[d.Day] = d.Report.Sales
			}
			return out
		}
		if got := days(h); got["2026-03-10"] != 2 {
			t.Fatalf("UTC days, midnight: %v, want both sales on 2026-03-10", got)
		}
		for _, bad := range []hq.DayRule{{TimeZone: "Mars/Olympus"}, {DayEnd: "13:00"}, {DayEnd: "2am"}} {
			if err := h.SetBusinessDay(ctx, a.ID, bad); !errors.Is(err, hq.ErrInvalid) {
				t.Fatalf("rule %+v: %v, want ErrInvalid", bad, err)
			}
		}
		if got := days(h); got["2026-03-10"] != 2 {
			t.Fatalf("after refused rules: %v", got)
		}
		if err := h.SetBusinessDay(ctx, a.ID, hq.DayRule{TimeZone: "Europe/Berlin", DayEnd: "02:00"}); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"2026-03-09": 1, "2026-03-10": 1}
		if got := days(h); got["2026-03-09"] != 1 || got["2026-03-10"] != 1 {
			t.Fatalf("Berlin, day ends 02:00: %v, want %v", got, want)
		}
		// The store's fold is unchanged by the day rule.
		checkFold(t, h, a.ID, a.state)
		st.Close()
		h2 := newHQ(t, b.open(t, place))
		if got := days(h2); got["2026-03-09"] != 1 || got["2026-03-10"] != 1 {
			t.Fatalf("after a restart: %v, want %v", got, want)
		}
	})
}

// Two HQ processes on one PostgreSQL database: when one changes a
// store's business day, the other takes the new rule at its next
// upload of the store (the refold moved the rollup's generation, and
// the rollup names the day it was made for), not at its next restart,
// and so never writes a rollup under the old rule; the chain report of
// a third process that took no upload shows the new days too.
func TestBusinessDayChangedByAnotherProcess(t *testing.T) {
	b := backends[1] // postgres
	ctx := t.Context()
	a := newChainStore(11)
	place := b.place(t)
	p1 := newHQ(t, b.open(t, place), a.Store)
	p2, p3 := newHQ(t, b.open(t, place)), newHQ(t, b.open(t, place))
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data on this machine")
	}
	late := time.Date(2026, 3, 10, 1, 30, 0, 0, berlin).UnixMilli() // 00:30 UTC
	noon := time.Date(2026, 3, 10, 12, 0, 0, 0, berlin).UnixMilli()
	a.record(t, ledgertest.Sale3(), late)
	a.upload(t, p1)
	days := func(rep hq.Report) map[string]int {
		out := map[string]int{}
		for _, d := range rep.Days {
			out[d.Day] = d.Report.Sales
		}
		return out
	}
	if _, err := p3.ChainReport(ctx, hq.Query{}); err != nil { // p3's first answer, in UTC days
		t.Fatal(err)
	}
	if err := p1.SetBusinessDay(ctx, a.ID, hq.DayRule{TimeZone: "Europe/Berlin", DayEnd: "02:00"}); err != nil {
		t.Fatal(err)
	}
	a.record(t, ledgertest.Sale3(), noon)
	if err := p2.Authenticate(ctx, a.ID, a.Tills[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	a.upload(t, p2)
	want := map[string]int{"2026-03-09": 1, "2026-03-10": 1}
	if got := days(p2.Report(hq.Query{Store: &a.ID})); !reflect.DeepEqual(got, want) {
		t.Fatalf("the process that took the upload after another changed the day: %v, want %v", got, want)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := p3.ChainReport(ctx, hq.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if got := days(*s.Report); reflect.DeepEqual(got, want) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("a third process's chain report: %v, want %v within 20 s", got, want)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	// The stored rollup is the new rule's: a start takes it as it is.
	p4 := newHQ(t, b.open(t, place))
	if got := days(p4.Report(hq.Query{Store: &a.ID})); !reflect.DeepEqual(got, want) {
		t.Fatalf("a process started afterwards: %v, want %v", got, want)
	}
	if s := p4.Started(); s.FromRollup != 1 || s.Folded != 0 {
		t.Errorf("start after the change: %+v, want the store from its rollup, nothing folded", s)
	}
	checkFold(t, p4, a.ID, a.state)
}
