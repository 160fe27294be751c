package node

import (
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/outbox"
)

// TestBacklogAlertOncePerBacklog: while a day's backlog drains, its
// oldest receipt changes every few seconds; the alert goes once for the
// backlog, not once per oldest receipt. A backlog built up after the
// last alert (everything pending then registered since) is told of
// again; one younger than the rule's hours is not.
func TestBacklogAlertOncePerBacklog(t *testing.T) {
	day := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	now := day.Add(24 * time.Hour)
	st := func(pending int, oldest time.Time) outbox.Status {
		return outbox.Status{Connector: "fiscal", Configured: true, Pending: pending, Oldest: oldest}
	}
	sent := now.Add(-time.Minute) // the last backlog alert went out a minute ago
	for _, c := range []struct {
		name string
		s    outbox.Status
		last time.Time
		at   time.Time // zero: now
		want bool
	}{
		{"a day behind, never told", st(3000, day), time.Time{}, time.Time{}, true},
		{"draining: the oldest moved on, still before the last alert", st(2000, day.Add(5*time.Hour)), sent, time.Time{}, false},
		{"draining: the oldest is an hour old now", st(10, now.Add(-time.Hour)), sent, time.Time{}, false},
		{"a new backlog after the last alert, not 6 h old", st(50, sent.Add(time.Second)), sent, time.Time{}, false},
		{"a new backlog after the last alert, 6 h old", st(50, sent.Add(time.Second)), sent, sent.Add(6*time.Hour + time.Minute), true},
		{"nothing pending", st(0, time.Time{}), time.Time{}, time.Time{}, false},
		{"younger than the rule", st(5, now.Add(-5*time.Hour)), time.Time{}, time.Time{}, false},
		{"not configured", outbox.Status{Connector: "fiscal", Pending: 5, Oldest: day}, time.Time{}, time.Time{}, false},
	} {
		at := c.at
		if at.IsZero() {
			at = now
		}
		a, ok := backlogAlert(c.s, 6*time.Hour, c.last, at, 1)
		if ok != c.want {
			t.Errorf("%s: alert %v, want %v (%q)", c.name, ok, c.want, a.text)
		}
	}
}
