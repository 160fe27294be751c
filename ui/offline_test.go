package ui_test

import (
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ui"
)

func TestOfflineSince(t *testing.T) {
	loc := time.FixedZone("store", 2*3600)
	last := time.Date(2026, 3, 2, 14, 2, 30, 0, loc)
	for _, tc := range []struct {
		last time.Time
		now  time.Duration
		want string
	}{
		{last, 3*time.Hour + 10*time.Minute, "offline since 14:02 (3 h 10 min)"},
		{last, 40 * time.Second, "offline since 14:02 (40 s)"},
		{last, 12*time.Minute + 59*time.Second, "offline since 14:02 (12 min)"},
		{last, 26 * time.Hour, "offline since Mon 2 Mar 14:02 (1 d 2 h)"},
		{last, -time.Minute, "offline since 14:02 (0 s)"}, // a clock stepped back
		{time.Time{}, 0, "offline, not reached since the till started"},
	} {
		if got := ui.OfflineSince(tc.last, last.Add(tc.now)); got != tc.want {
			t.Errorf("OfflineSince(%v, +%v) = %q, want %q", tc.last, tc.now, got, tc.want)
		}
	}
}
