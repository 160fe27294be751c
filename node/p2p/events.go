package p2p

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/ledger"
)

// EventKind says what happened to a peer.
type EventKind uint8

// Kinds of Event.
const (
	// PeerAdmitted: the peer and this host have each verified the other's
	// certificate, so either may now send the other messages and
	// requests (e.g. announce heads, exchange version vectors).
	PeerAdmitted EventKind = iota + 1
	// PeerLeft: the last connection to an admitted peer closed.
	PeerLeft
)

func (k EventKind) String() string {
	switch k {
	case PeerAdmitted:
		return "peer admitted"
	case PeerLeft:
		return "peer left"
	}
	return "unknown event"
}

// Event reports a peer joining or leaving the mesh.
type Event struct {
	Kind EventKind
	Peer peer.ID
	Till ledger.TillID
	Cert ledger.Certificate
}

// subscriber is one Subscribe channel. Its queue is unbounded so that
// the host never blocks on, and never drops an event for, a slow reader.
type subscriber struct {
	queue  []Event // guarded by Host.mu
	signal chan struct{}
	out    chan Event
	done   chan struct{}
}

// Subscribe returns a channel of PeerAdmitted and PeerLeft events, in
// order, starting with a PeerAdmitted for every peer admitted at the time
// of the call. Events are queued without bound and never dropped, so the
// host never waits for a reader. The channel is closed by Unsubscribe or
// by Close.
func (h *Host) Subscribe() <-chan Event {
	s := &subscriber{
		signal: make(chan struct{}, 1),
		out:    make(chan Event),
		done:   make(chan struct{}),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.out)
		return s.out
	}
	for _, st := range h.peers {
		if st.admitted {
			s.queue = append(s.queue, Event{Kind: PeerAdmitted, Peer: st.id, Till: st.till, Cert: *st.cert})
		}
	}
	h.subs[s] = struct{}{}
	s.wakeUp()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.deliver(s)
	}()
	return s.out
}

// Unsubscribe stops the events of a channel returned by Subscribe and
// closes it. Events not yet received are dropped.
func (h *Host) Unsubscribe(events <-chan Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if (<-chan Event)(s.out) == events {
			delete(h.subs, s)
			close(s.done)
			return
		}
	}
}

// emit queues ev for every subscriber. Call with mu held.
func (h *Host) emit(ev Event) {
	for s := range h.subs {
		s.queue = append(s.queue, ev)
		s.wakeUp()
	}
}

func (s *subscriber) wakeUp() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// deliver moves queued events to the subscriber's channel until it is
// cancelled or the host closes.
func (h *Host) deliver(s *subscriber) {
	defer close(s.out)
	for {
		h.mu.Lock()
		q := s.queue
		s.queue = nil
		h.mu.Unlock()
		for _, ev := range q {
			select {
			case s.out <- ev:
			case <-s.done:
				return
			case <-h.ctx.Done():
				return
			}
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-s.signal:
		case <-s.done:
			return
		case <-h.ctx.Done():
			return
		}
	}
}
