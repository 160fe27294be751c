package hq_test

import (
	"errors"
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
