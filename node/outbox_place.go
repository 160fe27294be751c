package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/outbox/fiscal"
	"github.com/tillmesh/tillmesh/node/outbox/notify"
)

// placeSetting is the store setting naming the outbox connectors the
// chain runs at HQ for this store: JSON {"fiscal": "hq"}. Every till
// stands those down (Config.Active). Only the relay writes it, when HQ
// says so (applyPlacement); node/hq's outbox_run.go has the protocol.
const placeSetting = "outbox.at"

// placeEvery is how often a till rereads placeSetting: another till's
// change reaches it through the CRDT; its own takes effect at once.
const placeEvery = time.Second

// placeCache is placeSetting as this till last read it. The zero value
// is ready.
type placeCache struct {
	mu   sync.Mutex
	at   map[string]string
	read time.Time
}

// placement returns placeSetting, reread if older than placeEvery.
func (t *Till) placement(ctx context.Context) map[string]string {
	c := &t.placed
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := t.cfg.Now(); c.at == nil || now.Sub(c.read) >= placeEvery {
		at := map[string]string{}
		b, ok, err := t.settingBytes(ctx, placeSetting)
		if err != nil {
			if c.at != nil {
				return maps.Clone(c.at) // keep what we knew
			}
		} else if ok && json.Unmarshal(b, &at) != nil {
			t.log.Warn("unreadable store setting; every connector runs at the store", "setting", placeSetting)
			at = map[string]string{}
		}
		c.at, c.read = at, now
	}
	return maps.Clone(c.at)
}

// outboxActive reports whether a connector runs at this store (not at
// HQ): outbox.Config.Active.
func (t *Till) outboxActive(connector string) bool {
	return t.placement(context.Background())[connector] != hqapi.OutboxAtHQ
}

// putPlacement writes placeSetting, in effect on this till at once.
func (t *Till) putPlacement(ctx context.Context, at map[string]string) error {
	var err error
	if len(at) == 0 {
		err = t.inv.DeleteSetting(ctx, placeSetting)
		if errors.Is(err, crdt.ErrNotFound) {
			err = nil
		}
	} else {
		b, _ := json.Marshal(at)
		err = t.inv.PutSetting(ctx, placeSetting, b)
	}
	if err != nil {
		return fmt.Errorf("store where the outbox connectors run: %w", err)
	}
	c := &t.placed
	c.mu.Lock()
	c.at, c.read = maps.Clone(at), t.cfg.Now()
	c.mu.Unlock()
	return nil
}

// reportPlacement adds to the relay's report the connectors this store
// has stood down for HQ and, while there are any, the store's outbox
// settings HQ sends with.
func (t *Till) reportPlacement(ctx context.Context, rep *hqapi.OutboxReport) error {
	for c, at := range t.placement(ctx) {
		if at == hqapi.OutboxAtHQ {
			rep.AtHQ = append(rep.AtHQ, c)
		}
	}
	sort.Strings(rep.AtHQ)
	if len(rep.AtHQ) == 0 {
		return nil
	}
	rep.Settings = map[string]json.RawMessage{}
	for _, name := range []string{fiscal.SettingName, notify.TelegramSetting, notify.WebhookSetting, notify.RulesSetting} {
		b, ok, err := t.settingBytes(ctx, name)
		if err != nil {
			return err
		}
		if ok && json.Valid(b) {
			rep.Settings[name] = b
		}
	}
	return nil
}

// applyPlacement does what HQ's answer says of where the connectors run:
// stand down the ones HQ takes (and hand over their state when HQ asks
// for it), take back the ones HQ returns (importing HQ's state first).
// It reports the handovers and resumptions at once.
func (t *Till) applyPlacement(ctx context.Context, client *hqapi.Client, ans hqapi.OutboxAnswer) {
	if ans.At == nil {
		return // an HQ that runs no connector
	}
	known := map[string]bool{}
	for _, s := range t.outbox.Status() {
		known[s.Connector] = true
	}
	resume := map[string]hqapi.OutboxHandover{}
	for _, ho := range ans.Resume {
		resume[ho.Connector] = ho
	}
	cur := t.placement(ctx)
	next := maps.Clone(cur)
	var resumed []string
	for c, at := range ans.At {
		if !known[c] {
			continue
		}
		switch {
		case at == hqapi.OutboxAtHQ:
			next[c] = hqapi.OutboxAtHQ
		case at == hqapi.OutboxAtStore && cur[c] == hqapi.OutboxAtHQ:
			if ho, ok := resume[c]; ok {
				if err := t.outbox.Import(ctx, c, fromWire(c, ho.Entries)); err != nil {
					t.log.Warn("take the outbox connector back from HQ", "connector", c, "err", err)
					continue // stays down; HQ hands it again with its next answer
				}
				resumed = append(resumed, c)
			}
			delete(next, c) // HQ never ran it (it did not hand back): ours as it was
		case at == hqapi.OutboxAtStore:
			if _, ok := resume[c]; ok {
				resumed = append(resumed, c) // imported before; HQ missed our word
			}
		}
	}
	if !maps.Equal(cur, next) {
		if err := t.putPlacement(ctx, next); err != nil {
			t.log.Warn("outbox placement", "err", err)
			return
		}
		t.log.Info("outbox connectors placed as HQ says", "at_hq", next)
		t.kickOutbox()
	}
	var hos []hqapi.OutboxHandover
	for _, c := range ans.Handover {
		if next[c] != hqapi.OutboxAtHQ {
			continue
		}
		entries, err := t.outbox.Handover(ctx, c)
		if err != nil {
			t.log.Warn("hand the outbox connector to HQ", "connector", c, "err", err)
			continue
		}
		ho := hqapi.OutboxHandover{Connector: c, Entries: make([]hqapi.OutboxEntry, 0, len(entries))}
		for _, e := range entries {
			ho.Entries = append(ho.Entries, hqapi.OutboxEntry{Kind: e.Kind, ID: e.ID, Value: e.Value})
		}
		hos = append(hos, ho)
	}
	if len(hos) == 0 && len(resumed) == 0 {
		return
	}
	rep, err := t.outboxReport(ctx)
	if err != nil {
		t.log.Warn("outbox report", "err", err)
		return
	}
	rep.Handover, rep.Resumed = hos, resumed
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := client.PutOutbox(rctx, rep); err != nil {
		t.log.Warn("outbox handover to HQ; HQ asks again", "err", err)
		return
	}
	for _, ho := range hos {
		t.log.Info("outbox connector handed to HQ", "connector", ho.Connector, "records", len(ho.Entries))
	}
	for _, c := range resumed {
		t.log.Info("outbox connector taken back from HQ", "connector", c)
	}
}

func fromWire(connector string, es []hqapi.OutboxEntry) []crdt.OutboxEntry {
	out := make([]crdt.OutboxEntry, 0, len(es))
	for _, e := range es {
		out = append(out, crdt.OutboxEntry{Connector: connector, Kind: e.Kind, ID: e.ID, Value: e.Value})
	}
	return out
}
