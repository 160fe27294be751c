package testnet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
	"github.com/tillmesh/tillmesh/ui"
)

// ErrNoOutbox is returned by Run for a scenario with `outbox on` in
// netns mode: the harness's fiscal service and messenger listen on the
// host's loopback, which a till in its own network namespace cannot
// reach.
var ErrNoOutbox = errors.New("testnet: the outbox scenarios run in inproc and process modes only")

// backlogHours is the store's rule "fiscal backlog older than N hours":
// a day without the internet (the clock step) passes it, so its alert
// may go out once when the messenger is back while the receipts drain
// (the rule looks every few seconds at what holds then).
const backlogHours = 6

// botToken is the testnet's Telegram bot token (the fake checks it).
const botToken = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ_testnet"

// fiscalDelay is how long the simulated fiscal service takes to answer:
// long enough that a drain of a few hundred receipts lasts a second and
// a relay can die in the middle of it.
const fiscalDelay = 50 * time.Millisecond

// outside is the internet as the outbox sees it: the fiscal service
// simulator and a fake Telegram Bot API, both on loopback, both taken
// away by `internet down` (with HQ).
type outside struct {
	sim    *fiscalsim.Sim
	simURL string
	bot    *fakeBot
	botURL string
	srv    *http.Server

	// upAt is how many the service had registered when the internet
	// last came back: `wait outbox N` counts from there.
	upAt atomic.Int64

	mu sync.Mutex
	// shipped is, per till killed, the highest seq of its chain the
	// store's other tills held when it died: its events above it reach
	// the relay only when it comes back, and go out late (the watermark
	// does not wait for a till it does not hear).
	shipped map[ledger.TillID]uint64
}

// noteKill records what the store's running tills hold of a till that
// was just killed.
func (o *outside) noteKill(st *store, till ledger.TillID) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var held uint64
	for _, s := range st.slots {
		th, _, _ := s.current()
		if th == nil {
			continue
		}
		if v, err := th.vector(ctx); err == nil {
			held = max(held, v[till])
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.shipped == nil {
		o.shipped = map[ledger.TillID]uint64{}
	}
	if old, ok := o.shipped[till]; !ok || held < old {
		o.shipped[till] = held
	}
}

// late reports whether an event reached the store's other tills only
// after its till was killed and came back.
func (o *outside) late(it outboxItem) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	held, ok := o.shipped[it.till]
	return ok && it.seq > held
}

// fakeBot implements the subset of the Telegram Bot API the notifier
// uses (sendMessage) and keeps every message in the order it took them.
type fakeBot struct {
	mu     sync.Mutex
	down   bool
	texts  []string
	lastAt time.Time // when it took the last message
}

func (b *fakeBot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	down := b.down
	b.mu.Unlock()
	if down {
		http.Error(w, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`, http.StatusBadGateway)
		return
	}
	var m struct {
		Chat string `json:"chat_id"`
		Text string `json:"text"`
	}
	if r.URL.Path != "/bot"+botToken+"/sendMessage" || json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&m) != nil {
		http.Error(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	b.mu.Lock()
	b.texts = append(b.texts, m.Text)
	b.lastAt = time.Now()
	n := len(b.texts)
	b.mu.Unlock()
	fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d}}`, n)
}

func (b *fakeBot) setDown(down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = down
}

// lastTook says how many messages the bot took and how long ago the
// last one came (a kill that soon after it may leave its record unsent).
func (b *fakeBot) lastTook() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.texts) == 0 {
		return "Telegram took no message"
	}
	return fmt.Sprintf("Telegram took %d messages, the last %v before", len(b.texts), time.Since(b.lastAt).Round(time.Millisecond))
}

func (b *fakeBot) messages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.texts...)
}

func checkOutbox(sc *Scenario, cfg Config) error {
	if sc.Outbox && cfg.Mode != InProc && cfg.Mode != Process {
		return fmt.Errorf("%w (mode %s)", ErrNoOutbox, cfg.Mode)
	}
	if sc.Outbox && sc.Stores != 1 {
		return fmt.Errorf("testnet: outbox on: one store only (the checks read one store's order), not %d", sc.Stores)
	}
	return nil
}

// startOutside runs the simulator and the bot on loopback and points
// every store at them: fiscal registration, Telegram, and a message for
// every refund (RefundOver 0). It runs before the first sale, so every
// receipt of the run is the outbox's.
func (h *harness) startOutside(ctx context.Context) error {
	o := &outside{sim: fiscalsim.NewSim(), bot: &fakeBot{}}
	// The service numbers each terminal's receipts: it refuses one older
	// than the last it registered for the till (a refusal is a
	// violation), and the store registers each till's in order.
	// Its clock is the run's (the clock step moves it with the tills'),
	// and it refuses a receipt dated ahead of it, as a real one would
	// refuse a till whose clock runs ahead.
	o.sim.SetNow(h.now)
	o.sim.Set(fiscalsim.Faults{Delay: fiscalsim.Duration(fiscalDelay), InOrder: true, MaxAhead: fiscalsim.Duration(10 * time.Minute)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("fiscal simulator: %w", err)
	}
	o.simURL = "http://" + ln.Addr().String()
	go o.sim.Serve(ctx, ln)
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("telegram fake: %w", err)
	}
	o.botURL = "http://" + bln.Addr().String()
	o.srv = &http.Server{Handler: o.bot, ReadHeaderTimeout: 5 * time.Second}
	go o.srv.Serve(bln)
	h.srvs = append(h.srvs, o.srv)
	h.out = o
	zero, backlog := int64(0), int64(backlogHours)
	for _, st := range h.stores {
		th, _, _ := st.slots[0].current()
		if th == nil {
			return fmt.Errorf("store %s: no running till to configure the outbox on", st.name)
		}
		set := ui.OutboxSettings{
			Fiscal:   ui.FiscalSettings{URL: o.simURL, TIN: fmt.Sprintf("20%07d", st.idx+1), PerTill: true},
			Telegram: ui.TelegramSettings{API: o.botURL, Chat: fmt.Sprintf("-100%d", st.idx+1), Token: botToken},
			Rules:    ui.NotifyRules{RefundOver: &zero, FiscalBacklogHours: &backlog},
		}
		var err error
		if n := th.node(); n != nil {
			err = n.PutOutboxSettings(ctx, set)
		} else if p, ok := th.(*procTill); ok {
			err = p.put(ctx, managerID, "/api/outbox/settings", set)
		}
		if err != nil {
			return fmt.Errorf("store %s: outbox settings: %w", st.name, err)
		}
	}
	return nil
}

// internet takes the outside world away or brings it back: HQ, the
// fiscal service and the messenger together.
func (h *harness) internet(down bool) string {
	h.gate.setAll(down)
	f := h.out.sim.Faults()
	f.Down = down
	h.out.sim.Set(f)
	h.out.bot.setDown(down)
	if down {
		return "the internet is down: HQ, the fiscal service and Telegram unreachable"
	}
	h.out.upAt.Store(int64(h.out.sim.Stats().Registered))
	return "the internet is back"
}

// outboxItem is an event the outbox must send: every receipt and Z
// report to the fiscal service, every refund to Telegram.
type outboxItem struct {
	id      string // the event's ID, hex
	till    ledger.TillID
	seq     uint64
	time    ledger.HLC
	kind    ledger.Kind
	number  uint32 // the till's number
	receipt string // its receipt number as printed (refunds)
}

// owed reports whether the outbox sends an event of kind k.
func owed(k ledger.Kind) bool {
	switch k {
	case ledger.KindSale, ledger.KindRefund, ledger.KindVoid, ledger.KindShiftClose:
		return true
	}
	return false
}

// outboxWants reads, from every running till of each store, what the
// outbox owes the outside, in ledger order (HLC, till number, seq): from
// the node's ledger in process, from a till process's export (the
// testnet-control `export` command writes its ledger as `ledger export`
// lines to a file in the run's directory).
func (h *harness) outboxWants(ctx context.Context) ([]outboxItem, error) {
	var all []outboxItem
	for _, st := range h.stores {
		byID := map[string]outboxItem{}
		for _, s := range st.slots {
			th, _, _ := s.current()
			if th == nil {
				continue
			}
			var items []outboxItem
			var err error
			if n := th.node(); n != nil {
				items, err = nodeOwes(n)
			} else if p, ok := th.(*procTill); ok {
				items, err = p.owes(ctx)
			}
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				if _, ok := byID[it.id]; !ok {
					byID[it.id] = it
				}
			}
		}
		if len(byID) == 0 {
			continue
		}
		items := make([]outboxItem, 0, len(byID))
		for _, it := range byID {
			items = append(items, it)
		}
		sort.Slice(items, func(i, j int) bool {
			a, b := items[i], items[j]
			if a.time != b.time {
				return a.time.Before(b.time)
			}
			if a.number != b.number {
				return a.number < b.number
			}
			return a.seq < b.seq
		})
		all = append(all, items...)
	}
	return all, nil
}

// nodeOwes lists what the outbox owes from an in-process till's ledger.
func nodeOwes(n *node.Till) ([]outboxItem, error) {
	chains, err := readChains(n.DB())
	if err != nil {
		return nil, err
	}
	var out []outboxItem
	for till, evs := range chains {
		num := n.TillNumber(till)
		for _, ev := range evs {
			if !owed(ev.Kind()) {
				continue
			}
			it := outboxItem{id: ev.ID().String(), till: ev.Till, seq: ev.Seq, time: ev.Time, kind: ev.Kind(), number: num}
			if it.kind == ledger.KindRefund {
				var rn uint64
				n.View(func(s *ledger.State) { rn, _ = s.ReceiptNumber(ev.Till, ev.Seq) })
				it.receipt = ledger.ReceiptNo(num, rn)
			}
			out = append(out, it)
		}
	}
	return out, nil
}

// owes lists what the outbox owes from a till process's ledger: it has
// the till write its export (testnet-control `export`) and reads it.
func (p *procTill) owes(ctx context.Context) ([]outboxItem, error) {
	path := filepath.Join(p.h.dir, "logs", p.s.name+"-export.jsonl")
	if err := p.control(ctx, "export", path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []outboxItem
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var x struct {
			EventID string      `json:"event_id"`
			Till    string      `json:"till"`
			Seq     uint64      `json:"seq"`
			Receipt string      `json:"receipt"`
			HLC     string      `json:"hlc"`
			Kind    ledger.Kind `json:"kind"`
		}
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			return nil, fmt.Errorf("%s: export: %w", p.s.name, err)
		}
		if !owed(x.Kind) {
			continue
		}
		till, err := ledger.ParseTillID(x.Till)
		if err != nil {
			return nil, fmt.Errorf("%s: export: till %q: %w", p.s.name, x.Till, err)
		}
		var t ledger.HLC
		wall, logical, ok := strings.Cut(x.HLC, ".")
		w, werr := strconv.ParseInt(wall, 10, 64)
		l, lerr := strconv.ParseUint(logical, 10, 32)
		if !ok || werr != nil || lerr != nil {
			return nil, fmt.Errorf("%s: export: hlc %q", p.s.name, x.HLC)
		}
		t.Wall, t.Logical = w, uint32(l)
		it := outboxItem{id: x.EventID, till: till, seq: x.Seq, time: t, kind: x.Kind, number: p.s.st.number(till)}
		if x.Kind == ledger.KindRefund {
			it.receipt = x.Receipt
		}
		out = append(out, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: export: %w", p.s.name, err)
	}
	return out, nil
}

// refundMsg reads a refund message's till and receipt number
// (notify.Text: "Refund of ... at till 2, receipt 2-000017, ...").
var refundMsg = regexp.MustCompile(`^Refund of .* at till (\d+), receipt (\S+), `)

// backlogMsg reads a fiscal backlog alert's oldest receipt time, which
// names the occurrence (node's alerts: "... the oldest from 2026-12-07
// 05:10 UTC (...").
var backlogMsg = regexp.MustCompile(`^Fiscal registration is behind .* the oldest from (.+ UTC) \(`)

// refundMsgs counts the refund messages among msgs.
func refundMsgs(msgs []string) int {
	n := 0
	for _, m := range msgs {
		if refundMsg.MatchString(m) {
			n++
		}
	}
	return n
}

// outboxDone reports whether the outside holds everything the ledgers
// owe it, or why not.
func (h *harness) outboxDone(items []outboxItem) (bool, string) {
	refunds := 0
	for _, it := range items {
		if _, ok := h.out.sim.Get(it.id); !ok {
			return false, fmt.Sprintf("the fiscal service holds %d registrations, %s of till %d is not one of them",
				h.out.sim.Stats().Registered, it.kind, it.number)
		}
		if it.kind == ledger.KindRefund {
			refunds++
		}
	}
	if got := refundMsgs(h.out.bot.messages()); got < refunds {
		return false, fmt.Sprintf("Telegram took %d of %d refund messages", got, refunds)
	}
	return true, ""
}

// waitOutbox waits until the outbox drained (n == 0), or until the
// fiscal service registered at least n receipts since the internet last
// came back (to kill the relay in the middle of the drain).
func (h *harness) waitOutbox(ctx context.Context, n int, limit time.Duration) (string, error) {
	if h.out == nil {
		return "", errors.New("wait outbox: the scenario has no `outbox on`")
	}
	t0 := time.Now()
	if n > 0 {
		// The relay dies mid-drain of the fiscal service, whose
		// idempotency keys make a repeat harmless, but not mid-drain of
		// Telegram's messages (see messagesHeld).
		since := func() int { return h.out.sim.Stats().Registered - int(h.out.upAt.Load()) }
		var why string
		err := poll(ctx, limit, 20*time.Millisecond, func() (bool, error) {
			if since() < n {
				why = fmt.Sprintf("the fiscal service registered %d since the internet came back", since())
				return false, nil
			}
			var ok bool
			ok, why = h.messagesHeld(ctx)
			return ok, nil
		})
		if err != nil {
			return "", fmt.Errorf("wait outbox %d: %s: %w", n, why, err)
		}
		held := ""
		if h.cfg.Mode == Process {
			held = ", every till holds Telegram's records"
		}
		return fmt.Sprintf("the fiscal service registered %d since the internet came back%s (%v)", since(), held, time.Since(t0).Round(time.Millisecond)), nil
	}
	var why string
	var items []outboxItem
	err := poll(ctx, limit, 100*time.Millisecond, func() (bool, error) {
		var err error
		if items, err = h.outboxWants(ctx); err != nil {
			why = err.Error()
			return false, nil
		}
		var ok bool
		if ok, why = h.outboxDone(items); !ok {
			return false, nil
		}
		ok, why = h.messagesHeld(ctx)
		return ok, nil
	})
	if err != nil {
		return "", fmt.Errorf("the outbox did not drain: %s: %w", why, err)
	}
	vs := h.outboxViolations(items)
	for _, v := range vs {
		h.violate("%s", v)
	}
	st := h.out.sim.Stats()
	msgs := h.out.bot.messages()
	return fmt.Sprintf("drained in %v: %d receipts registered (%d repeats answered from their key), %d messages (%d fiscal backlog alerts), %d violations",
		time.Since(t0).Round(time.Millisecond), st.Registered, st.Duplicates, len(msgs), len(msgs)-refundMsgs(msgs), len(vs)), nil
}

// messagesHeld reports whether every running till counts no Telegram
// message pending: the records of the messages the sender sent reached
// every till, so a till killed now (SIGKILL in process mode) leaves none
// for the next sender to send again. A message has no idempotency key:
// one whose record died with its sender goes out twice, which the
// outbox's failover bound allows and the scenario counts as a
// violation, so the scenario kills a sender only once they are held.
//
// Process mode only, where a kill is a SIGKILL that records nothing: an
// in-process kill lets the requests in flight answer and records them
// (outbox stopGrace), and the wait would cost the in-process run under
// -race about 35 s of make test (a till that does not send recounts its
// backlog only every few seconds, up to 30 s with -race).
func (h *harness) messagesHeld(ctx context.Context) (bool, string) {
	if h.cfg.Mode != Process {
		return true, ""
	}
	for _, st := range h.stores {
		for _, s := range st.slots {
			th, _, _ := s.current()
			if th == nil {
				continue
			}
			var us ui.Status
			if n := th.node(); n != nil {
				us = n.Status(ctx)
			} else if p, ok := th.(*procTill); ok {
				var err error
				if us, err = p.status(ctx); err != nil {
					return false, fmt.Sprintf("%s: status: %v", s.name, err)
				}
			}
			for _, c := range us.Outbox {
				if c.Connector == "telegram" && c.Configured && c.Pending > 0 {
					return false, fmt.Sprintf("%s counts %d Telegram messages pending (the sender's records have not reached it)", s.name, c.Pending)
				}
			}
		}
	}
	return true, ""
}

// outboxViolations checks a drained outbox: every receipt registered
// exactly once and nothing else; one Telegram message per refund, none
// twice, in the store's ledger order.
func (h *harness) outboxViolations(items []outboxItem) []string {
	var out []string
	st := h.out.sim.Stats()
	if st.Registered != len(items) {
		out = append(out, fmt.Sprintf("outbox: the fiscal service registered %d, the ledgers hold %d receipts and Z reports", st.Registered, len(items)))
	}
	if st.Rejected > 0 {
		out = append(out, fmt.Sprintf("outbox: the fiscal service refused %d requests", st.Rejected))
	}
	// Each till's receipts were registered in the till's order.
	byID := map[string]outboxItem{}
	for _, it := range items {
		byID[it.id] = it
	}
	regd := map[ledger.TillID]uint64{}
	for _, id := range h.out.sim.Order() {
		it, ok := byID[id]
		if !ok {
			continue
		}
		if it.seq < regd[it.till] {
			out = append(out, fmt.Sprintf("outbox: till %d's seq %d was registered after its seq %d", it.number, it.seq, regd[it.till]))
		}
		regd[it.till] = max(regd[it.till], it.seq)
	}
	// Where each refund stands in ledger order.
	place := map[string]int{}
	refunds := 0
	for i, it := range items {
		if it.kind == ledger.KindRefund {
			place[strconv.Itoa(int(it.number))+"/"+it.receipt] = i
			refunds++
		}
	}
	msgs := h.out.bot.messages()
	if n := refundMsgs(msgs); n != refunds {
		out = append(out, fmt.Sprintf("outbox: Telegram took %d refund messages for %d refunds", n, refunds))
	}
	// In store-wide ledger order (the outbox's watermark): a message
	// comes after every message of an earlier event, except an event
	// that reached the relay late because its till was killed before the
	// event left it (shipped).
	seen := map[string]bool{}
	last, lastMsg := -1, ""
	alerts := map[string]bool{}
	for _, m := range msgs {
		if a := backlogMsg.FindStringSubmatch(m); a != nil {
			if alerts[a[1]] {
				out = append(out, fmt.Sprintf("outbox: the fiscal backlog alert for the receipt of %s was sent twice", a[1]))
			}
			alerts[a[1]] = true
			continue
		}
		sub := refundMsg.FindStringSubmatch(m)
		if sub == nil {
			out = append(out, fmt.Sprintf("outbox: unexpected message %q", m))
			continue
		}
		k := sub[1] + "/" + sub[2]
		if seen[k] {
			out = append(out, fmt.Sprintf("outbox: the refund at till %s, receipt %s, was sent twice", sub[1], sub[2]))
			continue
		}
		seen[k] = true
		p, ok := place[k]
		if !ok {
			out = append(out, fmt.Sprintf("outbox: a message for a refund the ledger lacks: %q", m))
			continue
		}
		if p < last && !h.out.late(items[p]) {
			out = append(out, fmt.Sprintf("outbox: the refund at till %s, receipt %s, was sent after the one at %s, which comes later in the store's ledger order", sub[1], sub[2], lastMsg))
		}
		if p > last {
			last, lastMsg = p, "till "+sub[1]+", receipt "+sub[2]
		}
	}
	return out
}
