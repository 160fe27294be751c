package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/tillmesh/tillmesh/ledger"
)

// jsonProto is one request/response protocol between admitted tills of
// the store: one JSON request, one JSON answer, one stream each. The
// parked-sale and outbox-state protocols use it.
type jsonProto struct {
	id      protocol.ID
	name    string        // for logs: "parked-sale", "outbox state"
	timeout time.Duration // bounds a whole exchange, on both ends
	maxReq  int64         // the largest request a till reads
	maxResp int64         // the largest answer a till reads
}

// ask sends req to peer p and decodes its answer into resp.
func (jp jsonProto) ask(ctx context.Context, t *Till, p peer.ID, req, resp any) error {
	ctx, cancel := context.WithTimeout(ctx, jp.timeout)
	defer cancel()
	st, err := t.host.Host().NewStream(ctx, p, jp.id)
	if err != nil {
		return err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := json.NewEncoder(st).Encode(req); err != nil {
		st.Reset()
		return err
	}
	if err := st.CloseWrite(); err != nil {
		return err
	}
	if err := json.NewDecoder(io.LimitReader(st, jp.maxResp)).Decode(resp); err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	return nil
}

// serveJSON answers one stream of jp: a peer that is not admitted is
// reset, a request that does not decode within jp.maxReq bytes is reset
// and logged, anything else gets answer's reply.
func serveJSON[Req, Resp any](t *Till, jp jsonProto, st network.Stream, answer func(ctx context.Context, from ledger.Certificate, req Req) Resp) {
	defer st.Close()
	cert, ok := t.host.Admitted(st.Conn().RemotePeer())
	if !ok {
		st.Reset()
		return
	}
	st.SetDeadline(time.Now().Add(jp.timeout))
	var req Req
	if err := json.NewDecoder(io.LimitReader(bufio.NewReader(st), jp.maxReq)).Decode(&req); err != nil {
		t.log.Debug("bad "+jp.name+" request", "till", cert.Number, "err", err)
		st.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), jp.timeout)
	defer cancel()
	if err := json.NewEncoder(st).Encode(answer(ctx, cert, req)); err != nil {
		t.log.Debug("answer "+jp.name+" request", "till", cert.Number, "err", err)
	}
}
