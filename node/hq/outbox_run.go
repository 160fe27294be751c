package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/fiscal"
	"github.com/tillmesh/tillmesh/node/outbox/notify"
)

// Where a connector runs for a store, as HQ keeps it (kind "at" of the
// connector's records in HQ's outbox storage). A chain moves a connector
// to HQ and back per store; it never runs on both sides at once:
//
//	store --(HQ staff: at HQ)--> to-hq --(store's handover)--> hq
//	hq --(HQ staff: at the store)--> to-store --(store resumed)--> store
//
// In to-hq the store has been told to stand the connector down; it
// waits for its round in progress and reports its cursor and records,
// which HQ imports before it sends anything. In to-store HQ has stopped
// sending; it hands its cursor and records back with every answer until
// the store says it imported them and runs the connector again.
const (
	placeStore   = "store"
	placeToHQ    = "to-hq"
	placeHQ      = "hq"
	placeToStore = "to-store"
)

// outboxConnectors are the connectors a store runs (node/outbox.go).
var outboxConnectors = []string{"fiscal", "telegram", "webhook"}

// Records of HQ's outbox storage besides the outbox's own.
const (
	kindPlace         = "at"       // <connector>/at/v1: placement JSON
	settingsRecord    = "store"    // store/settings/v1: the store's outbox settings
	kindSettings      = "settings" //
	recordID          = "v1"
	hqFiscalWindow    = 16
	hqOutboxElsewhere = "the store's relay"
)

type placement struct {
	At      string `json:"at"`
	Changed int64  `json:"changed"` // Unix ms
	By      string `json:"by,omitempty"`
}

// hqOutbox is one store's connectors at HQ.
type hqOutbox struct {
	store ledger.StoreID
	ob    *outbox.Outbox

	mu       sync.Mutex
	at       map[string]string
	settings map[string]json.RawMessage
	running  bool
}

func (x *hqOutbox) place(c string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p := x.at[c]; p != "" {
		return p
	}
	return placeStore
}

// busy reports whether HQ runs or hands back any connector of the store.
func (x *hqOutbox) busy() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range x.at {
		if p == placeHQ || p == placeToStore {
			return true
		}
	}
	return false
}

// read is the connectors' settings reader: the store's settings as its
// relay last sent them. A webhook at HQ never goes to an internal
// address: HQ's network is not the store's.
func (x *hqOutbox) read(_ context.Context, name string) ([]byte, bool, error) {
	x.mu.Lock()
	v, ok := x.settings[name]
	x.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	if name == notify.WebhookSetting {
		var w notify.WebhookSettings
		if err := json.Unmarshal(v, &w); err != nil {
			return nil, false, err
		}
		w.AllowInternal = false
		b, _ := json.Marshal(w)
		return b, true, nil
	}
	return v, true, nil
}

func (h *HQ) outboxStorage() (outboxStorage, error) {
	st, ok := h.st.(outboxStorage)
	if !ok {
		return nil, errors.New("hq: this storage cannot keep outbox state")
	}
	return st, nil
}

// storeOutbox returns the store's connectors at HQ, loading their state
// from storage the first time.
func (h *HQ) storeOutbox(ctx context.Context, store ledger.StoreID) (*hqOutbox, error) {
	b := &h.outbox
	b.mu.Lock()
	x := b.runs[store]
	b.mu.Unlock()
	if x != nil {
		return x, nil
	}
	st, err := h.outboxStorage()
	if err != nil {
		return nil, err
	}
	if h.store(store) == nil {
		return nil, ErrUnknownStore
	}
	x = &hqOutbox{store: store, at: map[string]string{}, settings: map[string]json.RawMessage{}}
	for _, c := range outboxConnectors {
		v, err := st.OutboxEntry(ctx, store, c, kindPlace, recordID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read where %s runs: %w", c, err)
		}
		var p placement
		if err := json.Unmarshal(v, &p); err != nil {
			return nil, fmt.Errorf("read where %s runs: %w", c, err)
		}
		x.at[c] = p.At
	}
	if v, err := st.OutboxEntry(ctx, store, settingsRecord, kindSettings, recordID); err == nil {
		if err := json.Unmarshal(v, &x.settings); err != nil {
			return nil, fmt.Errorf("read the store's outbox settings: %w", err)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	oc := outbox.DefaultConfig()
	oc.Connectors = []outbox.Connector{fiscal.New(x.read, hqFiscalWindow),
		notify.NewTelegram(x.read, nil, nil), notify.NewWebhook(x.read, nil, h.cfg.Now)}
	oc.Ledger = &hqLedger{h: h, store: store}
	oc.Store = &hqOutboxStore{st: st, store: store}
	oc.Leader = func() bool { return true }
	oc.Active = func(c string) bool { return x.place(c) == placeHQ }
	oc.Elsewhere = hqOutboxElsewhere
	oc.Number = func(t ledger.TillID) uint32 {
		if c, ok := h.Certificate(store, t); ok {
			return c.Number
		}
		return 0
	}
	oc.Logger, oc.Now = h.log.With("store", store.String()), h.cfg.Now
	oc.Seed = uint64(h.cfg.Now().UnixNano())
	if x.ob, err = outbox.New(oc); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if y := b.runs[store]; y != nil {
		return y, nil
	}
	if b.runs == nil {
		b.runs = map[ledger.StoreID]*hqOutbox{}
	}
	b.runs[store] = x
	h.startOutbox(x)
	return x, nil
}

// startOutbox runs x's connectors if HQ runs outboxes (RunOutbox) and x
// has one at HQ. Called with h.outbox.mu held.
func (h *HQ) startOutbox(x *hqOutbox) {
	b := &h.outbox
	if b.ctx == nil || b.ctx.Err() != nil || !x.busy() {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.running {
		return
	}
	x.running = true
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		x.ob.Run(b.ctx)
	}()
}

// RunOutbox sends, until ctx ends, for every store whose connectors the
// chain runs at HQ (fiscal registration, Telegram, webhooks), from HQ's
// copy of the store's ledger. Run calls it.
func (h *HQ) RunOutbox(ctx context.Context) error {
	b := &h.outbox
	b.mu.Lock()
	b.ctx = ctx
	b.mu.Unlock()
	if _, err := h.outboxStorage(); err == nil {
		for _, s := range h.storeList() {
			if _, err := h.storeOutbox(ctx, s.rec.ID); err != nil {
				h.log.Warn("outbox at HQ", "store", s.rec.ID.String(), "err", err)
			}
		}
		b.mu.Lock()
		for _, x := range b.runs {
			h.startOutbox(x)
		}
		b.mu.Unlock()
	}
	<-ctx.Done()
	b.wg.Wait()
	return nil
}

// SetOutboxPlacement moves a store's connector to HQ (at "hq") or back
// to the store (at "store"). The move completes with the store's next
// outbox reports; until then neither side sends it.
func (h *HQ) SetOutboxPlacement(ctx context.Context, store ledger.StoreID, connector, at, user string) error {
	if !slices.Contains(outboxConnectors, connector) {
		return fmt.Errorf("%w: no connector %q (fiscal, telegram, webhook)", ErrInvalid, connector)
	}
	if at != hqapi.OutboxAtHQ && at != hqapi.OutboxAtStore {
		return fmt.Errorf("%w: a connector runs at %q or %q, not %q", ErrInvalid, hqapi.OutboxAtHQ, hqapi.OutboxAtStore, at)
	}
	x, err := h.storeOutbox(ctx, store)
	if err != nil {
		return err
	}
	b := &h.outbox
	b.place.Lock()
	defer b.place.Unlock()
	cur, next := x.place(connector), ""
	switch {
	case at == hqapi.OutboxAtHQ && cur == placeStore:
		next = placeToHQ
	case at == hqapi.OutboxAtHQ && cur == placeToStore:
		return fmt.Errorf("%w: %s is still being handed back to the store; try again once the store runs it", ErrInvalid, connector)
	case at == hqapi.OutboxAtStore && cur == placeHQ:
		next = placeToStore
	case at == hqapi.OutboxAtStore && cur == placeToHQ:
		next = placeStore // the store never handed it over: it keeps it
	default:
		return nil
	}
	if err := h.setPlace(ctx, x, connector, next, user); err != nil {
		return err
	}
	h.log.Info("outbox connector moving", "store", store.String(), "connector", connector, "from", cur, "to", next, "user", user)
	return nil
}

// setPlace stores a placement. Called with h.outbox.place held.
func (h *HQ) setPlace(ctx context.Context, x *hqOutbox, connector, at, user string) error {
	st, err := h.outboxStorage()
	if err != nil {
		return err
	}
	v, _ := json.Marshal(placement{At: at, Changed: h.cfg.Now().UnixMilli(), By: user})
	if err := st.PutOutboxEntries(ctx, x.store, []crdt.OutboxEntry{{Connector: connector, Kind: kindPlace, ID: recordID, Value: v}}); err != nil {
		return fmt.Errorf("store where %s runs: %w", connector, err)
	}
	x.mu.Lock()
	x.at[connector] = at
	x.mu.Unlock()
	b := &h.outbox
	b.mu.Lock()
	h.startOutbox(x)
	b.mu.Unlock()
	x.ob.Kick()
	return nil
}

// OutboxPlacements returns where each connector of the store runs
// (placeStore, placeToHQ, placeHQ, placeToStore).
func (h *HQ) OutboxPlacements(ctx context.Context, store ledger.StoreID) (map[string]string, error) {
	x, err := h.storeOutbox(ctx, store)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, c := range outboxConnectors {
		out[c] = x.place(c)
	}
	return out, nil
}

// outboxExchange takes what a store's report says of the connectors'
// placement (settings, handovers, resumed connectors) and adds to ans
// what the store must do. Errors are HQ's own (storage): the relay
// reports again.
func (h *HQ) outboxExchange(ctx context.Context, store ledger.StoreID, rep *hqapi.OutboxReport, ans *hqapi.OutboxAnswer) error {
	if _, err := h.outboxStorage(); err != nil {
		return nil // nothing runs at HQ: the answer says nothing of it
	}
	x, err := h.storeOutbox(ctx, store)
	if err != nil {
		return err
	}
	b := &h.outbox
	b.place.Lock()
	defer b.place.Unlock()
	st, _ := h.outboxStorage()
	if rep.Settings != nil {
		v, _ := json.Marshal(rep.Settings)
		if err := st.PutOutboxEntries(ctx, store, []crdt.OutboxEntry{{Connector: settingsRecord, Kind: kindSettings, ID: recordID, Value: v}}); err != nil {
			return fmt.Errorf("store the store's outbox settings: %w", err)
		}
		x.mu.Lock()
		x.settings = rep.Settings
		x.mu.Unlock()
	}
	for _, ho := range rep.Handover {
		if x.place(ho.Connector) != placeToHQ {
			continue // not asked for (or asked for and then cancelled): the store keeps it
		}
		entries := make([]crdt.OutboxEntry, 0, len(ho.Entries))
		for _, e := range ho.Entries {
			entries = append(entries, crdt.OutboxEntry{Connector: ho.Connector, Kind: e.Kind, ID: e.ID, Value: e.Value})
		}
		if err := x.ob.Import(ctx, ho.Connector, entries); err != nil {
			return fmt.Errorf("%w: the store's handover of %s: %v", ErrInvalid, ho.Connector, err)
		}
		if err := h.setPlace(ctx, x, ho.Connector, placeHQ, "store handover"); err != nil {
			return err
		}
		h.log.Info("outbox connector now runs at HQ", "store", store.String(), "connector", ho.Connector, "records", len(entries))
	}
	for _, c := range rep.Resumed {
		if x.place(c) == placeToStore {
			if err := h.setPlace(ctx, x, c, placeStore, "store resumed"); err != nil {
				return err
			}
			h.log.Info("outbox connector runs at the store again", "store", store.String(), "connector", c)
		}
	}
	ans.At = map[string]string{}
	for _, c := range outboxConnectors {
		switch x.place(c) {
		case placeStore:
			ans.At[c] = hqapi.OutboxAtStore
		case placeToHQ:
			ans.At[c] = hqapi.OutboxAtHQ
			ans.Handover = append(ans.Handover, c)
		case placeHQ:
			ans.At[c] = hqapi.OutboxAtHQ
		case placeToStore:
			ans.At[c] = hqapi.OutboxAtStore
			entries, err := x.ob.Handover(ctx, c)
			if err != nil {
				return fmt.Errorf("hand %s back to the store: %w", c, err)
			}
			ho := hqapi.OutboxHandover{Connector: c, Entries: make([]hqapi.OutboxEntry, 0, len(entries))}
			for _, e := range entries {
				ho.Entries = append(ho.Entries, hqapi.OutboxEntry{Kind: e.Kind, ID: e.ID, Value: e.Value})
			}
			ans.Resume = append(ans.Resume, ho)
		}
	}
	return nil
}

// hqLedger is HQ's stored copy of a store's ledger as the outbox reads
// it: what the store's relay has uploaded, verified.
type hqLedger struct {
	h     *HQ
	store ledger.StoreID
}

func (l *hqLedger) Vector() ledger.Vector {
	s := l.h.store(l.store)
	if s == nil {
		return ledger.Vector{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vector()
}

func (l *hqLedger) Range(till ledger.TillID, from uint64, f func(*ledger.Event) bool) error {
	if from == 0 {
		from = 1
	}
	err := l.h.st.RangeTill(context.Background(), l.store, till, from-1, func(raw []byte) error {
		ev, err := ledger.Decode(raw)
		if err != nil {
			return fmt.Errorf("stored event: %w", err)
		}
		if !f(ev) {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// hqOutboxStore keeps a store's outbox records in HQ's storage, as the
// store keeps them in its CRDT.
type hqOutboxStore struct {
	st    outboxStorage
	store ledger.StoreID
}

func (s *hqOutboxStore) PutOutbox(ctx context.Context, entries []crdt.OutboxEntry) error {
	return s.st.PutOutboxEntries(ctx, s.store, entries)
}

func (s *hqOutboxStore) OutboxGet(ctx context.Context, connector, kind, id string) ([]byte, error) {
	v, err := s.st.OutboxEntry(ctx, s.store, connector, kind, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", crdt.ErrNotFound, err)
	}
	return v, err
}

func (s *hqOutboxStore) OutboxList(ctx context.Context, connector, kind string) (map[string][]byte, error) {
	return s.st.OutboxEntries(ctx, s.store, connector, kind)
}

// apiOutboxPlacement moves a store's connector to HQ or back:
// PUT {"connector": "fiscal", "at": "hq"|"store"}.
func (h *HQ) apiOutboxPlacement(w http.ResponseWriter, r *http.Request, s *session) {
	store, err := ledger.ParseStoreID(r.PathValue("store"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	var req struct {
		Connector string `json:"connector"`
		At        string `json:"at"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	err = h.SetOutboxPlacement(r.Context(), store, req.Connector, req.At, s.user)
	switch {
	case errors.Is(err, ErrUnknownStore):
		writeErr(w, http.StatusNotFound, hqapi.CodeBadRequest, err.Error())
		return
	case errors.Is(err, ErrInvalid):
		writeErr(w, http.StatusConflict, hqapi.CodeBadRequest, err.Error())
		return
	case err != nil:
		h.log.Error("outbox placement", "store", store.String(), "err", err)
		writeErr(w, http.StatusInternalServerError, hqapi.CodeBadRequest, err.Error())
		return
	}
	at, _ := h.OutboxPlacements(r.Context(), store)
	writeJSON(w, http.StatusOK, map[string]any{"at": at})
}

// hqOutboxStatus returns where the store's connectors run, the status
// of the ones at HQ and HQ's dead letters of them.
func (h *HQ) hqOutboxStatus(ctx context.Context, store ledger.StoreID) (map[string]string, []outbox.Status, []hqapi.OutboxDeadLetter) {
	b := &h.outbox
	b.mu.Lock()
	x := b.runs[store]
	b.mu.Unlock()
	if x == nil {
		return nil, nil, nil
	}
	at := map[string]string{}
	for _, c := range outboxConnectors {
		at[c] = x.place(c)
	}
	var sts []outbox.Status
	for _, st := range x.ob.Status() {
		if at[st.Connector] != placeStore {
			st.Line = "at HQ: " + st.Line
			sts = append(sts, st)
		}
	}
	var dead []hqapi.OutboxDeadLetter
	if dl, err := x.ob.DeadLetters(ctx); err == nil {
		for _, d := range dl {
			if at[d.Connector] == placeHQ {
				dead = append(dead, hqapi.OutboxDeadLetter(d))
			}
		}
	}
	return at, sts, dead
}

// retryAtHQ sends a dead letter of a connector HQ runs again; false if
// the connector does not run at HQ.
func (h *HQ) retryAtHQ(ctx context.Context, store ledger.StoreID, connector, eventID string) (bool, error) {
	b := &h.outbox
	b.mu.Lock()
	x := b.runs[store]
	b.mu.Unlock()
	if x == nil || x.place(connector) != placeHQ {
		return false, nil
	}
	return true, x.ob.Retry(ctx, connector, eventID)
}
