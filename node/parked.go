package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// Parked sales (ui.Parking). The till that parks a sale owns it: the
// record lives in its own ledger database (snapshot set "parked",
// fsynced like every ledger write), so it survives a restart, and only
// that till hands it out. Another till resumes it by asking the owner
// over parkedProto; the owner marks the record taken, durably, before
// it answers, under one lock, so of two tills resuming at once one gets
// the sale and the other is told where it went. The record stays as a
// tombstone (who took it, with which key) so a retry after a lost answer
// gets the same sale, and for a day so the screen can say where it went.
// The price of that exactly-once: a sale parked at a till that is down or
// cut off waits for it (the list names unreachable tills).
const (
	parkedSet  = "parked"
	parkedNext = "next"         // the record holding the next number
	parkedKeep = 24 * time.Hour // tombstones of resumed sales
	maxParked  = 200            // open parked sales per till
)

var parkedProto = jsonProto{
	id:      "/tillmesh/parked/1",
	name:    "parked-sale",
	timeout: 3 * time.Second,
	maxReq:  4096,
	maxResp: 1 << 20,
}

// parkedRecord is one parked sale in the owner's database.
type parkedRecord struct {
	Sale      ui.ParkedSale `json:"sale"`
	ResumedBy uint32        `json:"resumed_by,omitempty"` // till number
	Key       string        `json:"key,omitempty"`
	ResumedAt time.Time     `json:"resumed_at,omitzero"`
}

// parkState serialises parking and taking at the owner.
type parkState struct {
	mu sync.Mutex
}

// parkedReq and parkedResp are the protocol's messages, one each way,
// as JSON lines.
type parkedReq struct {
	Op  string `json:"op"` // "list" or "take"
	ID  string `json:"id,omitempty"`
	Key string `json:"key,omitempty"`
}

type parkedResp struct {
	Sales []ui.ParkedSale `json:"sales,omitempty"`
	Sale  *ui.ParkedSale  `json:"sale,omitempty"`
	Error string          `json:"error,omitempty"`
	Code  string          `json:"code,omitempty"` // "conflict", "not_found", "bad"
}

func (t *Till) openParking() {
	t.host.Host().SetStreamHandler(parkedProto.id, t.serveParked)
}

// Park stores a parked sale under the till's next number.
func (t *Till) Park(ctx context.Context, p ui.ParkedSale) (ui.ParkedSale, error) {
	if len(p.Lines) == 0 {
		return ui.ParkedSale{}, fmt.Errorf("%w: nothing to park", ui.ErrBadRequest)
	}
	t.park.mu.Lock()
	defer t.park.mu.Unlock()
	recs, next, err := t.parkedRecords()
	if err != nil {
		return ui.ParkedSale{}, err
	}
	open := 0
	var del []string
	now := t.cfg.Now()
	for k, r := range recs {
		switch {
		case r.ResumedBy == 0:
			open++
		case now.Sub(r.ResumedAt) > parkedKeep:
			del = append(del, k)
		}
	}
	if open >= maxParked {
		return ui.ParkedSale{}, fmt.Errorf("%w: %d sales are parked at this till already: resume or clear some", ui.ErrConflict, open)
	}
	p.Till, p.ID = t.cert.Number, fmt.Sprintf("%d-%d", t.cert.Number, next)
	b, err := json.Marshal(parkedRecord{Sale: p})
	if err != nil {
		return ui.ParkedSale{}, fmt.Errorf("park sale: %w", err)
	}
	put := map[string][]byte{strconv.FormatUint(next, 10): b, parkedNext: []byte(strconv.FormatUint(next+1, 10))}
	if err := t.db.UpdateSnapshot(parkedSet, put, del); err != nil {
		return ui.ParkedSale{}, fmt.Errorf("park sale: %w", err)
	}
	return p, nil
}

// parkedRecords reads the till's parked records by number, and the next
// number. Call with park.mu held.
func (t *Till) parkedRecords() (map[string]parkedRecord, uint64, error) {
	raw, err := t.db.Snapshot(parkedSet)
	if err != nil {
		return nil, 0, err
	}
	next := uint64(1)
	out := make(map[string]parkedRecord, len(raw))
	for k, b := range raw {
		if k == parkedNext {
			if n, err := strconv.ParseUint(string(b), 10, 64); err == nil && n > next {
				next = n
			}
			continue
		}
		var r parkedRecord
		if err := json.Unmarshal(b, &r); err != nil {
			t.log.Warn("unreadable parked sale record skipped", "key", k, "err", err)
			continue
		}
		if n, err := strconv.ParseUint(k, 10, 64); err == nil && n >= next {
			next = n + 1
		}
		out[k] = r
	}
	return out, next, nil
}

// ownParked lists this till's open parked sales.
func (t *Till) ownParked() ([]ui.ParkedSale, error) {
	t.park.mu.Lock()
	recs, _, err := t.parkedRecords()
	t.park.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := []ui.ParkedSale{}
	for _, r := range recs {
		if r.ResumedBy == 0 {
			out = append(out, r.Sale)
		}
	}
	return out, nil
}

// takeParked hands parked sale n of this till to till `by`, once.
func (t *Till) takeParked(n string, by uint32, key string) (ui.ParkedSale, error) {
	if key == "" {
		return ui.ParkedSale{}, fmt.Errorf("%w: resuming a parked sale needs a key", ui.ErrBadRequest)
	}
	t.park.mu.Lock()
	defer t.park.mu.Unlock()
	recs, _, err := t.parkedRecords()
	if err != nil {
		return ui.ParkedSale{}, err
	}
	id := fmt.Sprintf("%d-%s", t.cert.Number, n)
	r, ok := recs[n]
	switch {
	case !ok:
		return ui.ParkedSale{}, fmt.Errorf("%w: no parked sale %s", ui.ErrNotFound, id)
	case r.ResumedBy == by && r.Key == key:
		return r.Sale, nil // a retry
	case r.ResumedBy != 0:
		return ui.ParkedSale{}, fmt.Errorf("%w: parked sale %s was already resumed at till %d at %s", ui.ErrConflict, id,
			r.ResumedBy, r.ResumedAt.Local().Format("15:04"))
	}
	r.ResumedBy, r.Key, r.ResumedAt = by, key, t.cfg.Now()
	b, err := json.Marshal(r)
	if err != nil {
		return ui.ParkedSale{}, fmt.Errorf("resume parked sale %s: %w", id, err)
	}
	if err := t.db.UpdateSnapshot(parkedSet, map[string][]byte{n: b}, nil); err != nil {
		return ui.ParkedSale{}, fmt.Errorf("resume parked sale %s: %w", id, err)
	}
	return r.Sale, nil
}

// parseParkedID splits "<till>-<n>".
func parseParkedID(id string) (till uint32, n string, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(id), "-")
	tn, err1 := strconv.ParseUint(a, 10, 32)
	nn, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || tn == 0 || nn == 0 {
		return 0, "", fmt.Errorf("%w: parked sale %q: want <till>-<number>, like 1-3", ui.ErrBadRequest, id)
	}
	return uint32(tn), strconv.FormatUint(nn, 10), nil
}

// Resume takes a parked sale from the till that owns it (ui.Parking).
func (t *Till) Resume(ctx context.Context, id, key string) (ui.ParkedSale, error) {
	till, n, err := parseParkedID(id)
	if err != nil {
		return ui.ParkedSale{}, err
	}
	if till == t.cert.Number {
		return t.takeParked(n, t.cert.Number, key)
	}
	p, ok := t.peerOfNumber(till)
	if !ok {
		return ui.ParkedSale{}, fmt.Errorf("%w: till %d, where sale %s is parked, is not reachable: resume it there, or once it is back", ui.ErrUnavailable, till, id)
	}
	resp, err := t.askParked(ctx, p, parkedReq{Op: "take", ID: n, Key: key})
	if err != nil {
		return ui.ParkedSale{}, fmt.Errorf("%w: till %d, where sale %s is parked, did not answer: %v", ui.ErrUnavailable, till, id, err)
	}
	if err := resp.err(); err != nil {
		return ui.ParkedSale{}, err
	}
	if resp.Sale == nil || resp.Sale.ID != id {
		return ui.ParkedSale{}, fmt.Errorf("%w: till %d answered for another parked sale", ui.ErrUnavailable, till)
	}
	return *resp.Sale, nil
}

func (r parkedResp) err() error {
	if r.Error == "" {
		return nil
	}
	switch r.Code {
	case "conflict":
		return fmt.Errorf("%w: %s", ui.ErrConflict, r.Error)
	case "not_found":
		return fmt.Errorf("%w: %s", ui.ErrNotFound, r.Error)
	case "bad":
		return fmt.Errorf("%w: %s", ui.ErrBadRequest, r.Error)
	}
	return fmt.Errorf("%w: %s", ui.ErrUnavailable, r.Error)
}

// ParkedSales lists this till's parked sales and every reachable
// peer's (ui.Parking), oldest first.
func (t *Till) ParkedSales(ctx context.Context) (ui.ParkedList, error) {
	own, err := t.ownParked()
	if err != nil {
		return ui.ParkedList{}, err
	}
	out := ui.ParkedList{Sales: own}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range t.host.Peers() {
		if p.Number == 0 || p.Number == t.cert.Number {
			continue
		}
		if !p.Connected || !p.Admitted {
			out.Unreachable = append(out.Unreachable, p.Number)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := t.askParked(ctx, p.ID, parkedReq{Op: "list"})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				err = resp.err()
			}
			if err != nil {
				t.log.Debug("list parked sales of a peer", "till", p.Number, "err", err)
				out.Unreachable = append(out.Unreachable, p.Number)
				return
			}
			for _, s := range resp.Sales {
				if s.Till == p.Number { // a peer lists only its own
					out.Sales = append(out.Sales, s)
				}
			}
		}()
	}
	wg.Wait()
	sort.Slice(out.Sales, func(i, j int) bool { return out.Sales[i].Parked.Before(out.Sales[j].Parked) })
	sort.Slice(out.Unreachable, func(i, j int) bool { return out.Unreachable[i] < out.Unreachable[j] })
	return out, nil
}

// peerOfNumber finds the connected, admitted peer that is till n.
func (t *Till) peerOfNumber(n uint32) (peer.ID, bool) {
	for _, p := range t.host.Peers() {
		if p.Number == n && p.Connected && p.Admitted {
			return p.ID, true
		}
	}
	return "", false
}

func (t *Till) askParked(ctx context.Context, p peer.ID, req parkedReq) (parkedResp, error) {
	var resp parkedResp
	err := parkedProto.ask(ctx, t, p, req, &resp)
	return resp, err
}

// serveParked answers an admitted peer's list or take.
func (t *Till) serveParked(st network.Stream) {
	serveJSON(t, parkedProto, st, t.answerParked)
}

func (t *Till) answerParked(_ context.Context, cert ledger.Certificate, req parkedReq) parkedResp {
	var resp parkedResp
	fail := func(err error) {
		resp.Error = err.Error()
		switch {
		case errors.Is(err, ui.ErrConflict):
			resp.Code = "conflict"
		case errors.Is(err, ui.ErrNotFound):
			resp.Code = "not_found"
		case errors.Is(err, ui.ErrBadRequest):
			resp.Code = "bad"
		}
	}
	switch req.Op {
	case "list":
		sales, err := t.ownParked()
		if err != nil {
			fail(err)
		}
		for i := range sales { // the list shows summaries; a take sends the lines
			sales[i].Lines, sales[i].Discount = nil, nil
		}
		resp.Sales = sales
	case "take":
		s, err := t.takeParked(req.ID, cert.Number, req.Key)
		if err != nil {
			fail(err)
		} else {
			resp.Sale = &s
			t.log.Info("parked sale handed to another till", "id", s.ID, "till", cert.Number)
		}
	default:
		fail(fmt.Errorf("%w: unknown op %q", ui.ErrBadRequest, req.Op))
	}
	return resp
}
