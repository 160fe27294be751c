package node

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/fiscal"
	"github.com/tillmesh/tillmesh/node/outbox/notify"
	"github.com/tillmesh/tillmesh/ui"
)

// fiscalWindow is how many receipts are in flight to the fiscal service:
// at 20 ms a request, 16 drain a day of 10,000 receipts in about 13 s.
const fiscalWindow = 16

// openOutbox builds the store's outbox: fiscal registration, Telegram and
// webhooks, configured by store settings (the same at every till), sent
// by the till that leads (outboxLeader).
func (t *Till) openOutbox() error {
	oc := outbox.DefaultConfig()
	t.notifiers = []*notify.Connector{
		notify.NewTelegram(t.settingBytes, t.describe, nil),
		notify.NewWebhook(t.settingBytes, t.describe, t.cfg.Now),
	}
	oc.Connectors = []outbox.Connector{fiscal.New(t.settingBytes, fiscalWindow), t.notifiers[0], t.notifiers[1]}
	oc.Ledger, oc.Store, oc.Leader, oc.Number, oc.Self = t.db, t.inv, t.outboxLeader, t.number, t.cert.Number
	oc.Active = t.outboxActive   // outbox_place.go
	oc.Catchup = t.outboxCatchup // outbox_catchup.go
	oc.Heard = t.outboxHeard
	oc.Hold = max(outboxHold, 5*t.cfg.SyncInterval)
	oc.Logger, oc.Now, oc.ReceiptNo = t.cfg.Logger, t.cfg.Now, t.slipNumber
	oc.Seed = uint64(t.cert.Number)<<32 ^ uint64(t.cfg.Now().UnixNano())
	t.outboxAt = t.cfg.Now()
	var err error
	t.outbox, err = outbox.New(oc)
	return err
}

// describe writes a notification with what only the ledger's folds know:
// a closed shift's Z summary. Other events get notify.Text.
func (t *Till) describe(it outbox.Item) string {
	b, ok := it.Event.Body.(*ledger.ShiftClose)
	if !ok {
		return ""
	}
	var z *ledger.Shift
	t.db.View(func(s *ledger.State) {
		for _, sh := range s.Fold().Shifts(it.Event.Till) {
			if sh.CloseSeq == it.Event.Seq {
				c := *sh
				z = &c
			}
		}
	})
	if z == nil {
		return ""
	}
	r := z.Report
	return fmt.Sprintf("Till %d closed its shift (staff %s), Z report: %d sales, total %s %s; %d refunds (%s), %d voids (%s); "+
		"cash expected %s, counted %s, over/short %s.", it.Number, b.Staff, r.Sales, r.Total, b.Currency,
		r.Refunds, r.Refunded, r.Voids, r.Voided, z.Expected, z.Counted, z.OverShort)
}

// settingBytes reads a store setting for the outbox's connectors.
func (t *Till) settingBytes(ctx context.Context, name string) ([]byte, bool, error) {
	b, err := t.inv.Setting(ctx, name)
	if errors.Is(err, crdt.ErrNotFound) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// outboxLeader reports whether this till sends the store's outbox: the
// elected HQ relay when there is one; otherwise (no HQ, or HQ away, which
// must not stop fiscal registration) the lowest-numbered till among this
// one and the peers it is connected to. Two tills that both think so for
// a moment (a partition) send with the same idempotency keys.
//
// A till with an HQ that is not the relay leaves the outbox to others for
// outboxHold after it starts, while it learns who the relay is: else a
// restarted till with the lowest number would send beside the relay from
// its cursor as it was before it stopped, before its peers' records reach
// it (a Telegram message has no idempotency key: it would go out twice;
// the testnet scenario internet-down caught this).
func (t *Till) outboxLeader() bool {
	if t.relay != nil {
		rs := t.relay.Status()
		if rs.IsRelay {
			return true
		}
		if rs.RelayNumber > 0 || t.cfg.Now().Sub(t.outboxAt) < outboxHold {
			return false
		}
	}
	open := t.gateOpen() // outbox_catchup.go; looks at every peer, so first
	for _, p := range t.host.Peers() {
		if p.Connected && p.Admitted && p.Number > 0 && p.Number < t.cert.Number {
			return false
		}
	}
	return open
}

// outboxHeard lists the store's tills this one hears from now, with the
// clock and chain head each showed at the last ledger exchange (read in
// that order by the till that answered, so the head covers every event
// it made before the clock: ledgersync.PeerState.Clock): the
// outbox's store-wide watermark (outbox.Heard). A till not connected, or
// not synced for three sync intervals, is not listed: the outbox does not
// wait for it, and its events that arrive later go out late.
func (t *Till) outboxHeard() []outbox.Heard {
	if t.sync == nil {
		return nil
	}
	syncs := t.sync.Peers()
	now := t.cfg.Now()
	var out []outbox.Heard
	for _, p := range t.host.Peers() {
		if !p.Connected || !p.Admitted || p.Till == (ledger.TillID{}) || p.Till == t.id {
			continue
		}
		st, ok := syncs[p.ID]
		if !ok || st.LastSync.IsZero() || now.Sub(st.LastSync) > 3*t.cfg.SyncInterval {
			continue
		}
		out = append(out, outbox.Heard{Till: p.Till, Seq: st.Vector[p.Till], Clock: st.Clock})
	}
	return out
}

// outboxHold is how long a till with an HQ that is not the relay leaves
// the outbox to others after it starts (outboxLeader).
const outboxHold = 15 * time.Second

// kickOutbox tells the outbox the ledger grew.
func (t *Till) kickOutbox() {
	if t.outbox != nil {
		t.outbox.Kick()
	}
}

// outboxStatus adds the outbox's connectors to the till's status, and a
// problem line for each connector with dead letters.
func (t *Till) outboxStatus(st *ui.Status) {
	if t.outbox == nil {
		return
	}
	for _, s := range t.outbox.Status() {
		st.Outbox = append(st.Outbox, ui.OutboxStatus{Connector: s.Connector, Configured: s.Configured, Sending: s.Sending,
			Reachable: s.Reachable, Pending: s.Pending, Oldest: s.Oldest, Dead: s.Dead, LastError: s.LastError, Line: s.Line,
			LineNote: outboxLineNote(s)})
		if s.Dead > 0 {
			st.AddProblem(ui.Note{Key: ui.NoteDeadLetters, Args: map[string]any{"connector": s.Connector, "n": s.Dead},
				Text: fmt.Sprintf("%s: %d item(s) in the dead-letter list need a manager (Settings, Outbox)", s.Connector, s.Dead)})
		}
	}
}

// outboxLineNote is a connector's backlog line as a note the page
// translates: node/outbox's message (outbox.Status.Note), whose English
// is the line.
func outboxLineNote(s outbox.Status) ui.Note {
	return ui.Note{Key: s.Note.Key, Args: maps.Clone(s.Note.Args), Text: s.Line}
}

// DeadLetters lists the store's dead letters (ui.Outboxer).
func (t *Till) DeadLetters(ctx context.Context) ([]ui.DeadLetter, error) {
	dl, err := t.outbox.DeadLetters(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.DeadLetter, 0, len(dl))
	for _, d := range dl {
		out = append(out, ui.DeadLetter(d))
	}
	return out, nil
}

// RetryDeadLetter sends a dead letter again (ui.Outboxer).
func (t *Till) RetryDeadLetter(ctx context.Context, connector, eventID string) error {
	err := t.outbox.Retry(ctx, connector, eventID)
	switch {
	case errors.Is(err, outbox.ErrNotFound):
		return fmt.Errorf("%w: %v", ui.ErrNotFound, err)
	case err != nil && strings.Contains(err.Error(), "event id"):
		return fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	return err
}

// FiscalRecord returns a sale's fiscal registration (ui.Outboxer).
func (t *Till) FiscalRecord(ctx context.Context, eventID string) (ui.FiscalRecord, error) {
	id, err := ledger.ParseEventID(eventID)
	if err != nil {
		return ui.FiscalRecord{}, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	if _, ok, err := t.settingBytes(ctx, fiscal.SettingName); err != nil {
		return ui.FiscalRecord{}, err
	} else if !ok {
		return ui.FiscalRecord{State: "off"}, nil
	}
	rec, err := t.outbox.Record(ctx, "fiscal", id)
	if err != nil {
		return ui.FiscalRecord{}, err
	}
	if rec == nil {
		return ui.FiscalRecord{State: "pending"}, nil
	}
	out := ui.FiscalRecord{State: string(rec.State), Number: rec.Ref, Sign: rec.Sign, URL: rec.URL, Reason: rec.Reason}
	if rec.State == outbox.Sent && rec.URL != "" {
		if out.QR, err = qrDataURL(rec.URL); err != nil {
			t.log.Warn("fiscal verification QR", "event", eventID, "err", err)
		}
	}
	return out, nil
}

// OutboxSettings returns the store's outbox settings without their
// secrets (ui.Outboxer).
func (t *Till) OutboxSettings(ctx context.Context) (ui.OutboxSettings, error) {
	var out ui.OutboxSettings
	var f fiscal.Settings
	var tg notify.TelegramSettings
	var wh notify.WebhookSettings
	var r notify.Rules
	for name, v := range map[string]any{fiscal.SettingName: &f, notify.TelegramSetting: &tg, notify.WebhookSetting: &wh, notify.RulesSetting: &r} {
		b, ok, err := t.settingBytes(ctx, name)
		if err != nil {
			return out, err
		}
		if ok {
			if err := json.Unmarshal(b, v); err != nil {
				return out, fmt.Errorf("setting %s: %w", name, err)
			}
		}
	}
	out.Fiscal = ui.FiscalSettings{URL: f.URL, TIN: f.TIN, TokenSet: f.Token != "", PerTill: f.PerTill}
	out.Telegram = ui.TelegramSettings{API: tg.API, Chat: tg.Chat, TokenSet: tg.Token != ""}
	out.Webhook = ui.WebhookSettings{URL: wh.URL, AllowInternal: wh.AllowInternal, SecretSet: wh.Secret != ""}
	out.Rules = ui.NotifyRules{ShiftClosed: r.ShiftClosed, RefundOver: r.RefundOver, VoidOver: r.VoidOver,
		FiscalBacklogHours: r.FiscalBacklogHours, TillOfflineMinutes: r.TillOfflineMinutes,
		LowStock: r.LowStock, Overspend: r.Overspend, Anomaly: r.Anomaly}
	return out, nil
}

// PutOutboxSettings checks every part, then stores the parts that
// changed (ui.Outboxer). An empty secret keeps the stored one; a
// destination configured for the first time starts from now, so a store
// does not send its whole history when it turns fiscal registration on.
func (t *Till) PutOutboxSettings(ctx context.Context, s ui.OutboxSettings) error {
	now := t.cfg.Now().UnixMilli()
	var writes []func() error
	if err := putDestination(t, ctx, fiscal.SettingName, s.Fiscal.URL == "", now, &writes,
		fiscal.Settings{URL: s.Fiscal.URL, TIN: s.Fiscal.TIN, Token: s.Fiscal.Token, PerTill: s.Fiscal.PerTill},
		func(f *fiscal.Settings) (*string, *int64) { return &f.Token, &f.Since }); err != nil {
		return err
	}
	if err := putDestination(t, ctx, notify.TelegramSetting, s.Telegram.Chat == "", now, &writes,
		notify.TelegramSettings{API: s.Telegram.API, Chat: s.Telegram.Chat, Token: s.Telegram.Token},
		func(tg *notify.TelegramSettings) (*string, *int64) { return &tg.Token, &tg.Since }); err != nil {
		return err
	}
	if err := putDestination(t, ctx, notify.WebhookSetting, s.Webhook.URL == "", now, &writes,
		notify.WebhookSettings{URL: s.Webhook.URL, Secret: s.Webhook.Secret, AllowInternal: s.Webhook.AllowInternal},
		func(wh *notify.WebhookSettings) (*string, *int64) { return &wh.Secret, &wh.Since }); err != nil {
		return err
	}
	r := notify.Rules{ShiftClosed: s.Rules.ShiftClosed, RefundOver: s.Rules.RefundOver, VoidOver: s.Rules.VoidOver,
		FiscalBacklogHours: s.Rules.FiscalBacklogHours, TillOfflineMinutes: s.Rules.TillOfflineMinutes,
		LowStock: s.Rules.LowStock, Overspend: s.Rules.Overspend, Anomaly: s.Rules.Anomaly}
	if err := r.Check(); err != nil {
		return fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	rb, _ := json.Marshal(r)
	writes = append(writes, func() error { return t.inv.PutSetting(ctx, notify.RulesSetting, rb) })

	for _, w := range writes {
		if err := w(); err != nil {
			return fmt.Errorf("store outbox settings: %w", err)
		}
	}
	t.kickOutbox()
	return nil
}

// putDestination checks one destination's setting as the manager's form
// gives it (form) and queues its write: off deletes it; otherwise a
// secret the form left empty keeps the stored one (secrets are never
// shown back), and Since is kept, or set to now the first time, so a
// new destination does not get the store's history. fields points at
// the setting's secret and Since. Nothing is written if a check fails.
func putDestination[S interface{ Check() error }](t *Till, ctx context.Context, name string, off bool, now int64,
	writes *[]func() error, form S, fields func(*S) (secret *string, since *int64)) error {
	if off {
		*writes = append(*writes, func() error {
			if _, ok, _ := t.settingBytes(ctx, name); !ok {
				return nil
			}
			return t.inv.DeleteSetting(ctx, name)
		})
		return nil
	}
	var old S
	b, had, err := t.settingBytes(ctx, name)
	if err != nil {
		return err
	}
	if had {
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("setting %s: %w", name, err)
		}
	}
	secret, since := fields(&form)
	oldSecret, oldSince := fields(&old)
	if *secret == "" {
		*secret = *oldSecret
	}
	*since = *oldSince
	if !had {
		*since = now
	}
	if err := form.Check(); err != nil {
		return fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	nb, _ := json.Marshal(form)
	*writes = append(*writes, func() error { return t.inv.PutSetting(ctx, name, nb) })
	return nil
}

// runOutbox runs the outbox and, with an HQ, reports it there while this
// till is the store's relay.
func (t *Till) runOutbox(ctx context.Context) error {
	t.host.Host().SetStreamHandler(outboxStateProto.id, t.serveOutboxState) // outbox_catchup.go
	defer t.host.Host().RemoveStreamHandler(outboxStateProto.id)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t.runAlerts(ctx) // outbox_alerts.go
	}()
	if t.relay != nil {
		client, err := hqapi.NewClient(t.cfg.HQ, t.cfg.Store.ID, t.key, t.cert, nil, t.cfg.Now)
		if err != nil {
			return fmt.Errorf("outbox report to HQ: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.reportOutbox(ctx, client)
		}()
	}
	return t.outbox.Run(ctx)
}

// outboxReportEvery is how often the relay reports the outbox to HQ.
const outboxReportEvery = 5 * time.Second

// reportOutbox sends HQ the store's outbox every outboxReportEvery while
// this till is the relay, and sends again the dead letters HQ's staff
// asked to retry. An HQ that does not know the route (older) is asked
// again ten times less often.
func (t *Till) reportOutbox(ctx context.Context, client *hqapi.Client) {
	tick := time.NewTicker(outboxReportEvery)
	defer tick.Stop()
	skip := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if skip > 0 {
			skip--
			continue
		}
		if !t.relay.IsRelay() {
			continue
		}
		rep, err := t.outboxReport(ctx)
		if err != nil {
			t.log.Debug("outbox report", "err", err)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, outboxReportEvery)
		ans, err := client.PutOutbox(rctx, rep)
		cancel()
		if err != nil {
			if hqapi.IsNotFound(err) {
				skip = 10
			}
			t.log.Debug("outbox report to HQ", "err", err)
			continue
		}
		t.applyPlacement(ctx, client, ans) // outbox_place.go
		for _, rt := range ans.Retry {
			if err := t.outbox.Retry(ctx, rt.Connector, rt.EventID); err != nil {
				t.log.Warn("retry asked by HQ", "connector", rt.Connector, "event", rt.EventID, "err", err)
			} else {
				t.log.Info("dead letter sent again at HQ's request", "connector", rt.Connector, "event", rt.EventID)
			}
		}
	}
}

func (t *Till) outboxReport(ctx context.Context) (*hqapi.OutboxReport, error) {
	dl, err := t.outbox.DeadLetters(ctx)
	if err != nil {
		return nil, err
	}
	rep := &hqapi.OutboxReport{At: t.cfg.Now(), Connectors: []hqapi.OutboxConnector{}, DeadLetters: []hqapi.OutboxDeadLetter{}}
	for _, s := range t.outbox.Status() {
		rep.Connectors = append(rep.Connectors, hqapi.OutboxConnector{Connector: s.Connector, Configured: s.Configured,
			Pending: s.Pending, Oldest: s.Oldest, Dead: s.Dead, LastError: s.LastError, Line: s.Line})
	}
	for _, d := range dl {
		rep.DeadLetters = append(rep.DeadLetters, hqapi.OutboxDeadLetter(d))
	}
	if err := t.reportPlacement(ctx, rep); err != nil { // outbox_place.go
		return nil, err
	}
	return rep, nil
}

// fiscalFooter is what a sale's receipt says of its fiscal registration:
// nothing when the store does not register receipts; "Fiscal
// registration pending" until the service answers; then the fiscal
// number, sign and verification URL (the service's QR link).
func (t *Till) fiscalFooter(ctx context.Context, id ledger.EventID) []string {
	if t.outbox == nil {
		return nil
	}
	if _, ok, err := t.settingBytes(ctx, fiscal.SettingName); err != nil || !ok {
		return nil
	}
	word := t.receiptWords(ctx) // in the store's language (issue 20)
	rec, err := t.outbox.Record(ctx, "fiscal", id)
	if err != nil || rec == nil || rec.State != outbox.Sent {
		return []string{word("receipt.fiscal.pending")}
	}
	out := []string{word("receipt.fiscal.number", "number", rec.Ref)}
	if rec.Sign != "" {
		out = append(out, word("receipt.fiscal.sign", "sign", rec.Sign))
	}
	if rec.URL != "" {
		out = append(out, rec.URL)
	}
	return out
}

// fiscalURL is a registered sale's fiscal verification URL, printed as a
// QR code on reprints; empty until it is registered.
func (t *Till) fiscalURL(ctx context.Context, id ledger.EventID) string {
	if t.outbox == nil {
		return ""
	}
	if _, ok, err := t.settingBytes(ctx, fiscal.SettingName); err != nil || !ok {
		return ""
	}
	rec, err := t.outbox.Record(ctx, "fiscal", id)
	if err != nil || rec == nil || rec.State != outbox.Sent {
		return ""
	}
	return rec.URL
}

// qrDataURL draws data as a QR code (error correction M, the receipt's
// level) in SVG, as a data: URL for the receipt screen: one path of
// unit squares on a white square with the 4-module quiet zone.
func qrDataURL(data string) (string, error) {
	q, err := qrcode.New(data, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	bm := q.Bitmap() // includes the quiet zone
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, len(bm), len(bm))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, len(bm), len(bm))
	for y, row := range bm {
		for x, on := range row {
			if on {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(b.String())), nil
}
