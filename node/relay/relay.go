package relay

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// beat is a till's heartbeat on the relay topic.
type beat struct {
	Till      ledger.TillID `cbor:"1,keyasint"`
	Reachable bool          `cbor:"2,keyasint,omitempty"` // this till reaches HQ
	Leader    bool          `cbor:"3,keyasint,omitempty"` // this till claims the relay lease
	Token     uint64        `cbor:"4,keyasint,omitempty"` // its token while Leader
	MaxToken  uint64        `cbor:"5,keyasint,omitempty"` // highest token it knows
	Candidate bool          `cbor:"6,keyasint,omitempty"` // it may claim the lease (reaches HQ, not held off)
}

const maxBeat = 256

var beatDec = func() cbor.DecMode {
	m, err := cbor.DecOptions{MaxNestedLevels: 4, MaxMapPairs: 16, IndefLength: cbor.IndefLengthForbidden,
		DupMapKey: cbor.DupMapKeyEnforcedAPF}.DecMode() // unknown fields: a newer till's, ignored
	if err != nil {
		panic(err) // constant options
	}
	return m
}()

func decodeBeat(b []byte) (beat, error) {
	var m beat
	if len(b) > maxBeat {
		return m, fmt.Errorf("relay: heartbeat of %d bytes", len(b))
	}
	err := beatDec.Unmarshal(b, &m)
	return m, err
}

type peerInfo struct {
	number uint32
	beat   beat
	seen   time.Time
}

// Status is what the till UI shows about HQ.
type Status struct {
	HQ          string        `json:"hq"`
	Reachable   bool          `json:"reachable"`    // HQ answered the last request
	Relay       ledger.TillID `json:"relay"`        // the till holding the relay lease; zero if none
	RelayNumber uint32        `json:"relay_number"` // its number; 0 if none
	IsRelay     bool          `json:"is_relay"`
	Token       uint64        `json:"token"`        // this till's fencing token while relay
	Unsent      uint64        `json:"unsent"`       // events this till holds that HQ lacked at the last contact
	LastContact time.Time     `json:"last_contact"` // zero if never
	LastUpload  time.Time     `json:"last_upload"`
	Uploaded    uint64        `json:"uploaded"` // events HQ accepted from this till as relay
	Rejected    uint64        `json:"rejected"` // events HQ refused (they stay in the outbox)
	LastError   string        `json:"last_error,omitempty"`
}

// Relay elects the store's relay among the tills that reach HQ and, while
// this till holds the lease, uploads the ledger above HQ's vector and
// brings HQ's catalog changes down into the CRDT. New joins the topic;
// Run runs until its context ends.
type Relay struct {
	cfg    Config
	log    *slog.Logger
	self   ledger.TillID
	number uint32
	client *hqapi.Client
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	wake   chan struct{} // the uploader has work or became relay
	probe  chan struct{} // the prober should ask HQ now

	mu     sync.Mutex
	peers  map[ledger.TillID]*peerInfo
	leader bool
	since  time.Time // when this till became relay
	token  uint64
	// catalogSent is the hash of the catalog last reported to HQ.
	catalogSent [sha256.Size]byte
	maxToken    uint64
	holdUntil   time.Time
	started     time.Time
	reachable   bool
	hqVector    ledger.Vector
	hqFence     hqapi.Fence
	fenceAge    time.Duration // age of the fence holder's contact, as HQ saw it
	probedAt    time.Time
	asked       time.Time // when the request behind hqVector was sent
	contact     time.Time
	uploadAt    time.Time
	uploaded    uint64
	rejected    map[rejKey]time.Time // events HQ refused -> when; retried after MaxBackoff
	lastErr     string

	cust customerSync // customers.go; the round's goroutine only
}

// New checks cfg, makes the HQ client and joins the store's relay topic.
func New(cfg Config) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client, err := hqapi.NewClient(cfg.HQ, cfg.Store, cfg.Key, cfg.Cert, cfg.HTTPClient, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	r := &Relay{cfg: cfg, log: cfg.Logger.With("component", "relay"), self: cfg.Cert.Till, number: cfg.Cert.Number,
		client: client, wake: make(chan struct{}, 1), probe: make(chan struct{}, 1),
		peers: map[ledger.TillID]*peerInfo{}, rejected: map[rejKey]time.Time{}}
	name := Topic(cfg.Store)
	if err := cfg.PubSub.RegisterTopicValidator(name, r.validate); err != nil {
		return nil, fmt.Errorf("relay: validator: %w", err)
	}
	if r.topic, err = cfg.PubSub.Join(name); err != nil {
		cfg.PubSub.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("relay: join %s: %w", name, err)
	}
	if r.sub, err = r.topic.Subscribe(pubsub.WithBufferSize(256)); err != nil {
		r.topic.Close()
		cfg.PubSub.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("relay: subscribe: %w", err)
	}
	return r, nil
}

// validate accepts heartbeats authored by an admitted till about itself.
func (r *Relay) validate(_ context.Context, _ peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	b, err := decodeBeat(m.Data)
	if err != nil {
		return pubsub.ValidationReject
	}
	author := m.GetFrom()
	if m.Local || author == r.cfg.Host.ID() {
		if b.Till != r.self {
			return pubsub.ValidationReject
		}
		m.ValidatorData = &peerInfo{number: r.number, beat: b}
		return pubsub.ValidationAccept
	}
	cert, ok := r.cfg.Admitted(author)
	if !ok {
		return pubsub.ValidationIgnore
	}
	if cert.Till != b.Till || cert.Store != r.cfg.Store {
		return pubsub.ValidationReject
	}
	m.ValidatorData = &peerInfo{number: cert.Number, beat: b}
	return pubsub.ValidationAccept
}

// Run runs the election, the uploader and the prober until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	r.started = r.cfg.Now()
	r.mu.Unlock()
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		r.sub.Cancel()
		r.topic.Close()
		r.cfg.PubSub.UnregisterTopicValidator(Topic(r.cfg.Store))
	}()
	for _, f := range []func(context.Context){r.receive, r.uploader, r.prober} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	tick := time.NewTicker(r.cfg.Heartbeat)
	defer tick.Stop()
	r.kick(r.probe)
	for {
		r.elect(ctx)
		select {
		case <-ctx.Done():
			r.mu.Lock()
			wasLeader := r.leader
			r.leader = false
			r.mu.Unlock()
			if wasLeader {
				// Tell the others at once, so they need not wait for the
				// lease to run out.
				pctx, c := context.WithTimeout(context.Background(), r.cfg.Heartbeat)
				r.publish(pctx)
				c()
			}
			return nil
		case <-tick.C:
		}
	}
}

func (r *Relay) kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (r *Relay) receive(ctx context.Context) {
	for {
		m, err := r.sub.Next(ctx)
		if err != nil {
			return
		}
		pi, ok := m.ValidatorData.(*peerInfo)
		if !ok || pi.beat.Till == r.self {
			continue
		}
		r.mu.Lock()
		pi.seen = r.cfg.Now()
		r.peers[pi.beat.Till] = pi
		r.maxToken = max(r.maxToken, pi.beat.MaxToken, pi.beat.Token)
		r.mu.Unlock()
	}
}

// claim is one till's claim of the relay lease.
type claim struct {
	till   ledger.TillID
	number uint32
	token  uint64
}

// wins reports whether c beats o: the higher token, then the lower
// number, then the lower key.
func (c claim) wins(o claim) bool {
	if c.token != o.token {
		return c.token > o.token
	}
	if c.number != o.number {
		return c.number < o.number
	}
	return string(c.till[:]) < string(o.till[:])
}

// elect runs one round of the election and announces this till. The
// rules: a relay keeps its lease while it heartbeats and reaches HQ; when
// no lease is held, the lowest-numbered till that reaches HQ claims it with
// a token above every token seen (in heartbeats and at HQ), unless HQ has
// heard from the holder of its highest token within a lease (the holder
// is alive but cut off from us). Two claims resolve by token, then number.
func (r *Relay) elect(ctx context.Context) {
	now := r.cfg.Now()
	r.mu.Lock()
	var best *claim
	consider := func(c claim) {
		if best == nil || c.wins(*best) {
			best = &c
		}
	}
	candidate := r.number
	haveCandidate := false
	for t, p := range r.peers {
		if now.Sub(p.seen) > r.cfg.Lease {
			delete(r.peers, t)
			continue
		}
		if p.beat.Leader {
			consider(claim{t, p.number, p.beat.Token})
		}
		if p.beat.Candidate && (!haveCandidate || p.number < candidate) {
			candidate, haveCandidate = p.number, true
		}
	}
	r.maxToken = max(r.maxToken, r.hqFence.Token, r.token)
	if r.leader {
		consider(claim{r.self, r.number, r.token})
	}
	selfOK := r.candidate(now) && now.Sub(r.started) >= r.cfg.Lease
	switch {
	case r.leader && !r.reachable:
		r.stepDown("HQ is unreachable", 0)
	case r.leader && best.till != r.self:
		r.stepDown(fmt.Sprintf("till %d holds the lease with token %d", best.number, best.token), 0)
	case !r.leader && best == nil && selfOK && (!haveCandidate || r.number <= candidate):
		holder := r.hqFence.Holder
		fresh := r.fenceAge+now.Sub(r.probedAt) < r.cfg.Lease
		switch {
		case holder != (ledger.TillID{}) && holder != r.self && fresh:
			// HQ hears from the relay: it is alive but not on our LAN.
		case now.Sub(r.probedAt) > r.cfg.Heartbeat:
			r.kick(r.probe) // decide on a fresh view of HQ
		default:
			r.leader = true
			r.since = now
			r.token = r.maxToken + 1
			r.maxToken = r.token
			r.log.Info("this till is now the store's relay", "till", r.number, "token", r.token)
			r.kick(r.wake)
		}
	}
	r.mu.Unlock()
	r.publish(ctx)
}

// stepDown gives up the lease; hold keeps this till from claiming again
// for that long. Called with r.mu held.
func (r *Relay) stepDown(why string, hold time.Duration) {
	if !r.leader {
		return
	}
	r.leader = false
	r.holdUntil = r.cfg.Now().Add(hold)
	r.log.Info("this till is no longer the store's relay", "till", r.number, "token", r.token, "why", why)
}

// candidate reports whether this till stands for the lease: it reaches
// HQ and is not held off. It claims only once it has also listened for a
// lease since it started. Called with r.mu held.
func (r *Relay) candidate(now time.Time) bool {
	return r.reachable && !now.Before(r.holdUntil)
}

func (r *Relay) publish(ctx context.Context) {
	r.mu.Lock()
	b := beat{Till: r.self, Reachable: r.reachable, Leader: r.leader, MaxToken: r.maxToken, Candidate: r.candidate(r.cfg.Now())}
	if r.leader {
		b.Token = r.token
	}
	r.mu.Unlock()
	data, err := cbor.Marshal(b)
	if err != nil {
		return
	}
	if err := r.topic.Publish(ctx, data); err != nil && ctx.Err() == nil {
		r.log.Debug("publish heartbeat", "err", err)
	}
}

func (r *Relay) leaderSince() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.since
}

// IsRelay reports whether this till holds the relay lease.
func (r *Relay) IsRelay() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leader
}

// Status reports HQ's reachability, the relay and the unsent count.
func (r *Relay) Status() Status {
	mine := r.cfg.Ledger.Vector()
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{HQ: r.cfg.HQ, Reachable: r.reachable, IsRelay: r.leader, LastContact: r.contact,
		LastUpload: r.uploadAt, Uploaded: r.uploaded, Rejected: uint64(len(r.rejected)), LastError: r.lastErr}
	for _, rg := range mine.Diff(r.hqVector) {
		st.Unsent += rg.Len()
	}
	if r.leader {
		st.Relay, st.RelayNumber, st.Token = r.self, r.number, r.token
		return st
	}
	var best *claim
	for t, p := range r.peers {
		if p.beat.Leader && now.Sub(p.seen) <= r.cfg.Lease {
			c := claim{t, p.number, p.beat.Token}
			if best == nil || c.wins(*best) {
				best = &c
			}
		}
	}
	if best != nil {
		st.Relay, st.RelayNumber = best.till, best.number
	}
	return st
}

// Kick tells the relay that the ledger grew, so it uploads without
// waiting for the next poll. Safe to call from any goroutine, and cheap.
func (r *Relay) Kick() { r.kick(r.wake) }

// learn records an answer from HQ to a request sent at asked; an answer
// to an older request than the one already learned is ignored. Called
// with r.mu held.
func (r *Relay) learn(v hqapi.VectorResponse, asked, now time.Time) {
	if asked.Before(r.asked) {
		return
	}
	r.asked = asked
	r.reachable, r.contact, r.probedAt, r.lastErr = true, now, now, ""
	r.hqVector, r.hqFence = v.Vector, v.Fence
	r.fenceAge = time.Duration(v.Time-v.Fence.At) * time.Millisecond
	if v.Fence.At == 0 {
		r.fenceAge = time.Hour
	}
	r.maxToken = max(r.maxToken, v.Fence.Token)
}

// failed records a failed request to HQ. Called with r.mu held.
func (r *Relay) failed(err error, now time.Time) {
	r.lastErr = err.Error()
	r.probedAt = now
	r.reachable = false // no answer, HQ down, or HQ refuses this till
}

// prober asks HQ for its vector every Probe while this till is not the
// relay (the relay's uploads keep its own view fresh).
func (r *Relay) prober(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.probe:
		}
		if !r.IsRelay() {
			pctx, cancel := context.WithTimeout(ctx, max(r.cfg.Probe, time.Second))
			asked := r.cfg.Now()
			v, err := r.client.Vector(pctx, 0, nil)
			cancel()
			now := r.cfg.Now()
			r.mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					r.failed(err, now)
				}
			} else {
				r.learn(v, asked, now)
			}
			r.mu.Unlock()
		}
		t.Reset(r.cfg.Probe)
	}
}

// uploader syncs with HQ while this till is the relay: one round per
// Poll, or at once when kicked, or after a backoff when HQ failed.
func (r *Relay) uploader(ctx context.Context) {
	t := time.NewTimer(r.cfg.Poll)
	defer t.Stop()
	fails := 0
	var lastDown time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
		if !r.IsRelay() {
			fails = 0
			t.Reset(r.cfg.Poll)
			continue
		}
		// The downlink waits until a claim made at the same time as
		// another's has been settled (two heartbeats), so two relays do
		// not write the same changes.
		now := r.cfg.Now()
		down := r.cfg.Inventory != nil && now.Sub(lastDown) >= r.cfg.Downlink && now.Sub(r.leaderSince()) >= 2*r.cfg.Heartbeat
		err := r.round(ctx, down)
		if err == nil && down {
			lastDown = r.cfg.Now()
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			fails = 0
			t.Reset(r.cfg.Poll)
			continue
		}
		fails++
		d := r.backoff(fails)
		r.log.Warn("sync with HQ failed; retrying", "err", err, "retry_in", d.Round(time.Millisecond), "failures", fails)
		t.Reset(d)
	}
}

// backoff is the delay after n consecutive failures: MinBackoff doubled
// n-1 times, capped at MaxBackoff, with "equal jitter" (half fixed, half
// random) so relays of many stores do not retry in step.
func (r *Relay) backoff(n int) time.Duration {
	d := r.cfg.MaxBackoff
	if n < 32 {
		if e := r.cfg.MinBackoff << (n - 1); e > 0 && e < d {
			d = e
		}
	}
	return d/2 + rand.N(d/2+1)
}

// round is one sync with HQ: its vector, every missing event in batches,
// then the downlink if due.
func (r *Relay) round(ctx context.Context, downlink bool) error {
	r.mu.Lock()
	token := r.token
	r.mu.Unlock()
	mine := r.cfg.Ledger.Vector()
	asked := r.cfg.Now()
	v, err := r.client.Vector(ctx, token, mine)
	now := r.cfg.Now()
	r.mu.Lock()
	if err != nil {
		r.failed(err, now)
		r.mu.Unlock()
		return fmt.Errorf("hq vector: %w", err)
	}
	r.learn(v, asked, now)
	if v.Fence.Token > token {
		r.stepDown(fmt.Sprintf("HQ has seen token %d", v.Fence.Token), r.cfg.HoldOff)
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	if err := r.upload(ctx, token, mine, v.Vector); err != nil {
		return err
	}
	if downlink {
		if err := r.downlink(ctx); err != nil {
			return err
		}
		if err := r.syncCustomers(ctx); err != nil { // customers.go
			return err
		}
		return r.chainDownlink(ctx) // chain.go
	}
	return nil
}

// upload sends every event of mine above have, Batch at a time.
func (r *Relay) upload(ctx context.Context, token uint64, mine, have ledger.Vector) error {
	missing := mine.Diff(have)
	if len(missing) == 0 {
		return nil
	}
	certs, err := r.cfg.Ledger.Certificates()
	if err != nil {
		return fmt.Errorf("read certificates: %w", err)
	}
	batch := make([][]byte, 0, r.cfg.Batch)
	tills := map[ledger.TillID]bool{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		u := &hqapi.Upload{Fence: token, Vector: mine, Events: batch}
		if r.cfg.Versions != nil {
			u.Versions = r.cfg.Versions()
		}
		for t := range tills {
			if c := certs[t]; c != nil {
				if b, err := c.Encode(); err == nil {
					u.Certs = append(u.Certs, b)
				}
			}
		}
		err := r.send(ctx, u)
		batch = batch[:0]
		clear(tills)
		return err
	}
	for _, rg := range missing {
		r.mu.Lock()
		at, refused := r.rejected[rejKey{rg.Till, rg.From}]
		r.mu.Unlock()
		if refused && r.cfg.Now().Sub(at) < r.cfg.MaxBackoff {
			continue // HQ refused this event (logged); try again later
		}
		from := rg.From
		for from <= rg.To {
			if !r.IsRelay() {
				return nil
			}
			n := 0
			err := r.cfg.Ledger.RangeRaw(rg.Till, from, func(seq uint64, raw []byte) bool {
				if seq > rg.To {
					return false
				}
				batch = append(batch, raw)
				tills[rg.Till] = true
				n++
				return len(batch) < r.cfg.Batch
			})
			if err != nil {
				return fmt.Errorf("read ledger: %w", err)
			}
			if n == 0 {
				break // the chain ends below rg.To (it shrank?): next round
			}
			from += uint64(n)
			if len(batch) >= r.cfg.Batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// send posts one batch and records the answer.
func (r *Relay) send(ctx context.Context, u *hqapi.Upload) error {
	asked := r.cfg.Now()
	res, err := r.client.Upload(ctx, u)
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if errors.Is(err, hqapi.ErrStaleFence) {
		var se *hqapi.StatusError
		if errors.As(err, &se) && se.Body.Fence != nil {
			r.maxToken = max(r.maxToken, se.Body.Fence.Token)
			r.hqFence = *se.Body.Fence
		}
		r.reachable, r.contact = true, now
		r.stepDown("HQ fenced this relay off: a newer relay uploaded", r.cfg.HoldOff)
		return nil
	}
	if err != nil {
		r.failed(err, now)
		return fmt.Errorf("upload %d events: %w", len(u.Events), err)
	}
	r.reachable, r.contact, r.uploadAt, r.lastErr = true, now, now, ""
	if !asked.Before(r.asked) {
		r.asked, r.hqVector, r.hqFence = asked, res.Vector, res.Fence
	}
	r.uploaded += uint64(res.Accepted)
	for k := range r.rejected {
		if res.Vector[k.till] >= k.seq {
			delete(r.rejected, k) // HQ took it after all
		}
	}
	for _, rj := range res.Rejected {
		if rj.Code == hqapi.CodeSeqGap || rj.Code == hqapi.CodeAfterRejected {
			continue // sent again in order next round
		}
		k := rejKey{rj.Till, rj.Seq}
		_, seen := r.rejected[k]
		r.rejected[k] = now
		if !seen {
			r.log.Error("HQ refused an event: it stays in the ledger until someone looks", "till", rj.Till.Short(),
				"seq", rj.Seq, "code", rj.Code, "reason", rj.Reason)
		}
	}
	for _, ce := range res.CertErrors {
		r.log.Error("HQ refused a till certificate", "till", ce.Till.Short(), "reason", ce.Reason)
	}
	return nil
}

type rejKey struct {
	till ledger.TillID
	seq  uint64
}

// downlink applies HQ's catalog changes after the cursor kept in the
// CRDT, page by page, moving the cursor after each page.
func (r *Relay) downlink(ctx context.Context) error {
	inv := r.cfg.Inventory
	var after uint64
	b, err := inv.Setting(ctx, CursorSetting)
	switch {
	case errors.Is(err, crdt.ErrNotFound):
	case err != nil:
		return fmt.Errorf("read downlink cursor: %w", err)
	default:
		if after, err = strconv.ParseUint(string(b), 10, 64); err != nil {
			r.log.Warn("downlink cursor unreadable; starting over", "value", string(b))
			after = 0
		}
	}
	for {
		cs, err := r.client.Changes(ctx, after, 500)
		if err != nil {
			r.mu.Lock()
			r.failed(err, r.cfg.Now())
			r.mu.Unlock()
			return fmt.Errorf("hq changes: %w", err)
		}
		for _, c := range cs.Changes {
			if !KnownChange(c.Kind) {
				r.keepNewerChange(ctx, c)
				continue
			}
			if err := r.apply(ctx, inv, c); err != nil {
				r.log.Error("HQ change not applied", "cursor", c.Cursor, "kind", c.Kind, "err", err)
			}
		}
		if cs.Next != after {
			if err := inv.PutSetting(ctx, CursorSetting, []byte(strconv.FormatUint(cs.Next, 10))); err != nil {
				return fmt.Errorf("save downlink cursor: %w", err)
			}
			if len(cs.Changes) > 0 {
				r.log.Info("applied HQ catalog changes", "changes", len(cs.Changes), "cursor", cs.Next)
			}
			after = cs.Next
		}
		if !cs.More {
			if err := r.releaseHeldCosts(ctx, inv); err != nil {
				r.log.Warn("HQ cost prices held back", "err", err)
			}
			return r.reportCatalog(ctx, after)
		}
	}
}

// reportCatalog sends HQ the store's catalog, with the downlink cursor
// whose changes it includes, when it differs from what was sent last.
func (r *Relay) reportCatalog(ctx context.Context, cursor uint64) error {
	ps, err := r.cfg.Inventory.Products(ctx)
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	cat := hqapi.StoreCatalog{Products: make([]hqapi.Product, len(ps)), Cursor: cursor, At: r.cfg.Now().UnixMilli()}
	for i, p := range ps {
		cat.Products[i] = hqapi.Product{SKU: p.SKU, Name: p.Name, Barcodes: p.Barcodes, Price: p.Price,
			Currency: p.Currency, TaxRate: p.TaxRate, Unit: p.Unit, Cost: p.Cost}
	}
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(cat.Products); err != nil {
		return fmt.Errorf("hash catalog: %w", err)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	r.mu.Lock()
	same := r.catalogSent == sum
	r.mu.Unlock()
	if same {
		return nil
	}
	if err := r.client.PutCatalog(ctx, &cat); err != nil {
		return fmt.Errorf("report catalog to hq: %w", err)
	}
	r.mu.Lock()
	r.catalogSent = sum
	r.mu.Unlock()
	r.log.Debug("reported the catalog to HQ", "products", len(cat.Products), "cursor", cursor)
	return nil
}

// releaseHeldCosts writes the cost prices apply held back, once the
// store's tills all take them.
func (r *Relay) releaseHeldCosts(ctx context.Context, inv Inventory) error {
	all, err := inv.Settings(ctx)
	if err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	held := map[string]ledger.Money{}
	for name, v := range all {
		sku, ok := strings.CutPrefix(name, HeldCostSetting)
		if !ok {
			continue
		}
		cost, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || cost < 0 {
			r.log.Warn("held cost price unreadable; dropped", "sku", sku, "value", string(v))
			inv.DeleteSetting(ctx, name)
			continue
		}
		held[sku] = ledger.Money(cost)
	}
	if len(held) == 0 || r.cfg.CostGate == nil {
		return nil
	}
	if err := r.cfg.CostGate(ctx); err != nil {
		return fmt.Errorf("%d waiting: %w", len(held), err)
	}
	for sku, cost := range held {
		p, err := inv.Product(ctx, sku)
		switch {
		case errors.Is(err, crdt.ErrNotFound):
		case err != nil:
			return fmt.Errorf("read product %s: %w", sku, err)
		default:
			p.Cost = cost
			if err := inv.PutProduct(ctx, p); err != nil {
				return fmt.Errorf("write cost of %s: %w", sku, err)
			}
		}
		if err := inv.DeleteSetting(ctx, HeldCostSetting+sku); err != nil {
			return fmt.Errorf("drop held cost of %s: %w", sku, err)
		}
	}
	r.log.Info("HQ cost prices written now that every till takes them", "products", len(held))
	return nil
}

// KnownChange reports whether this version applies HQ changes of kind k.
func KnownChange(k string) bool {
	switch k {
	case hqapi.KindProduct, hqapi.KindStaff, hqapi.KindRevocation:
		return true
	}
	return false
}

// NewerChangeSetting names the setting that keeps an HQ change of a kind
// this version does not apply, by its cursor: a newer HQ made it. It stays
// in the store's inventory (replicated to every till) so an upgraded relay
// can apply it, and the downlink moves on, never stalling on it.
func NewerChangeSetting(cursor uint64) string {
	return "hq.change." + strconv.FormatUint(cursor, 10)
}

func (r *Relay) keepNewerChange(ctx context.Context, c hqapi.Change) {
	b, err := json.Marshal(c)
	if err == nil {
		err = r.cfg.Inventory.PutSetting(ctx, NewerChangeSetting(c.Cursor), b)
	}
	r.log.Warn("HQ change of a kind this version does not apply: kept for an upgraded till, skipped here",
		"cursor", c.Cursor, "kind", c.Kind, "err", err)
}

// apply writes one HQ change into the CRDT. A product change sets only
// the fields it names on the product the store holds, so an HQ price
// edit keeps the barcodes and anything else the store changed; a product
// the store does not hold yet is written whole.
//
// A cost price is written only while the store's tills all take it
// (Config.CostGate); otherwise it is held in a setting until they do.
func (r *Relay) apply(ctx context.Context, inv Inventory, c hqapi.Change) error {
	switch {
	case c.Kind == hqapi.KindProduct && c.Product != nil:
		p := c.Product
		cur, err := inv.Product(ctx, p.SKU)
		var had ledger.Money
		switch {
		case errors.Is(err, crdt.ErrNotFound):
			cur = crdt.Product{Name: p.Name, Barcodes: p.Barcodes, Price: p.Price, Currency: p.Currency, TaxRate: p.TaxRate, Unit: p.Unit, Cost: p.Cost}
		case err != nil:
			return fmt.Errorf("read product %s: %w", p.SKU, err)
		default:
			had = cur.Cost
			np := c.Patch(hqapi.Product{SKU: cur.SKU, Name: cur.Name, Barcodes: cur.Barcodes, Price: cur.Price,
				Currency: cur.Currency, TaxRate: cur.TaxRate, Unit: cur.Unit, Cost: cur.Cost})
			cur.Name, cur.Barcodes, cur.Price, cur.Currency, cur.TaxRate, cur.Unit = np.Name, np.Barcodes, np.Price, np.Currency, np.TaxRate, np.Unit
			cur.Cost = np.Cost
		}
		if cur.Cost != had && r.cfg.CostGate != nil {
			if gate := r.cfg.CostGate(ctx); gate != nil {
				if err := inv.PutSetting(ctx, HeldCostSetting+p.SKU, []byte(strconv.FormatInt(int64(cur.Cost), 10))); err != nil {
					return fmt.Errorf("hold cost of %s: %w", p.SKU, err)
				}
				r.log.Info("HQ cost price held until every till takes it", "sku", p.SKU, "why", gate)
				cur.Cost = had
			} else if _, err := inv.Setting(ctx, HeldCostSetting+p.SKU); err == nil {
				// A newer cost replaces the one held back.
				if err := inv.DeleteSetting(ctx, HeldCostSetting+p.SKU); err != nil {
					return fmt.Errorf("drop held cost of %s: %w", p.SKU, err)
				}
			}
		}
		cur.SKU, cur.Updated = p.SKU, c.At
		return inv.PutProduct(ctx, cur)
	case c.Kind == hqapi.KindRevocation && len(c.Revocation) > 0:
		// The tills verify it against the store CA before acting on it.
		r, err := ledger.DecodeRevocation(c.Revocation)
		if err != nil {
			return err
		}
		return inv.Revoke(ctx, crdt.Revocation{ID: r.Till.String(), Reason: r.Reason, At: r.Issued, AfterSeq: r.AfterSeq, Signed: c.Revocation})
	case c.Kind == hqapi.KindStaff && c.Staff != nil:
		s := c.Staff
		st := crdt.Staff{ID: s.ID, Name: s.Name, PINHash: []byte(s.PINHash), Role: crdt.Role(s.Role), Inactive: s.Inactive, Removed: s.Removed}
		old, err := inv.Staff(ctx, s.ID)
		switch {
		case err == nil && old.Removed:
			return fmt.Errorf("staff %s was removed: a removed member stays removed", s.ID)
		case s.Removed:
			st.PINHash, st.Inactive = nil, false
		case len(st.PINHash) == 0 && err == nil:
			st.PINHash = old.PINHash // a deactivation from HQ keeps the store's PIN
		}
		return inv.PutStaff(ctx, st)
	default:
		return fmt.Errorf("unknown change kind %q", c.Kind)
	}
}
