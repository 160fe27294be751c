package ui

import (
	"fmt"
	"time"
)

// OfflineSince says since when something (HQ, a peer) has not been
// heard from, for every screen's status bar: "offline since 14:02
// (3 h 10 min)" in the till's time zone, with the weekday and date once
// it is a day or more. A zero last means never heard from.
func OfflineSince(last, now time.Time) string {
	if last.IsZero() {
		return "offline, not reached since the till started"
	}
	d := now.Sub(last)
	if d < 0 {
		d = 0
	}
	at := last.Format("15:04")
	if d >= 24*time.Hour {
		at = last.Format("Mon 2 Jan 15:04")
	}
	return fmt.Sprintf("offline since %s (%s)", at, Duration(d))
}

// Duration writes d for a cashier: "45 s", "12 min", "3 h 10 min",
// "2 d 4 h".
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%d d %d h", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
