package crdt

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	blockstore "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/encoding/protowire"
)

// ProtocolID is the direct block protocol between tills. A request names
// the heads wanted and the heads the requester has; the response streams
// every block from the wanted heads down to what the requester has, highest
// first, so the requester can check each block against a CID it already
// trusts (the announced head, or a link of a block already checked).
//
// Wire format: request = uvarint length + CBOR blockRequest. Response = a
// sequence of frames (uvarint len + CID bytes, uvarint len + block bytes),
// ended by a single uvarint 0.
const ProtocolID protocol.ID = "/tillmesh/blocks/1"

const (
	maxRequestBytes = 256 << 10
	maxRequestCIDs  = 2048     // wants and haves, each
	maxBlockBytes   = 2 << 20  // go-ds-crdt caps deltas at 1 MB
	maxServeBlocks  = 1 << 16  // per response
	maxServeBytes   = 64 << 20 // per response
	firstRoundLimit = 8192     // blocks asked for in the first round
	addBatch        = 256      // blocks per blockstore batch
	recentRoots     = 32       // fetched heads remembered as "haves"
	sampleWalk      = 4096     // local blocks walked to sample ancestors
)

type blockRequest struct {
	Want  [][]byte `cbor:"1,keyasint"`
	Have  [][]byte `cbor:"2,keyasint,omitempty"`
	Limit int      `cbor:"3,keyasint"`
}

var reqDecMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxArrayElements: maxRequestCIDs,
		MaxMapPairs:      16,
		MaxNestedLevels:  4,
	}.DecMode()
	if err != nil {
		panic(err) // constant options
	}
	return m
}()

// blockSync serves and fetches DAG blocks over ProtocolID.
type blockSync struct {
	host   host.Host
	bstore blockstore.Blockstore
	heads  func() []cid.Cid
	// covered, when set, reports a block this till does not hold and
	// need not fetch: it lies inside the inventory snapshot the Store
	// was opened from (snapshot.go).
	covered func(context.Context, cid.Cid) bool
	log     *slog.Logger
	timeout time.Duration

	mu     sync.Mutex
	recent []cid.Cid // heads fetched completely, newest last
	closed bool      // no new handlers once set

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // running handlers

	fetched   atomic.Uint64 // blocks received and stored
	rounds    atomic.Uint64 // request/response exchanges made
	fetchErrs atomic.Uint64
	served    atomic.Uint64 // blocks sent to peers
}

func newBlockSync(h host.Host, bs blockstore.Blockstore, timeout time.Duration, log *slog.Logger) *blockSync {
	ctx, cancel := context.WithCancel(context.Background())
	return &blockSync{host: h, bstore: bs, timeout: timeout, log: log, ctx: ctx, cancel: cancel}
}

func (s *blockSync) start() {
	s.host.SetStreamHandler(ProtocolID, func(st network.Stream) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = st.Reset()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		defer s.wg.Done()
		s.handle(st)
	})
}

func (s *blockSync) close() {
	s.host.RemoveStreamHandler(ProtocolID)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// ---- server ----

func (s *blockSync) handle(st network.Stream) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(time.Now().Add(s.timeout))

	req, err := readRequest(bufio.NewReader(st))
	if err != nil {
		s.log.Warn("bad block request", "peer", st.Conn().RemotePeer(), "err", err)
		_ = st.Reset()
		return
	}
	w := bufio.NewWriterSize(st, 64<<10)
	n, err := s.walk(ctx, req.want, req.have, req.limit, func(c cid.Cid, data []byte) error {
		return writeFrame(w, c.Bytes(), data)
	})
	s.served.Add(uint64(n))
	if err == nil {
		err = writeUvarint(w, 0)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		s.log.Debug("serve blocks", "peer", st.Conn().RemotePeer(), "sent", n, "err", err)
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

type parsedRequest struct {
	want, have []cid.Cid
	limit      int
}

func readRequest(r *bufio.Reader) (parsedRequest, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return parsedRequest{}, fmt.Errorf("read request length: %w", err)
	}
	if n == 0 || n > maxRequestBytes {
		return parsedRequest{}, fmt.Errorf("request length %d not in 1..%d", n, maxRequestBytes)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return parsedRequest{}, fmt.Errorf("read request: %w", err)
	}
	return decodeRequest(buf)
}

func decodeRequest(buf []byte) (parsedRequest, error) {
	var req blockRequest
	if err := reqDecMode.Unmarshal(buf, &req); err != nil {
		return parsedRequest{}, fmt.Errorf("decode request: %w", err)
	}
	if len(req.Want) == 0 {
		return parsedRequest{}, errors.New("request wants nothing")
	}
	var p parsedRequest
	for _, b := range req.Want {
		c, err := cid.Cast(b)
		if err != nil {
			return parsedRequest{}, fmt.Errorf("request want: %w", err)
		}
		p.want = append(p.want, c)
	}
	for _, b := range req.Have {
		c, err := cid.Cast(b)
		if err != nil {
			return parsedRequest{}, fmt.Errorf("request have: %w", err)
		}
		p.have = append(p.have, c)
	}
	p.limit = min(max(req.Limit, 1), maxServeBlocks)
	return p, nil
}

const (
	markWant uint8 = 1 << iota // reachable from a wanted head
	markHave                   // reachable from a head the requester has
)

type walkNode struct {
	c      cid.Cid
	height uint64
	links  []cid.Cid
	data   []byte
	mark   uint8
	popped bool
	index  int
}

type walkHeap []*walkNode

func (h walkHeap) Len() int { return len(h) }
func (h walkHeap) Less(i, j int) bool {
	if h[i].height != h[j].height {
		return h[i].height > h[j].height
	}
	return h[i].c.KeyString() < h[j].c.KeyString()
}
func (h walkHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *walkHeap) Push(x any)   { n := x.(*walkNode); n.index = len(*h); *h = append(*h, n) }
func (h *walkHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// walk emits, highest first, every block reachable from want but not from
// have, stopping after limit blocks or maxServeBytes. It is git's
// negotiation with generation numbers: go-ds-crdt gives every node a height
// greater than all its links, so when a node is popped from the max-heap
// every node linking to it has already been popped and its marks are
// final. Blocks this node lacks are skipped. It returns the number of
// blocks emitted.
func (s *blockSync) walk(ctx context.Context, want, have []cid.Cid, limit int, emit func(cid.Cid, []byte) error) (int, error) {
	var (
		h           walkHeap
		nodes       = make(map[cid.Cid]*walkNode)
		pendingWant int // queued nodes marked want but not have
		sent, bytes int
	)
	push := func(c cid.Cid, mark uint8) error {
		if n, ok := nodes[c]; ok {
			if n.popped {
				return nil
			}
			if n.mark == markWant && mark == markHave {
				pendingWant--
			}
			n.mark |= mark
			return nil
		}
		blk, err := s.bstore.Get(ctx, c)
		if ipld.IsNotFound(err) {
			nodes[c] = &walkNode{c: c, popped: true}
			return nil
		}
		if err != nil {
			return fmt.Errorf("get block %s: %w", c, err)
		}
		links, height, err := decodeDAGNode(blk.RawData())
		if err != nil {
			s.log.Warn("skip undecodable stored block", "cid", c, "err", err)
			nodes[c] = &walkNode{c: c, popped: true}
			return nil
		}
		n := &walkNode{c: c, height: height, links: links, data: blk.RawData(), mark: mark}
		nodes[c] = n
		heap.Push(&h, n)
		if mark == markWant {
			pendingWant++
		}
		return nil
	}
	for _, c := range have {
		if err := push(c, markHave); err != nil {
			return sent, err
		}
	}
	for _, c := range want {
		if err := push(c, markWant); err != nil {
			return sent, err
		}
	}
	for pendingWant > 0 && h.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		n := heap.Pop(&h).(*walkNode)
		n.popped = true
		childMark := markHave
		if n.mark == markWant {
			pendingWant--
			if sent >= limit || bytes+len(n.data) > maxServeBytes {
				return sent, nil
			}
			if err := emit(n.c, n.data); err != nil {
				return sent, err
			}
			sent++
			bytes += len(n.data)
			childMark = markWant
		}
		for _, l := range n.links {
			if err := push(l, childMark); err != nil {
				return sent, err
			}
		}
		n.links, n.data = nil, nil
	}
	return sent, nil
}

// decodeDAGNode returns the links and go-ds-crdt height of a dag-pb block.
// It reads the protobuf directly (protowire): the go-codec-dagpb decoder
// behind merkledag.DecodeProtobuf, and decoding the whole delta for its
// priority, took a third of the CPU of serving a catch-up. It is as
// strict as dag-pb's canonical form requires here (links before data,
// fields of a link in order, each link a CID); TestDecodeDAGNodeAgrees
// and FuzzDecodeDAGNode hold it to merkledag's answer.
func decodeDAGNode(data []byte) ([]cid.Cid, uint64, error) {
	var (
		links    []cid.Cid
		delta    []byte
		haveData bool
	)
	for b := data; len(b) > 0; {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return nil, 0, fmt.Errorf("decode dag-pb: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType || (num != 1 && num != 2) {
			return nil, 0, fmt.Errorf("decode dag-pb: unexpected field %d (wire type %d)", num, typ)
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, 0, fmt.Errorf("decode dag-pb: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == 1 && haveData {
			return nil, 0, errors.New("decode dag-pb: the data twice")
		}
		if num == 1 { // links may follow it: go-codec-dagpb reads them
			delta, haveData = v, true
			continue
		}
		c, err := decodePBLink(v)
		if err != nil {
			return nil, 0, err
		}
		links = append(links, c)
	}
	prio, err := deltaPriority(delta)
	if err != nil {
		return nil, 0, err
	}
	return links, prio, nil
}

// decodePBLink returns the CID of a dag-pb link: Hash (1), Name (2) and
// Tsize (3), each at most once, in that order, Hash required.
func decodePBLink(b []byte) (cid.Cid, error) {
	var (
		c    cid.Cid
		last protowire.Number
	)
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return cid.Undef, fmt.Errorf("decode dag-pb link: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num <= last || num > 3 {
			return cid.Undef, fmt.Errorf("decode dag-pb link: field %d out of order", num)
		}
		last = num
		if num == 3 {
			if typ != protowire.VarintType {
				return cid.Undef, fmt.Errorf("decode dag-pb link: Tsize of wire type %d", typ)
			}
			_, n = protowire.ConsumeVarint(b)
		} else {
			if typ != protowire.BytesType {
				return cid.Undef, fmt.Errorf("decode dag-pb link: field %d of wire type %d", num, typ)
			}
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n >= 0 && num == 1 {
				// As go-codec-dagpb reads a link's hash: CidFromBytes,
				// bytes after the CID ignored (cid.Cast refuses them).
				var err error
				if _, c, err = cid.CidFromBytes(v); err != nil {
					return cid.Undef, fmt.Errorf("decode dag-pb link: %w", err)
				}
			}
			if n >= 0 && num == 2 && !utf8.Valid(v) {
				return cid.Undef, errors.New("decode dag-pb link: name not UTF-8")
			}
		}
		if n < 0 {
			return cid.Undef, fmt.Errorf("decode dag-pb link: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	if !c.Defined() {
		return cid.Undef, errors.New("decode dag-pb link: no hash")
	}
	return c, nil
}

// consumeTag is protowire.ConsumeTag that also refuses a field number
// above protowire.MaxValidNumber, as proto.Unmarshal does (ConsumeTag
// checks only the lower bound).
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -2 // protowire.ParseError(-2): "invalid field number"
	}
	return num, typ, n
}

// deltaPriority returns the priority (field 3) of a go-ds-crdt delta
// without decoding its elements.
func deltaPriority(b []byte) (uint64, error) {
	var prio uint64
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("decode delta: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 3 && typ == protowire.VarintType:
			prio, n = protowire.ConsumeVarint(b)
		case (num == 1 || num == 2) && typ == protowire.BytesType:
			var v []byte
			if v, n = protowire.ConsumeBytes(b); n >= 0 {
				if err := checkElement(v); err != nil {
					return 0, err
				}
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return 0, fmt.Errorf("decode delta: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	return prio, nil
}

// checkElement checks that b is a well-formed delta element (key and id
// UTF-8 strings, value bytes), as protobuf decoding the delta would.
func checkElement(b []byte) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return fmt.Errorf("decode delta element: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			var v []byte
			if v, n = protowire.ConsumeBytes(b); n >= 0 && !utf8.Valid(v) {
				return errors.New("decode delta element: key or id not UTF-8")
			}
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("decode delta element: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	return nil
}

// ---- client ----

// haves lists what to tell a peer we hold: our heads and heads we fetched
// completely but go-ds-crdt may not have merged yet. Right after a start
// there are no fetched heads, and our heads may all be blocks written
// while cut off, unknown to the peer, which would then send its whole DAG;
// so it adds ancestors of our heads at depths 1, 2, 4, ... 4096: the
// first one the peer knows bounds what it sends to about twice what we
// lack.
func (s *blockSync) haves(ctx context.Context) []cid.Cid {
	hs := s.heads()
	s.mu.Lock()
	recent := slices.Clone(s.recent)
	s.mu.Unlock()
	var sample []cid.Cid
	if len(recent) == 0 {
		sample = s.ancestorSample(ctx, hs, sampleWalk)
	}
	seen := make(map[cid.Cid]bool, len(hs)+len(recent)+len(sample))
	out := make([]cid.Cid, 0, len(hs)+len(recent)+len(sample))
	for _, list := range [][]cid.Cid{hs, recent, sample} {
		for _, c := range list {
			if !seen[c] && len(out) < maxRequestCIDs {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// ancestorSample walks down from heads, highest first, through at most
// limit local blocks, and returns the blocks popped 2nd, 4th, 8th, ...
func (s *blockSync) ancestorSample(ctx context.Context, heads []cid.Cid, limit int) []cid.Cid {
	var (
		h      walkHeap
		queued = make(map[cid.Cid]bool)
		out    []cid.Cid
	)
	push := func(c cid.Cid) {
		if queued[c] {
			return
		}
		queued[c] = true
		blk, err := s.bstore.Get(ctx, c)
		if err != nil {
			return
		}
		links, height, err := decodeDAGNode(blk.RawData())
		if err != nil {
			return
		}
		heap.Push(&h, &walkNode{c: c, height: height, links: links})
	}
	for _, c := range heads {
		push(c)
	}
	next := 2
	for popped := 1; h.Len() > 0 && popped <= limit; popped++ {
		n := heap.Pop(&h).(*walkNode)
		if popped == next {
			out = append(out, n.c)
			next *= 2
		}
		for _, l := range n.links {
			push(l)
		}
	}
	return out
}

func (s *blockSync) remember(heads []cid.Cid) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recent = append(s.recent, heads...)
	if over := len(s.recent) - recentRoots; over > 0 {
		s.recent = append(s.recent[:0], s.recent[over:]...)
	}
}

// errNoProgress means the peer sent none of the blocks still missing.
var errNoProgress = errors.New("peer sent none of the missing blocks")

// fetch brings every block reachable from heads that we lack into local
// storage, asking p. It returns nil when nothing reachable is missing.
func (s *blockSync) fetch(ctx context.Context, p peer.ID, heads []cid.Cid) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	expected := make(map[cid.Cid]bool) // CIDs we may accept: heads and links of accepted blocks
	received := make(map[cid.Cid]bool)
	var pending []cid.Cid
	for _, c := range heads {
		expected[c] = true
		has, err := s.bstore.Has(ctx, c)
		if err != nil {
			return fmt.Errorf("has %s: %w", c, err)
		}
		// A head inside the snapshot (a peer announcing the state this
		// till took) is not fetched either: the server would send it and
		// up to firstRoundLimit blocks below it, none of them needed.
		if !has && (s.covered == nil || !s.covered(ctx, c)) {
			pending = append(pending, c)
		}
	}
	haves := s.haves(ctx)
	limit := firstRoundLimit
	for len(pending) > 0 {
		want := pending[:min(len(pending), maxRequestCIDs)]
		rest := pending[len(want):]
		links, n, err := s.round(ctx, p, want, haves, limit, expected, received)
		s.rounds.Add(1)
		if err != nil {
			return err
		}
		if n == 0 {
			return errNoProgress
		}
		next := make([]cid.Cid, 0, len(rest)+len(links))
		queued := make(map[cid.Cid]bool)
		for _, list := range [][]cid.Cid{want, rest, links} {
			for _, c := range list {
				if received[c] || queued[c] {
					continue
				}
				has, err := s.bstore.Has(ctx, c)
				if err != nil {
					return fmt.Errorf("has %s: %w", c, err)
				}
				if !has && (s.covered == nil || !s.covered(ctx, c)) {
					queued[c] = true
					next = append(next, c)
				}
			}
		}
		pending = next
		limit = min(limit*2, maxServeBlocks)
	}
	s.remember(heads)
	return nil
}

// fetchAny is fetch from the first connected peer that can serve heads.
func (s *blockSync) fetchAny(ctx context.Context, heads []cid.Cid) error {
	var last error = errNoPeer
	for _, p := range s.host.Network().Peers() {
		err := s.fetch(ctx, p, heads)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.fetchErrs.Add(1)
		last = err
	}
	return last
}

// errNoPeer means no connected peer was there to ask.
var errNoPeer = errors.New("no connected peer to fetch blocks from")

// peerExchange is the DAG service's exchange (boxo's exchange.Interface):
// a block go-ds-crdt asks for and local storage lacks is fetched over
// ProtocolID, with every block below it that we lack, from the connected
// peers in turn. It replaces bitswap, which walked one DAG level per round
// trip and linked about 1 MB of code (its engine, OpenTelemetry) into
// the binary. Every release of tillmesh serves ProtocolID.
type peerExchange struct{ s *blockSync }

var _ exchange.Interface = peerExchange{}

func (e peerExchange) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if err := e.s.fetchAny(ctx, []cid.Cid{c}); err != nil {
		return nil, fmt.Errorf("fetch block %s: %w", c, err)
	}
	return e.s.bstore.Get(ctx, c)
}

func (e peerExchange) GetBlocks(ctx context.Context, cs []cid.Cid) (<-chan blocks.Block, error) {
	out := make(chan blocks.Block)
	go func() {
		defer close(out)
		if err := e.s.fetchAny(ctx, cs); err != nil {
			e.s.log.Debug("fetch blocks", "blocks", len(cs), "err", err)
		}
		for _, c := range cs {
			b, err := e.s.bstore.Get(ctx, c)
			if err != nil {
				continue // not found: the caller sees the block missing
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// NotifyNewBlocks has nothing to do: peers ask for blocks over ProtocolID.
func (peerExchange) NotifyNewBlocks(context.Context, ...blocks.Block) error { return nil }

func (peerExchange) Close() error { return nil }

// round makes one request and stores the verified blocks of the response.
// It returns the links of the blocks received and how many were received.
func (s *blockSync) round(ctx context.Context, p peer.ID, want, have []cid.Cid, limit int,
	expected, received map[cid.Cid]bool) ([]cid.Cid, int, error) {
	st, err := s.host.NewStream(network.WithAllowLimitedConn(ctx, "blocks"), p, ProtocolID)
	if err != nil {
		return nil, 0, fmt.Errorf("open stream to %s: %w", p, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}

	req := blockRequest{Limit: limit}
	for _, c := range want {
		req.Want = append(req.Want, c.Bytes())
	}
	for _, c := range have {
		req.Have = append(req.Have, c.Bytes())
	}
	body, err := encMode.Marshal(req)
	if err != nil {
		return nil, 0, fmt.Errorf("encode request: %w", err)
	}
	w := bufio.NewWriter(st)
	if err := writeFrame(w, body); err != nil {
		return nil, 0, fmt.Errorf("send request: %w", err)
	}
	if err := w.Flush(); err != nil {
		return nil, 0, fmt.Errorf("send request: %w", err)
	}
	_ = st.CloseWrite()

	var (
		r     = bufio.NewReaderSize(st, 64<<10)
		batch []blocks.Block
		links []cid.Cid
		n     int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.bstore.PutMany(ctx, batch); err != nil {
			return fmt.Errorf("store blocks: %w", err)
		}
		s.fetched.Add(uint64(len(batch)))
		batch = batch[:0]
		return nil
	}
	for {
		c, data, done, err := readBlockFrame(r)
		if err != nil {
			_ = flush() // keep what was verified
			return links, n, fmt.Errorf("read blocks from %s: %w", p, err)
		}
		if done {
			break
		}
		if !expected[c] || received[c] {
			_ = flush()
			_ = st.Reset()
			return links, n, fmt.Errorf("peer %s sent unrequested block %s", p, c)
		}
		blk, ls, err := verifyBlock(c, data)
		if err != nil {
			_ = flush()
			_ = st.Reset()
			return links, n, fmt.Errorf("peer %s: %w", p, err)
		}
		received[c] = true
		n++
		for _, l := range ls {
			expected[l] = true
		}
		links = append(links, ls...)
		batch = append(batch, blk)
		if len(batch) >= addBatch {
			if err := flush(); err != nil {
				return links, n, err
			}
		}
	}
	return links, n, flush()
}

// verifyBlock checks data against c and decodes its links.
func verifyBlock(c cid.Cid, data []byte) (blocks.Block, []cid.Cid, error) {
	sum, err := c.Prefix().Sum(data)
	if err != nil {
		return nil, nil, fmt.Errorf("hash block %s: %w", c, err)
	}
	if !sum.Equals(c) {
		return nil, nil, fmt.Errorf("block does not match its cid %s", c)
	}
	links, _, err := decodeDAGNode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("block %s: %w", c, err)
	}
	blk, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		return nil, nil, fmt.Errorf("block %s: %w", c, err)
	}
	return blk, links, nil
}

// ---- framing ----

func writeUvarint(w *bufio.Writer, v uint64) error {
	var b [binary.MaxVarintLen64]byte
	_, err := w.Write(b[:binary.PutUvarint(b[:], v)])
	return err
}

// writeFrame writes each part as uvarint length + bytes.
func writeFrame(w *bufio.Writer, parts ...[]byte) error {
	for _, p := range parts {
		if err := writeUvarint(w, uint64(len(p))); err != nil {
			return err
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// readBlockFrame reads one response frame; done is true at the end marker.
func readBlockFrame(r *bufio.Reader) (c cid.Cid, data []byte, done bool, err error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return cid.Undef, nil, false, fmt.Errorf("frame cid length: %w", err)
	}
	if n == 0 {
		return cid.Undef, nil, true, nil
	}
	if n > 128 {
		return cid.Undef, nil, false, fmt.Errorf("frame cid length %d too long", n)
	}
	cb := make([]byte, n)
	if _, err := io.ReadFull(r, cb); err != nil {
		return cid.Undef, nil, false, fmt.Errorf("frame cid: %w", err)
	}
	c, err = cid.Cast(cb)
	if err != nil {
		return cid.Undef, nil, false, fmt.Errorf("frame cid: %w", err)
	}
	n, err = binary.ReadUvarint(r)
	if err != nil {
		return cid.Undef, nil, false, fmt.Errorf("frame block length: %w", err)
	}
	if n == 0 || n > maxBlockBytes {
		return cid.Undef, nil, false, fmt.Errorf("frame block length %d not in 1..%d", n, maxBlockBytes)
	}
	data = make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return cid.Undef, nil, false, fmt.Errorf("frame block: %w", err)
	}
	return c, data, false, nil
}
