package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/notify"
)

// alertEvery is how often the sending till looks for conditions a
// manager asked to hear about.
const alertEvery = 5 * time.Second

// alert is a condition that no ledger event stands for.
type alert struct {
	key  string // unique per occurrence: sent once per destination
	text string
}

// runAlerts sends, from the till that sends the outbox, the alerts the
// store's rules ask for: a fiscal backlog older than N hours, a till not
// heard from for N minutes. Each is sent once per destination: its key
// is recorded in the store (/outbox/<destination>/alert/<key>) after the
// destination accepted it, and a failed send is tried again next time.
func (t *Till) runAlerts(ctx context.Context) {
	tick := time.NewTicker(alertEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if t.outboxLeader() {
			t.checkAlerts(ctx)
		}
	}
}

func (t *Till) checkAlerts(ctx context.Context) {
	now := t.cfg.Now()
	for _, c := range t.notifiers {
		ok, err := c.Prepare(ctx)
		if err != nil || !ok {
			continue
		}
		for _, a := range t.alerts(c.AlertRules(), now) {
			if _, err := t.inv.OutboxGet(ctx, c.Name(), "alert", a.key); err == nil {
				continue // sent
			} else if !errors.Is(err, crdt.ErrNotFound) {
				continue
			}
			if _, err := c.Alert(ctx, a.key, a.text, now); err != nil {
				t.log.Warn("alert not sent; trying again", "destination", c.Name(), "alert", a.key, "err", err)
				continue
			}
			entry := crdt.OutboxEntry{Connector: c.Name(), Kind: "alert", ID: a.key, Value: []byte(now.UTC().Format(time.RFC3339))}
			if err := t.inv.PutOutbox(ctx, []crdt.OutboxEntry{entry}); err != nil {
				t.log.Warn("record a sent alert", "alert", a.key, "err", err)
			}
		}
	}
}

// alerts lists the conditions that hold now under rules r.
func (t *Till) alerts(r notify.Rules, now time.Time) []alert {
	var out []alert
	if r.FiscalBacklogHours != nil {
		limit := time.Duration(*r.FiscalBacklogHours) * time.Hour
		for _, s := range t.outbox.Status() {
			if s.Connector == "fiscal" && s.Configured && s.Pending > 0 && !s.Oldest.IsZero() && now.Sub(s.Oldest) >= limit {
				out = append(out, alert{key: fmt.Sprintf("fiscal-backlog-%d", s.Oldest.UnixMilli()),
					text: fmt.Sprintf("Fiscal registration is behind at till %d's store: %d receipts pending, the oldest from %s (%s ago). Check the internet line and the fiscal service.",
						t.cert.Number, s.Pending, s.Oldest.UTC().Format("2006-01-02 15:04 UTC"), outbox.Age(now.Sub(s.Oldest)))})
			}
		}
	}
	if r.TillOfflineMinutes != nil {
		limit := time.Duration(*r.TillOfflineMinutes) * time.Minute
		for _, p := range t.host.Peers() {
			if p.Number == 0 || p.Connected || p.LastSeen.IsZero() || now.Sub(p.LastSeen) < limit || t.revoked(p.Till) {
				continue
			}
			out = append(out, alert{key: fmt.Sprintf("till-%d-offline-%d", p.Number, p.LastSeen.Unix()/60),
				text: fmt.Sprintf("Till %d (%s) has not been heard from since %s (%s).",
					p.Number, p.Name, p.LastSeen.UTC().Format("2006-01-02 15:04 UTC"), outbox.Age(now.Sub(p.LastSeen)))})
		}
	}
	return out
}
