package hq

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/outbox"
)

// outboxBoard holds each store's latest outbox report (fiscal
// registration and notifications, sent by the store's relay till) and
// the retries HQ's staff asked for, until the relay's next report picks
// them up. It lives in memory: the relay reports every few seconds, so
// a restarted HQ shows the outbox again within one report. The zero
// value is ready.
type outboxBoard struct {
	mu     sync.Mutex
	stores map[ledger.StoreID]*outboxState

	// The connectors HQ runs for stores (outbox_run.go): runs holds each
	// store's, started under ctx (RunOutbox's) and counted by wg; place
	// serialises placement changes with the reports that complete them.
	runs  map[ledger.StoreID]*hqOutbox
	ctx   context.Context
	wg    sync.WaitGroup
	place sync.Mutex
}

type outboxState struct {
	report   hqapi.OutboxReport
	received time.Time
	retry    map[hqapi.OutboxRetry]bool
}

func (b *outboxBoard) state(store ledger.StoreID) *outboxState {
	if b.stores == nil {
		b.stores = map[ledger.StoreID]*outboxState{}
	}
	st := b.stores[store]
	if st == nil {
		st = &outboxState{retry: map[hqapi.OutboxRetry]bool{}}
		b.stores[store] = st
	}
	return st
}

// putOutbox takes a relay's report and answers the retries queued for
// its store.
func (h *HQ) putOutbox(w http.ResponseWriter, r *http.Request) {
	store, _, body, ok := h.authBody(w, r)
	if !ok {
		return
	}
	rep, err := hqapi.DecodeOutboxReport(body)
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	ans := hqapi.OutboxAnswer{Retry: []hqapi.OutboxRetry{}}
	if err := h.outboxExchange(r.Context(), store, rep, &ans); err != nil { // outbox_run.go
		if errors.Is(err, ErrInvalid) {
			writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
			return
		}
		h.log.Error("outbox report", "store", store.String(), "err", err)
		writeErr(w, http.StatusInternalServerError, hqapi.CodeBadRequest, "outbox state: "+err.Error())
		return
	}
	b := &h.outbox
	b.mu.Lock()
	st := b.state(store)
	st.report, st.received = *rep, h.cfg.Now()
	for rt := range st.retry {
		ans.Retry = append(ans.Retry, rt)
	}
	clear(st.retry)
	b.mu.Unlock()
	writeJSON(w, http.StatusOK, ans)
}

// OutboxView is one store's outbox on HQ's outbox page.
type OutboxView struct {
	Store       string                   `json:"store"`
	Name        string                   `json:"name"`
	Received    time.Time                `json:"received"`
	Connectors  []hqapi.OutboxConnector  `json:"connectors"`
	DeadLetters []hqapi.OutboxDeadLetter `json:"dead_letters"`
	Queued      int                      `json:"queued_retries"`
	// At says where each connector runs ("store", "to-hq", "hq",
	// "to-store"); AtHQ is the state of the ones HQ runs.
	At   map[string]string `json:"at,omitempty"`
	AtHQ []outbox.Status   `json:"at_hq,omitempty"`
}

// apiOutbox lists every store's outbox as its relay last reported it.
func (h *HQ) apiOutbox(w http.ResponseWriter, r *http.Request, _ *session) {
	names := map[ledger.StoreID]string{}
	h.mu.Lock()
	for id, s := range h.stores {
		names[id] = s.rec.Name
	}
	h.mu.Unlock()
	b := &h.outbox
	b.mu.Lock()
	out := []OutboxView{}
	for id, st := range b.stores {
		out = append(out, OutboxView{Store: id.String(), Name: names[id], Received: st.received,
			Connectors: st.report.Connectors, DeadLetters: st.report.DeadLetters, Queued: len(st.retry)})
	}
	b.mu.Unlock()
	for i := range out {
		id, _ := ledger.ParseStoreID(out[i].Store)
		var dead []hqapi.OutboxDeadLetter
		out[i].At, out[i].AtHQ, dead = h.hqOutboxStatus(r.Context(), id)
		out[i].DeadLetters = append(append([]hqapi.OutboxDeadLetter{}, out[i].DeadLetters...), dead...)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || (out[i].Name == out[j].Name && out[i].Store < out[j].Store)
	})
	writeJSON(w, http.StatusOK, map[string]any{"stores": out})
}

// apiOutboxRetry queues a retry of a dead letter the store reported; the
// store's relay sends it again after its next report.
func (h *HQ) apiOutboxRetry(w http.ResponseWriter, r *http.Request, s *session) {
	store, err := ledger.ParseStoreID(r.PathValue("store"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	var req hqapi.OutboxRetry
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	if atHQ, err := h.retryAtHQ(r.Context(), store, req.Connector, req.EventID); atHQ { // outbox_run.go
		if err != nil {
			writeErr(w, http.StatusNotFound, hqapi.CodeBadRequest, err.Error())
			return
		}
		h.log.Info("dead letter sent again at HQ", "store", store.String(), "connector", req.Connector, "event", req.EventID, "user", s.user)
		writeJSON(w, http.StatusAccepted, map[string]any{"queued": req})
		return
	}
	b := &h.outbox
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stores[store]
	found := false
	if st != nil {
		for _, d := range st.report.DeadLetters {
			found = found || (d.Connector == req.Connector && d.EventID == req.EventID)
		}
	}
	if !found {
		writeErr(w, http.StatusNotFound, hqapi.CodeBadRequest, "no such dead letter in the store's last outbox report")
		return
	}
	st.retry[req] = true
	h.log.Info("dead letter retry queued for the store's relay", "store", store.String(), "connector", req.Connector, "event", req.EventID, "user", s.user)
	writeJSON(w, http.StatusAccepted, map[string]any{"queued": req})
}
