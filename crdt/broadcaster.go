package crdt

import (
	"bufio"
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

	cid "github.com/ipfs/go-cid"
	dscrdt "github.com/ipfs/go-ds-crdt"
	"github.com/ipfs/go-ds-crdt/pb"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"
)

// maxAnnouncedHeads bounds the heads accepted in one announcement.
const maxAnnouncedHeads = 256

// broadcaster is a go-ds-crdt Broadcaster over pubsub that fixes the sharp
// edges of go-ds-crdt's PubSubBroadcaster:
//
//   - it subscribes with a large buffer, so bursts do not drop head
//     announcements;
//   - it ignores its own messages (pubsub echoes them back), so go-ds-crdt
//     does not count its own heads as "seen" and skip them when it
//     rebroadcasts;
//   - whenever a peer joins the topic it sends that peer our heads
//     directly (HeadsProtocolID), so a peer that was away learns at once
//     what it missed. A pubsub publish at that moment would be lost:
//     go-libp2p-pubsub v0.16 does not flood-publish by default, and the
//     joining peer is not in our gossipsub mesh until the next heartbeat;
//   - before handing an announcement to go-ds-crdt it fetches the missing
//     blocks from the announcing peer in one exchange (see blockSync), so
//     go-ds-crdt walks from local storage instead of one round trip per
//     DAG level;
//   - after a burst of local writes it announces the final heads once
//     more: pubsub drops signed messages beyond its 32-entry validation
//     queue, and a dropped last announcement would otherwise wait for the
//     rebroadcast timer;
//   - Broadcast never fails: go-ds-crdt leaves a delta pending and
//     publishes it again with the next batch when Broadcast returns an
//     error, although the delta is already merged locally.
type broadcaster struct {
	log    *slog.Logger
	host   host.Host
	self   peer.ID
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	events *pubsub.TopicEventHandler

	// prefetch brings the blocks of heads into local storage, asking
	// the given peers in order. Set before start.
	prefetch func(ctx context.Context, from []peer.ID, heads []cid.Cid)
	// heads returns the current heads; set before start.
	heads func() []cid.Cid

	inbox chan announcement  // from pubsub and from direct pushes
	out   chan *announcement // announcements ready for go-ds-crdt

	kick  chan struct{} // capacity 1: a local write was broadcast
	burst atomic.Int64  // local broadcasts since the last trailing announce

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	received atomic.Uint64 // announcements from others
	ignored  atomic.Uint64 // own or undecodable messages
	pushed   atomic.Uint64 // direct head pushes received

	// pending counts announcements taken in but not yet fully merged:
	// go-ds-crdt (MultiHeadProcessing off) calls Next again only after it
	// has walked every head of the previous one. Heads() alone cannot say
	// that a catch-up finished: a replica without heads adopts announced
	// heads before walking them, and the walk is top-down, so the newest
	// values appear first.
	pending atomic.Int64

	// begin runs before an announcement is handed to go-ds-crdt, end
	// when go-ds-crdt asks for the next one (its walk of every head is
	// then over). end returns true to have the announcement handed over
	// once more. Set before start; called on go-ds-crdt's goroutine only.
	begin func(a *announcement)
	end   func(a *announcement, draining bool) (again bool)
	cur   *announcement // handed to go-ds-crdt, not yet ended

	drainOnce sync.Once
	drain     chan struct{} // closed: hand over nothing more
	idleOnce  sync.Once
	idle      chan struct{} // closed when go-ds-crdt asked for more after drain
}

// announcement is a set of heads announced by a peer, with the peers to ask
// for the blocks (the origin first, then the peer that relayed it).
type announcement struct {
	data  []byte
	heads []cid.Cid
	from  []peer.ID

	again      bool   // handed over once already; its first walk failed
	wasDirty   bool   // go-ds-crdt's dirty bit when handed over
	dirtyMarks uint64 // go-ds-crdt's MarkDirty calls when handed over
}

// HeadsProtocolID carries a direct head announcement to a peer that just
// joined: uvarint length + go-ds-crdt's broadcast message, then the
// stream is closed.
const HeadsProtocolID protocol.ID = "/tillmesh/heads/1"

const maxHeadsMessage = 64 << 10

var _ dscrdt.Broadcaster = (*broadcaster)(nil)

func newBroadcaster(ps *pubsub.PubSub, h host.Host, topic string, buffer int, log *slog.Logger) (*broadcaster, error) {
	t, err := ps.Join(topic)
	if err != nil {
		return nil, fmt.Errorf("join topic %s: %w", topic, err)
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(buffer))
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("subscribe topic %s: %w", topic, err)
	}
	ev, err := t.EventHandler()
	if err != nil {
		sub.Cancel()
		t.Close()
		return nil, fmt.Errorf("topic %s events: %w", topic, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &broadcaster{
		log:    log,
		host:   h,
		self:   h.ID(),
		topic:  t,
		sub:    sub,
		events: ev,
		inbox:  make(chan announcement, 1024),
		kick:   make(chan struct{}, 1),
		out:    make(chan *announcement, 4), // a backlog waits in the inbox, where it is coalesced
		drain:  make(chan struct{}),
		idle:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}, nil
}

// start launches the loops and the heads protocol handler.
func (b *broadcaster) start() {
	b.host.SetStreamHandler(HeadsProtocolID, b.handlePush)
	b.wg.Add(4)
	go func() { defer b.wg.Done(); b.subscriptionLoop() }()
	go func() { defer b.wg.Done(); b.processLoop() }()
	go func() { defer b.wg.Done(); b.eventLoop() }()
	go func() { defer b.wg.Done(); b.trailingLoop() }()
}

// close stops the loops and leaves the topic.
func (b *broadcaster) close() error {
	b.host.RemoveStreamHandler(HeadsProtocolID)
	b.cancel()
	b.sub.Cancel()
	b.events.Cancel()
	b.wg.Wait()
	if err := b.topic.Close(); err != nil {
		return fmt.Errorf("close topic: %w", err)
	}
	return nil
}

// Broadcast publishes data. It logs and swallows errors: the delta is
// already merged locally, and the rebroadcast timer announces it again.
func (b *broadcaster) Broadcast(ctx context.Context, data []byte) error {
	if err := b.topic.Publish(ctx, data); err != nil && b.ctx.Err() == nil {
		b.log.Warn("publish heads; the rebroadcast will retry", "err", err)
	}
	b.burst.Add(1)
	select {
	case b.kick <- struct{}{}:
	default:
	}
	return nil
}

const (
	burstQuiet   = 200 * time.Millisecond // a burst ends after this long without writes
	burstMaxWait = 2 * time.Second        // announce at least this often during a long burst
)

// trailingLoop announces the heads again when a burst of two or more local
// writes ends (or every burstMaxWait while it lasts).
func (b *broadcaster) trailingLoop() {
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.kick:
		}
		quiet := time.NewTimer(burstQuiet)
		limit := time.NewTimer(burstMaxWait)
	wait:
		for {
			select {
			case <-b.ctx.Done():
				quiet.Stop()
				limit.Stop()
				return
			case <-b.kick:
				quiet.Reset(burstQuiet)
			case <-quiet.C:
				break wait
			case <-limit.C:
				break wait
			}
		}
		quiet.Stop()
		limit.Stop()
		if b.burst.Swap(0) < 2 {
			continue
		}
		heads := b.heads()
		if len(heads) == 0 {
			continue
		}
		data, err := encodeHeads(heads)
		if err != nil {
			continue
		}
		if err := b.topic.Publish(b.ctx, data); err != nil && b.ctx.Err() == nil {
			b.log.Warn("announce heads after a burst", "err", err)
		}
	}
}

// Next returns the next announcement from another peer, with its missing
// blocks already fetched where the peer could serve them. go-ds-crdt
// (MultiHeadProcessing off) calls it again only when it has walked every
// head of the previous one.
func (b *broadcaster) Next(ctx context.Context) ([]byte, error) {
	if a := b.cur; a != nil {
		b.cur = nil
		b.pending.Add(-1) // go-ds-crdt is done with the previous one
		if b.end != nil && b.end(a, b.draining()) {
			a.again = true
			b.requeue(a)
		}
	}
	if b.draining() {
		b.idleOnce.Do(func() { close(b.idle) })
		return nil, dscrdt.ErrNoMoreBroadcast
	}
	select {
	case a := <-b.out:
		if b.begin != nil {
			b.begin(a)
		}
		b.cur = a
		return a.data, nil
	case <-b.drain:
		b.idleOnce.Do(func() { close(b.idle) })
		return nil, dscrdt.ErrNoMoreBroadcast
	case <-ctx.Done():
		return nil, dscrdt.ErrNoMoreBroadcast
	case <-b.ctx.Done():
		return nil, dscrdt.ErrNoMoreBroadcast
	}
}

func (b *broadcaster) draining() bool {
	select {
	case <-b.drain:
		return true
	default:
		return false
	}
}

// requeue hands a back to the fetch loop, counted as pending again.
func (b *broadcaster) requeue(a *announcement) {
	b.pending.Add(1)
	select {
	case b.inbox <- *a:
	default:
		b.pending.Add(-1) // inbox full: the peer's rebroadcast follows
		b.log.Warn("inbox full; announcement not retried", "heads", len(a.heads))
	}
}

// stopHanding makes Next hand over nothing more and waits up to wait for
// go-ds-crdt to finish the walk in progress, so that a clean Close does
// not cut a walk short. It reports whether go-ds-crdt went idle.
func (b *broadcaster) stopHanding(wait time.Duration) bool {
	b.drainOnce.Do(func() { close(b.drain) })
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-b.idle:
		return true
	case <-t.C:
		return false
	}
}

// subscriptionLoop moves pubsub announcements from other peers to the
// inbox. When the inbox is full it blocks, and pubsub then drops messages
// beyond the subscription buffer: the rebroadcast repairs that.
func (b *broadcaster) subscriptionLoop() {
	for {
		msg, err := b.sub.Next(b.ctx)
		if err != nil {
			return // cancelled
		}
		if msg.GetFrom() == b.self {
			b.ignored.Add(1)
			continue
		}
		heads, err := decodeHeads(msg.GetData())
		if err != nil {
			b.ignored.Add(1)
			b.log.Warn("ignore head announcement", "peer", msg.GetFrom(), "err", err)
			continue
		}
		b.received.Add(1)
		a := announcement{data: msg.GetData(), heads: heads, from: []peer.ID{msg.GetFrom()}}
		if msg.ReceivedFrom != msg.GetFrom() {
			a.from = append(a.from, msg.ReceivedFrom)
		}
		b.pending.Add(1)
		select {
		case b.inbox <- a:
		case <-b.ctx.Done():
			return
		}
	}
}

// processLoop fetches the blocks of each announcement, then hands it to
// go-ds-crdt, in arrival order. What queued up meanwhile is coalesced
// first (see coalesce): after a partition heals, thousands of one-head
// announcements arrive at once, and walking them one by one (a fetch
// round trip each) took seconds and filled the inbox, so the direct push
// that would have ended the catch-up was dropped.
func (b *broadcaster) processLoop() {
	for {
		var a announcement
		select {
		case a = <-b.inbox:
		case <-b.ctx.Done():
			return
		}
		queued := []announcement{a}
	drain:
		for len(queued) < cap(b.inbox) {
			select {
			case x := <-b.inbox:
				queued = append(queued, x)
			default:
				break drain
			}
		}
		merged := coalesce(queued)
		b.pending.Add(int64(len(merged) - len(queued)))
		for _, m := range merged {
			b.prefetch(b.ctx, m.from, m.heads)
			select {
			case b.out <- m:
			case <-b.ctx.Done():
				return
			}
		}
	}
}

// coalesce merges queued announcements by origin peer, in order of first
// arrival. A peer's later heads descend from (or equal) its earlier ones,
// so the union, newest first, walks the same DAG: go-ds-crdt walks the
// first head and skips the rest as known. A union is capped at
// maxAnnouncedHeads (the oldest go; a dropped head that was not an
// ancestor of the others waits for the rebroadcast). Retried
// announcements stay as they are.
func coalesce(queued []announcement) []*announcement {
	var out []*announcement
	byOrigin := make(map[peer.ID]*announcement)
	for i := range queued {
		x := &queued[i]
		if x.again || len(x.from) == 0 {
			out = append(out, x)
			continue
		}
		m, ok := byOrigin[x.from[0]]
		if !ok {
			byOrigin[x.from[0]] = x
			out = append(out, x)
			continue
		}
		heads := append(slices.Clone(x.heads), m.heads...)
		u := uniqueCIDs(heads)
		m.heads = u[:min(len(u), maxAnnouncedHeads)]
		m.from = x.from // the newest path
		m.data = nil
	}
	for _, m := range out {
		if m.data != nil {
			continue
		}
		m.heads = m.heads[:min(len(m.heads), maxAnnouncedHeads)]
		data, err := encodeHeads(m.heads)
		if err != nil {
			continue // cannot happen for valid CIDs; leave data nil
		}
		m.data = data
	}
	return slices.DeleteFunc(out, func(m *announcement) bool { return m.data == nil })
}

// uniqueCIDs drops repeats, keeping first occurrences in order.
func uniqueCIDs(cs []cid.Cid) []cid.Cid {
	seen := make(map[cid.Cid]bool, len(cs))
	return slices.DeleteFunc(cs, func(c cid.Cid) bool {
		if seen[c] {
			return true
		}
		seen[c] = true
		return false
	})
}

func (b *broadcaster) eventLoop() {
	for {
		ev, err := b.events.NextPeerEvent(b.ctx)
		if err != nil {
			return
		}
		if ev.Type != pubsub.PeerJoin {
			continue
		}
		b.log.Debug("peer joined inventory topic", "peer", ev.Peer)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			if err := b.push(ev.Peer); err != nil && b.ctx.Err() == nil {
				b.log.Debug("push heads", "peer", ev.Peer, "err", err)
			}
		}()
	}
}

// push sends our heads to p over HeadsProtocolID.
func (b *broadcaster) push(p peer.ID) error {
	heads := b.heads()
	if len(heads) == 0 {
		return nil
	}
	data, err := encodeHeads(heads)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	st, err := b.host.NewStream(ctx, p, HeadsProtocolID)
	if err != nil {
		return fmt.Errorf("open heads stream: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	w := bufio.NewWriter(st)
	if err := writeFrame(w, data); err != nil {
		_ = st.Reset()
		return err
	}
	if err := w.Flush(); err != nil {
		_ = st.Reset()
		return err
	}
	return st.Close()
}

// handlePush takes a peer's direct head announcement into the inbox, or
// drops it if the inbox stays full for seconds (the peer's rebroadcast
// will follow).
func (b *broadcaster) handlePush(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	from := st.Conn().RemotePeer()
	r := bufio.NewReader(st)
	n, err := binary.ReadUvarint(r)
	if err != nil || n == 0 || n > maxHeadsMessage {
		_ = st.Reset()
		return
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		_ = st.Reset()
		return
	}
	heads, err := decodeHeads(data)
	if err != nil {
		b.ignored.Add(1)
		b.log.Warn("ignore pushed heads", "peer", from, "err", err)
		return
	}
	b.pushed.Add(1)
	b.pending.Add(1)
	wait := time.NewTimer(5 * time.Second) // the inbox drains fast: processLoop coalesces it
	defer wait.Stop()
	select {
	case b.inbox <- announcement{data: data, heads: heads, from: []peer.ID{from}}:
	case <-wait.C:
		b.pending.Add(-1)
		b.log.Warn("inbox full; dropped pushed heads (the peer's rebroadcast follows)", "peer", from)
	case <-b.ctx.Done():
		b.pending.Add(-1)
	}
}

// encodeHeads and decodeHeads use go-ds-crdt's own broadcast format, so
// announcements made here and by go-ds-crdt's rebroadcast look the same.
func encodeHeads(heads []cid.Cid) ([]byte, error) {
	m := &pb.CRDTBroadcast{Heads: make([]*pb.Head, 0, len(heads))}
	for _, h := range heads {
		m.Heads = append(m.Heads, &pb.Head{Cid: h.Bytes()})
	}
	return proto.Marshal(m)
}

func decodeHeads(data []byte) ([]cid.Cid, error) {
	var m pb.CRDTBroadcast
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode announcement: %w", err)
	}
	if len(m.ProtoReflect().GetUnknown()) > 0 {
		return nil, errors.New("decode announcement: unknown fields (legacy format not accepted)")
	}
	if n := len(m.GetHeads()); n == 0 || n > maxAnnouncedHeads {
		return nil, fmt.Errorf("decode announcement: %d heads, want 1..%d", n, maxAnnouncedHeads)
	}
	heads := make([]cid.Cid, 0, len(m.GetHeads()))
	for _, h := range m.GetHeads() {
		c, err := cid.Cast(h.GetCid())
		if err != nil {
			return nil, fmt.Errorf("decode announcement: head: %w", err)
		}
		heads = append(heads, c)
	}
	return heads, nil
}
