package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/ui"
)

// Stock transfers between the run's stores: `transfer N s1 s2 [open]`
// sends N transfers from a live till of store 1 to store 2 and, unless
// open, receives each at a live till of store 2 (from the incoming list
// when the relay brought it, else blind by number). The check then holds
// HQ to: every transfer sent is at HQ in transit or received, never lost
// and never disputed, and each store's stock equals the fold of its own
// ledger (checkHQ, as for every other kind).

// transferrer is what a till handle does for transfers (inproc and
// process handles both).
type transferrer interface {
	transferOut(ctx context.Context, req ui.TransferOutRequest) (ackInfo, string, error)
	transferIn(ctx context.Context, req ui.TransferInRequest) (ackInfo, error)
	transfers(ctx context.Context) (ui.Transfers, error)
}

// sentTransfer is a transfer the harness sent.
type sentTransfer struct {
	number   string
	from, to *store
	received bool
}

// transferLog is every transfer the run sent.
type transferLog struct {
	mu   sync.Mutex
	list []*sentTransfer
}

func (l *transferLog) add(t *sentTransfer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, t)
}

func (l *transferLog) all() []sentTransfer {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]sentTransfer, len(l.list))
	for i, t := range l.list {
		out[i] = *t
	}
	return out
}

// parseTransfer reads "transfer N sA sB [open]".
func (p *lineParser) parseTransfer(st *Step, stores int) error {
	var err error
	if st.N, err = p.count("transfer", 1); err != nil {
		return err
	}
	storeOf := func() (int, error) {
		t, _ := p.next()
		var n int
		if _, err := fmt.Sscanf(t, "s%d", &n); err != nil || n < 1 {
			return 0, p.errorf("transfer: store %q: want a store like s2 (transfer 5 s1 s2 [open])", t)
		}
		return n, nil
	}
	if st.Store, err = storeOf(); err != nil {
		return err
	}
	if st.To, err = storeOf(); err != nil {
		return err
	}
	if st.Store == st.To {
		return p.errorf("transfer: from and to are the same store")
	}
	if n := max(stores, 1); st.Store > n || st.To > n {
		return p.errorf("transfer: s%d or s%d: the scenario has %d store(s)", st.Store, st.To, n)
	}
	if t, ok := p.next(); ok {
		if t != "open" {
			return p.errorf("transfer: unexpected %q (transfer 5 s1 s2 [open])", t)
		}
		st.Arg = "open"
	}
	return nil
}

func (h *harness) transferStep(ctx context.Context, st Step, rng *rand.Rand) (string, error) {
	if st.Store > len(h.stores) || st.To > len(h.stores) {
		return "", fmt.Errorf("transfer: the run has %d stores", len(h.stores))
	}
	if h.hq == nil {
		return "", errors.New("transfer: needs hq on (the destination list comes from HQ)")
	}
	from, to := h.stores[st.Store-1], h.stores[st.To-1]
	// The receiving store gets HQ's list too while it can reach HQ, so
	// it can send offline later, as a store would have it by then.
	if !h.gate.storeDown(to.file.ID) {
		s, err := liveSlot(to, rng)
		if err != nil {
			return "", err
		}
		if err := h.waitChainList(ctx, s, from); err != nil {
			return "", err
		}
	}
	received := 0
	for i := range st.N {
		t, err := h.sendTransfer(ctx, from, to, rng)
		if err != nil {
			return "", fmt.Errorf("transfer %d: %w", i+1, err)
		}
		if st.Arg == "open" {
			continue
		}
		if err := h.receiveTransfer(ctx, t, rng); err != nil {
			return "", fmt.Errorf("receive transfer %s: %w", t.number, err)
		}
		received++
	}
	return fmt.Sprintf("%d transfers %s -> %s, %d received", st.N, from.name, to.name, received), nil
}

func liveSlot(st *store, rng *rand.Rand) (*slot, error) {
	live := st.live()
	if len(live) == 0 {
		return nil, fmt.Errorf("no till of %s is up", st.name)
	}
	return live[rng.IntN(len(live))], nil
}

// sendTransfer sends a few SKUs from a live till of from, once that till
// holds HQ's list of the chain's stores.
func (h *harness) sendTransfer(ctx context.Context, from, to *store, rng *rand.Rand) (*sentTransfer, error) {
	s, err := liveSlot(from, rng)
	if err != nil {
		return nil, err
	}
	_, inc, _ := s.current()
	if err := h.waitChainList(ctx, s, to); err != nil {
		return nil, err
	}
	var lines []ledger.StockLine
	seen := map[string]bool{}
	for n := 1 + rng.IntN(3); len(lines) < n && len(lines) < len(h.catalog); {
		p := h.catalog[rng.IntN(len(h.catalog))]
		if seen[p.SKU] {
			continue
		}
		seen[p.SKU] = true
		q := int64(1 + rng.IntN(5))
		if p.Weighed() {
			q *= 1000
		}
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: q})
	}
	key := h.key(s, inc, "xout")
	var number string
	a, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) {
		tr, ok := th.(transferrer)
		if !ok {
			return ackInfo{}, refused("%s cannot transfer", s.name)
		}
		var a ackInfo
		var err error
		a, number, err = tr.transferOut(ctx, ui.TransferOutRequest{To: to.file.ID.String(), Lines: lines, IdempotencyKey: key})
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	h.acked(s, inc, ledger.KindTransferOut, key, a)
	t := &sentTransfer{number: number, from: from, to: to}
	h.xfers.add(t)
	return t, nil
}

func (h *harness) waitChainList(ctx context.Context, s *slot, to *store) error {
	deadline := time.Now().Add(h.cfg.Wait)
	for {
		th, _, _ := s.current()
		if tr, ok := th.(transferrer); ok {
			if list, err := tr.transfers(ctx); err == nil {
				for _, cs := range list.Stores {
					if cs.ID == to.file.ID.String() {
						return nil
					}
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s has no list of the chain's stores naming %s after %v (the relay brings it from HQ)", s.name, to.name, h.cfg.Wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// receiveTransfer receives a transfer whole at a live till of its
// destination.
func (h *harness) receiveTransfer(ctx context.Context, t *sentTransfer, rng *rand.Rand) error {
	s, err := liveSlot(t.to, rng)
	if err != nil {
		return err
	}
	_, inc, _ := s.current()
	key := h.key(s, inc, "xin")
	a, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) {
		tr, ok := th.(transferrer)
		if !ok {
			return ackInfo{}, refused("%s cannot transfer", s.name)
		}
		// What arrived is what was sent: the sender's event says.
		lines, err := h.sentLines(ctx, t)
		if err != nil {
			return ackInfo{}, err
		}
		return tr.transferIn(ctx, ui.TransferInRequest{Number: t.number, From: t.from.file.ID.String(), Lines: lines, IdempotencyKey: key})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	h.acked(s, inc, ledger.KindTransferIn, key, a)
	h.xfers.mu.Lock()
	t.received = true
	h.xfers.mu.Unlock()
	return nil
}

// sentLines reads a transfer's lines from a live till of its sender.
func (h *harness) sentLines(ctx context.Context, t *sentTransfer) ([]ledger.StockLine, error) {
	for _, s := range t.from.live() {
		th, _, _ := s.current()
		tr, ok := th.(transferrer)
		if !ok {
			continue
		}
		list, err := tr.transfers(ctx)
		if err != nil {
			continue
		}
		for _, x := range list.Sent {
			if x.Number == t.number {
				return x.Lines, nil
			}
		}
	}
	return nil, fmt.Errorf("no live till of %s shows transfer %s", t.from.name, t.number)
}

// checkTransfers holds HQ to the transfers the run sent: each is there,
// in transit or received as the run left it, none disputed. Stores cut
// off from HQ are skipped.
func (h *harness) checkTransfers(r *checkResult) {
	sent := h.xfers.all()
	if h.hq == nil || len(sent) == 0 {
		return
	}
	byNumber := map[string]hq.Transfer{}
	for _, t := range h.hq.Transfers("") {
		byNumber[t.Number] = t
	}
	open, received := 0, 0
	for _, t := range sent {
		if h.gate.storeDown(t.from.file.ID) || (t.received && h.gate.storeDown(t.to.file.ID)) {
			continue
		}
		got, ok := byNumber[t.number]
		want := hq.TransferInTransit
		if t.received {
			want = hq.TransferReceived
		}
		switch {
		case !ok:
			r.lost++
			r.violate("HQ: transfer %s from %s to %s is missing", t.number, t.from.name, t.to.name)
		case got.Status != want:
			r.violate("HQ: transfer %s from %s to %s is %s, want %s (%v)", t.number, t.from.name, t.to.name, got.Status, want, got.Problems)
		case t.received:
			received++
		default:
			open++
		}
	}
	for _, t := range byNumber {
		if t.Status == hq.TransferDisputed {
			r.violate("HQ: transfer %s is disputed: %v", t.Number, t.Problems)
		}
	}
	r.notes = append(r.notes, fmt.Sprintf("transfers at HQ: %d received, %d in transit, as sent", received, open))
}

func (it *inprocTill) transferOut(ctx context.Context, req ui.TransferOutRequest) (a ackInfo, number string, err error) {
	err = it.op(func() error {
		ev, replayed, err := it.t.TransferOut(ctx, req, managerID)
		if err != nil {
			return classify(err)
		}
		a, number = ackOf(ev, it.t.Number(), 0, replayed), ev.Body.(*ledger.TransferOut).Number
		return nil
	})
	return a, number, err
}

func (it *inprocTill) transferIn(ctx context.Context, req ui.TransferInRequest) (a ackInfo, err error) {
	err = it.op(func() error {
		ev, replayed, err := it.t.TransferIn(ctx, req, managerID)
		if err != nil {
			return classify(err)
		}
		a = ackOf(ev, it.t.Number(), 0, replayed)
		return nil
	})
	return a, err
}

func (it *inprocTill) transfers(ctx context.Context) (out ui.Transfers, err error) {
	err = it.op(func() error {
		out, err = it.t.Transfers(ctx)
		return err
	})
	return out, err
}

type transferAnswer struct {
	EventID  string `json:"event_id"`
	Receipt  string `json:"receipt"`
	Seq      uint64 `json:"seq"`
	Existing bool   `json:"existing"`
	Body     struct {
		Number string             `json:"number"`
		Lines  []ledger.StockLine `json:"lines"`
	} `json:"body"`
}

func (p *procTill) transferOut(ctx context.Context, req ui.TransferOutRequest) (ackInfo, string, error) {
	var r transferAnswer
	if err := p.post(ctx, managerID, "/api/transfers/out", req, &r); err != nil {
		return ackInfo{}, "", err
	}
	a, err := ackFromView(r.EventID, "", r.Seq, r.Existing, func(m map[string]int64) {
		for _, l := range r.Body.Lines {
			m[l.SKU] -= l.Qty
		}
	})
	return a, r.Body.Number, err
}

func (p *procTill) transferIn(ctx context.Context, req ui.TransferInRequest) (ackInfo, error) {
	var r transferAnswer
	if err := p.post(ctx, managerID, "/api/transfers/in", req, &r); err != nil {
		return ackInfo{}, err
	}
	return ackFromView(r.EventID, "", r.Seq, r.Existing, func(m map[string]int64) {
		for _, l := range r.Body.Lines {
			if l.Qty != 0 {
				m[l.SKU] += l.Qty
			}
		}
	})
}

func (p *procTill) transfers(ctx context.Context) (ui.Transfers, error) {
	var out ui.Transfers
	s, err := p.login(ctx, managerID)
	if err != nil {
		return out, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/transfers", nil)
	if err != nil {
		return out, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusUnauthorized {
			p.dropSession(managerID)
		}
		return out, fmt.Errorf("GET /api/transfers: %s", resp.Status)
	}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}
