package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Status is one connector's state as this till sees it.
type Status struct {
	Connector  string `json:"connector"`
	Noun       string `json:"noun"`
	Configured bool   `json:"configured"`
	// Sending is true on the till that sends for the store.
	Sending bool `json:"sending"`
	// Elsewhere names the other side when the connector runs there
	// (Config.Elsewhere: "HQ" seen from the store): this side neither
	// sends nor counts it. Empty when it runs here.
	Elsewhere string `json:"elsewhere,omitempty"`
	// Reachable is false after the service could not be reached, until
	// it answers again (meaningful on the sending till).
	Reachable bool `json:"reachable"`
	// Pending counts items not yet sent nor dead-lettered; Oldest is the
	// time of the oldest of them (zero when none).
	Pending int       `json:"pending"`
	Oldest  time.Time `json:"oldest,omitzero"`
	// Dead counts dead letters (rejected, or being retried).
	Dead int `json:"dead"`
	// Counted is false until this till first counted the backlog.
	Counted bool `json:"counted"`
	// WaitingFor is the number of the till whose events the next item
	// waits for (the store-wide order's watermark), 0 when none.
	WaitingFor uint32 `json:"waiting_for,omitempty"`
	// Sent counts items this till sent since it started.
	Sent      uint64 `json:"sent"`
	LastError string `json:"last_error,omitempty"`
	// Line is the backlog as a person reads it: "fiscal: 42 receipts
	// pending, oldest 3 h 10 min": Note in English.
	Line string `json:"line"`
	// Note is Line as a message a page translates.
	Note LineNote `json:"note"`
}

// count recounts a connector's backlog from the ledger above the store's
// cursor and the items recorded above it: every till does this, so the
// backlog is visible everywhere.
func (o *Outbox) count(ctx context.Context, k *conn, configured bool) {
	st := Status{}
	if configured && o.active(k.c.Name()) {
		if err := o.loadCursor(ctx, k); err != nil {
			o.log.Debug("count outbox backlog", "connector", k.c.Name(), "err", err)
			return
		}
		k.mu.Lock()
		cursor := k.cursor.Clone()
		k.mu.Unlock()
		for till, head := range o.cfg.Ledger.Vector() {
			if cursor[till] >= head {
				continue
			}
			err := o.cfg.Ledger.Range(till, cursor[till]+1, func(ev *ledger.Event) bool {
				if !k.c.Wants(ev) {
					return true
				}
				k.mu.Lock()
				done := k.done[ev.ID()]
				k.mu.Unlock()
				if !done {
					if r, err := o.record(ctx, k.c.Name(), kindItem, ev.ID().String()); err == nil && r.final() {
						done = true
					}
				}
				if !done {
					st.Pending++
					if t := time.UnixMilli(ev.Time.Wall); st.Oldest.IsZero() || t.Before(st.Oldest) {
						st.Oldest = t
					}
				}
				return ctx.Err() == nil
			})
			if err != nil {
				o.log.Debug("count outbox backlog", "connector", k.c.Name(), "err", err)
				return
			}
		}
	}
	dead, err := o.cfg.Store.OutboxList(ctx, k.c.Name(), kindDead)
	if err == nil {
		for _, b := range dead {
			var r Record
			if json.Unmarshal(b, &r) == nil && (r.State == Rejected || r.State == Retry) {
				st.Dead++
			}
		}
	}
	k.mu.Lock()
	k.status.Pending, k.status.Oldest, k.status.Dead, k.status.Counted = st.Pending, st.Oldest, st.Dead, true
	k.mu.Unlock()
}

// Status returns every connector's state, in the Config's order.
func (o *Outbox) Status() []Status {
	now := o.cfg.Now()
	leader := o.cfg.Leader()
	out := make([]Status, 0, len(o.conns))
	for _, k := range o.conns {
		k.mu.Lock()
		st := k.status
		k.mu.Unlock()
		st.Sending = leader && st.Configured && st.Elsewhere == ""
		if !st.Sending {
			st.Reachable = false
		}
		st = Describe(st, now, o.cat)
		out = append(out, st)
	}
	return out
}

// The message keys of a connector's line (LineNote), in the till's
// catalogs (ui/i18n/catalog/till.*.json; ui.OutboxLineKeys lists them
// for the pages).
const (
	LineNotConfigured   = "till.outbox.line.not_configured"   // {connector}
	LineElsewhere       = "till.outbox.line.elsewhere"        // {connector} {where}
	LineCounting        = "till.outbox.line.counting"         // {connector}
	LineAllSent         = "till.outbox.line.all_sent"         // {connector}
	LineNothingPending  = "till.outbox.line.nothing_pending"  // {connector}
	LinePendingReceipts = "till.outbox.line.pending_receipts" // {connector} {n}
	LinePendingMessages = "till.outbox.line.pending_messages" // {connector} {n}
	LinePending         = "till.outbox.line.pending"          // {connector} {n} {noun}
	LineOldest          = "till.outbox.line.oldest"           // {age}, appended for arg age_s
	LineDead            = "till.outbox.line.dead"             // {n}, appended for arg dead
	LineWaiting         = "till.outbox.line.waiting"          // {till}, appended for arg waiting
)

// LineKeys lists every key of a line.
var LineKeys = []string{LineNotConfigured, LineElsewhere, LineCounting, LineAllSent, LineNothingPending,
	LinePendingReceipts, LinePendingMessages, LinePending, LineOldest, LineDead, LineWaiting}

// LineNote is a connector's line as a message: Key and Args fill one of
// the keys above, and the args "age_s" (the oldest pending item's age in
// seconds), "dead" (dead letters) and "waiting" (the till the watermark
// waits for) each append their sentence when present. Status.Line is its
// English; a page renders it in the till's language.
type LineNote struct {
	Key  string         `json:"key"`
	Args map[string]any `json:"args,omitempty"`
}

// Describe returns s with its line (Note, and Line its English from
// cat) as at now.
func Describe(s Status, now time.Time, cat *i18n.Catalog) Status {
	s.Note = s.note(now)
	s.Line = s.Note.English(cat)
	return s
}

// note is the line as a message: "fiscal: 42 receipts pending, oldest 3
// h 10 min", "fiscal: all sent", "telegram: not configured".
func (s Status) note(now time.Time) LineNote {
	n := LineNote{Args: map[string]any{"connector": s.Connector}}
	switch {
	case !s.Configured:
		n.Key = LineNotConfigured
		return n
	case s.Elsewhere != "":
		n.Key, n.Args["where"] = LineElsewhere, s.Elsewhere
		return n
	case !s.Counted:
		n.Key = LineCounting
		return n
	}
	n.Key = LineAllSent
	if s.Dead > 0 {
		n.Key = LineNothingPending
	}
	if s.Pending > 0 {
		n.Args["n"] = s.Pending
		switch s.Noun {
		case "receipts":
			n.Key = LinePendingReceipts
		case "messages":
			n.Key = LinePendingMessages
		default:
			n.Key, n.Args["noun"] = LinePending, s.Noun
		}
		if !s.Oldest.IsZero() {
			n.Args["age_s"] = max(0, int64(now.Sub(s.Oldest)/time.Second))
		}
		if s.WaitingFor > 0 {
			n.Args["waiting"] = s.WaitingFor
		}
	}
	if s.Dead > 0 {
		n.Args["dead"] = s.Dead
	}
	return n
}

// English renders a note with the English catalog, as a page renders it
// in its language (ui/web/outbox.js lineText).
func (n LineNote) English(cat *i18n.Catalog) string {
	var args []any
	for k, v := range n.Args {
		args = append(args, k, v)
	}
	l := cat.T(i18n.English, n.Key, args...)
	if s, ok := n.Args["age_s"].(int64); ok {
		l += cat.T(i18n.English, LineOldest, "age", ageText(cat, s))
	}
	if d, ok := n.Args["dead"]; ok {
		l += cat.T(i18n.English, LineDead, "n", d)
	}
	if w, ok := n.Args["waiting"]; ok {
		l += cat.T(i18n.English, LineWaiting, "till", w)
	}
	return l
}

// ageText is a number of seconds in words, as the pages write it.
func ageText(cat *i18n.Catalog, s int64) string {
	switch {
	case s < 60:
		return cat.T(i18n.English, "till.dur.s", "s", s)
	case s < 3600:
		return cat.T(i18n.English, "till.dur.min", "min", s/60)
	case s < 172800:
		return cat.T(i18n.English, "till.dur.h_min", "h", s/3600, "min", s%3600/60)
	}
	return cat.T(i18n.English, "till.dur.d_h", "d", s/86400, "h", s%86400/3600)
}

// Age renders a duration as "3 h 10 min", "5 min", "40 s".
func Age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", max(0, int(d/time.Second)))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
}

// DeadLetters lists every connector's dead letters, newest first.
func (o *Outbox) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	var out []DeadLetter
	for _, k := range o.conns {
		dead, err := o.cfg.Store.OutboxList(ctx, k.c.Name(), kindDead)
		if err != nil {
			return nil, err
		}
		for id, b := range dead {
			var r Record
			if json.Unmarshal(b, &r) != nil || (r.State != Rejected && r.State != Retry) {
				continue
			}
			out = append(out, DeadLetter{Connector: k.c.Name(), EventID: id, Receipt: r.Receipt, Kind: r.Kind,
				Code: r.Code, Reason: r.Reason, Attempts: r.Attempts, At: time.UnixMilli(r.At), Retrying: r.State == Retry})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.After(out[j].At)
		}
		return out[i].EventID < out[j].EventID
	})
	return out, nil
}

// Record returns the recorded result of an event at a connector, or nil
// if it has none yet (a receipt printed before it was registered).
func (o *Outbox) Record(ctx context.Context, connector string, id ledger.EventID) (*Record, error) {
	if o.conn(connector) == nil {
		return nil, fmt.Errorf("connector %q: %w", connector, ErrNotFound)
	}
	return o.record(ctx, connector, kindItem, id.String())
}

func (o *Outbox) conn(name string) *conn {
	for _, k := range o.conns {
		if k.c.Name() == name {
			return k
		}
	}
	return nil
}

// Retry sends a dead letter again: a manager fixed what the service
// refused (a tax ID, a token). The item goes back to pending on every
// till, and the sending till sends it with its event ID as before.
func (o *Outbox) Retry(ctx context.Context, connector, eventID string) error {
	k := o.conn(connector)
	if k == nil {
		return fmt.Errorf("connector %q: %w", connector, ErrNotFound)
	}
	id, err := ledger.ParseEventID(eventID)
	if err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	r, err := o.record(ctx, connector, kindDead, id.String())
	if err != nil {
		return err
	}
	if r == nil || (r.State != Rejected && r.State != Retry) {
		return fmt.Errorf("retry %s %s: not in the dead-letter list: %w", connector, id.String()[:12], ErrNotFound)
	}
	r.State, r.Attempts, r.At, r.By = Retry, 0, o.cfg.Now().UnixMilli(), o.cfg.Self
	b, _ := json.Marshal(r)
	err = o.put(ctx, []crdt.OutboxEntry{
		{Connector: connector, Kind: kindDead, ID: id.String(), Value: b},
		{Connector: connector, Kind: kindItem, ID: id.String(), Value: b},
	})
	if err != nil {
		return err
	}
	k.mu.Lock()
	delete(k.done, id)
	delete(k.fails, id)
	k.mu.Unlock()
	o.Kick()
	return nil
}
