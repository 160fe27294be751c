package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
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
//
// It also tells the outbox when the internet line comes back (HQ
// answers again after it did not: outbox.LineBack), so that after a long
// outage the fiscal service and the messenger are tried within
// alertEvery rather than at the end of a backoff of up to a minute.
func (t *Till) runAlerts(ctx context.Context) {
	tick := time.NewTicker(alertEvery)
	defer tick.Stop()
	reached := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if t.relay != nil {
			r := t.relay.Status().Reachable
			if r && !reached {
				t.outbox.LineBack()
			}
			reached = r
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
		for _, a := range t.alerts(ctx, c.Name(), c.AlertRules(), now) {
			if _, err := t.inv.OutboxGet(ctx, c.Name(), "alert", a.key); err == nil {
				continue // sent
			} else if !errors.Is(err, crdt.ErrNotFound) {
				continue
			}
			if _, err := c.Alert(ctx, a.key, a.text, now); err != nil {
				t.log.Warn("alert not sent; trying again", "destination", c.Name(), "alert", a.key, "err", err)
				continue
			}
			entries := []crdt.OutboxEntry{{Connector: c.Name(), Kind: "alert", ID: a.key, Value: []byte(now.UTC().Format(time.RFC3339))}}
			if strings.HasPrefix(a.key, backlogKey) {
				entries = append(entries, crdt.OutboxEntry{Connector: c.Name(), Kind: "alert", ID: backlogLast, Value: []byte(now.UTC().Format(time.RFC3339Nano))})
			}
			if err := t.inv.PutOutbox(ctx, entries); err != nil {
				t.log.Warn("record a sent alert", "alert", a.key, "err", err)
			}
		}
	}
}

// The fiscal backlog alert's records: backlogKey starts each
// occurrence's key; backlogLast holds when the destination last took
// one (RFC 3339), to send one per backlog, not one per oldest receipt.
const (
	backlogKey  = "fiscal-backlog-"
	backlogLast = "fiscal-backlog-last"
)

// alerts lists the conditions that hold now under rules r, for
// destination dest.
func (t *Till) alerts(ctx context.Context, dest string, r notify.Rules, now time.Time) []alert {
	var out []alert
	out = append(out, t.ledgerAlerts(ctx, r, now)...)
	if r.FiscalBacklogHours != nil {
		limit := time.Duration(*r.FiscalBacklogHours) * time.Hour
		var last time.Time
		if b, err := t.inv.OutboxGet(ctx, dest, "alert", backlogLast); err == nil {
			last, _ = time.Parse(time.RFC3339Nano, string(b))
		}
		for _, s := range t.outbox.Status() {
			if s.Connector == "fiscal" {
				if a, ok := backlogAlert(s, limit, last, now, t.cert.Number); ok {
					out = append(out, a)
				}
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

// backlogAlert is the fiscal backlog alert when the oldest receipt
// pending (s.Oldest) waited limit or more, once per backlog: not while
// that receipt is older than the last backlog alert the destination
// took (last; zero if none), which told of it already. While a backlog
// drains its oldest receipt changes every few seconds; each would have
// been an alert of its own (the testnet scenario internet-down caught
// two in one drain). A backlog that built up after the last alert (every
// receipt pending then registered since) is told of again.
func backlogAlert(s outbox.Status, limit time.Duration, last, now time.Time, number uint32) (alert, bool) {
	if !s.Configured || s.Pending == 0 || s.Oldest.IsZero() || now.Sub(s.Oldest) < limit {
		return alert{}, false
	}
	if !last.IsZero() && s.Oldest.Before(last) {
		return alert{}, false
	}
	return alert{key: fmt.Sprintf("%s%d", backlogKey, s.Oldest.UnixMilli()),
		text: fmt.Sprintf("Fiscal registration is behind at till %d's store: %d receipts pending, the oldest from %s (%s ago). Check the internet line and the fiscal service.",
			number, s.Pending, s.Oldest.UTC().Format("2006-01-02 15:04 UTC"), outbox.Age(now.Sub(s.Oldest)))}, true
}

// ledgerAlerts lists the conditions the ledger and the stock show under
// rules r: products at or below their reorder point, over-spent sales,
// anomalies. Keys name the occurrence, so each is sent once (a low
// product once a day while it stays low; an over-spent sale again when
// more is spent from it).
func (t *Till) ledgerAlerts(ctx context.Context, r notify.Rules, now time.Time) []alert {
	var out []alert
	short := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:6]) }
	if r.LowStock {
		products, err := t.inv.Products(ctx)
		stock, serr := t.inv.AllStock(ctx)
		if err == nil && serr == nil {
			sort.Slice(products, func(i, j int) bool { return products[i].SKU < products[j].SKU })
			day := now.UTC().Format("20060102")
			for _, p := range products {
				if q := stock[p.SKU]; p.Reorder > 0 && q <= p.Reorder {
					out = append(out, alert{key: "low-stock-" + short(p.SKU) + "-" + day,
						text: fmt.Sprintf("Low stock: %s (%s) is at %s, reorder point %s.", p.Name, p.SKU, qtyText(q, p.Unit), qtyText(p.Reorder, p.Unit))})
				}
			}
		}
	}
	if !r.Overspend && !r.Anomaly {
		return out
	}
	var anomalies []ledger.Anomaly
	var overspends []ledger.Overspend
	var oerr error
	t.db.View(func(s *ledger.State) {
		f := s.Fold()
		if r.Anomaly {
			anomalies = f.Anomalies()
		}
		if r.Overspend {
			overspends, oerr = f.Overspends()
		}
	})
	for _, o := range overspends {
		if oerr != nil {
			break
		}
		out = append(out, alert{key: fmt.Sprintf("overspend-%s-%d", short(o.Sale.String()), o.Spent),
			text: fmt.Sprintf("Over-spend: sale %s held %s %s, %s %s went out (%s over): %s.", t.saleNumber(o.Sale),
				o.Limit, o.Currency, o.Spent, o.Currency, o.Over, strings.Join(o.Reasons, "; "))})
	}
	for _, a := range anomalies {
		out = append(out, alert{key: "anomaly-" + short(a.Sale.String()+"/"+a.Reason),
			text: fmt.Sprintf("Anomaly in the ledger: sale %s: %s.", t.saleNumber(a.Sale), a.Reason)})
	}
	return out
}

// qtyText writes a stock quantity: units, or kilograms from grams.
func qtyText(q int64, u ledger.Unit) string {
	if u == ledger.Kilogram {
		return fmt.Sprintf("%.3f kg", float64(q)/1000)
	}
	return fmt.Sprintf("%d", q)
}
