package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// A till that starts sending the store's outbox (at start, or when it
// becomes the sender again) first asks every connected till for its
// state of the connector and imports it (outbox.Config.Catchup). The
// till asked waits for its own round in progress, which stops taking
// items as soon as it no longer leads, so the answer holds the result of
// everything it sent. A restarted till therefore never repeats a message
// another till sent while it was away, however far its CRDT is behind.
// It also leads only once it has met each till it knew before it
// stopped (outboxGate): else, alone at start, it would send before
// anyone could tell it what was sent.
var outboxStateProto = jsonProto{
	id:      "/tillmesh/outbox-state/1",
	name:    "outbox state",
	timeout: 30 * time.Second,
	maxReq:  1024,
	maxResp: 32 << 20,
}

type outboxStateReq struct {
	Connector string `json:"connector"`
}

type outboxStateResp struct {
	Entries []hqapi.OutboxEntry `json:"entries"`
	Error   string              `json:"error,omitempty"`
}

// serveOutboxState answers an admitted peer's request for this till's
// state of a connector.
func (t *Till) serveOutboxState(st network.Stream) {
	serveJSON(t, outboxStateProto, st, func(ctx context.Context, _ ledger.Certificate, req outboxStateReq) outboxStateResp {
		var resp outboxStateResp
		entries, err := t.outbox.Export(ctx, req.Connector)
		if err != nil {
			resp.Error = err.Error()
		}
		resp.Entries = make([]hqapi.OutboxEntry, 0, len(entries))
		for _, e := range entries {
			resp.Entries = append(resp.Entries, hqapi.OutboxEntry{Kind: e.Kind, ID: e.ID, Value: e.Value})
		}
		return resp
	})
}

// outboxCatchup returns the state of connector at every connected till
// of the store (outbox.Config.Catchup). A till too old to answer is
// passed over; any other failure postpones sending.
func (t *Till) outboxCatchup(ctx context.Context, connector string) ([][]crdt.OutboxEntry, error) {
	var out [][]crdt.OutboxEntry
	for _, p := range t.host.Peers() {
		if !p.Connected || !p.Admitted || p.Number == 0 || t.revoked(p.Till) {
			continue
		}
		es, err := t.askOutboxState(ctx, p.ID, connector)
		if err != nil {
			if strings.Contains(err.Error(), "protocols not supported") {
				continue // an older release: its records come through the CRDT
			}
			return nil, fmt.Errorf("outbox state of till %d: %w", p.Number, err)
		}
		out = append(out, es)
	}
	return out, nil
}

func (t *Till) askOutboxState(ctx context.Context, p peer.ID, connector string) ([]crdt.OutboxEntry, error) {
	var resp outboxStateResp
	if err := outboxStateProto.ask(ctx, t, p, outboxStateReq{Connector: connector}, &resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return fromWire(connector, resp.Entries), nil
}

// outboxGate holds a till back from sending the outbox alone right
// after it starts: it leads on its own only once each till it knows (its
// peer cache, static peers) is connected or could not be reached. The
// zero value is closed.
type outboxGate struct {
	mu   sync.Mutex
	open bool
	seen map[string]bool
}

// outboxGateLimit bounds the wait for tills that are never dialled
// (no address known): a till never waits longer than this to send.
const outboxGateLimit = time.Minute

// gateOpen reports whether the startup gate is open.
func (t *Till) gateOpen() bool {
	g := &t.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		return true
	}
	if g.seen == nil {
		g.seen = map[string]bool{}
	}
	open := true
	for _, p := range t.host.Peers() {
		if p.Number == 0 || p.Number == t.cert.Number || t.revoked(p.Till) {
			continue
		}
		key := p.ID.String()
		if (p.Connected && p.Admitted) || p.Problem != "" || p.Blocked || len(p.Addrs) == 0 {
			g.seen[key] = true
		}
		if !g.seen[key] {
			open = false
		}
	}
	if open || t.cfg.Now().Sub(t.outboxAt) >= outboxGateLimit {
		g.open = true
		if !open {
			t.log.Info("outbox: sending without having met every known till", "after", outboxGateLimit)
		}
	}
	return g.open
}
