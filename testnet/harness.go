package testnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/testnet/powerfs"
	"github.com/tillmesh/tillmesh/ui"
)

// The seeded staff: a manager receives stock, a cashier sells, refunds
// and runs shifts.
const (
	managerID  = "1"
	cashierID  = "2"
	shiftFloat = ledger.Money(10_000)
)

var seedStaff = []struct {
	id, name, pin string
	role          ui.Role
}{
	{managerID, "Testnet Manager", "1234", ui.RoleManager},
	{cashierID, "Testnet Cashier", "2222", ui.RoleCashier},
}

func pinOf(staff string) string {
	for _, s := range seedStaff {
		if s.id == staff {
			return s.pin
		}
	}
	return ""
}

// harness is one run: the stores, their tills, HQ and its gate, the
// workload's acknowledgements and the report being built.
type harness struct {
	cfg    Config
	sc     *Scenario
	log    *slog.Logger
	dir    string
	ownDir bool
	began  time.Time

	catalog  []crdt.Product
	products map[string]crdt.Product
	raced    []*racedSale // the race step's sales (doublespend.go)
	offline  offlineRace  // the offline part of the double-spend scenario (doublespend.go)

	stores []*store
	hq     *hq.HQ
	hqDB   *hq.Badger
	gate   *gate
	srvs   []*http.Server
	lan    *lan
	out    *outside // the fiscal service and messenger (outbox.go)

	acks  *ackLog
	xfers transferLog // transfers.go
	prop  *propagation
	rep   *Report
	pow   *power // nil unless the scenario cuts the power

	procs procSet // till processes running or starting (process modes)

	mu       sync.Mutex
	bg       *sellJob
	ops      atomic.Int64  // numbers idempotency keys
	world    atomic.Int64  // simulated time passed (the clock step), ns: on every clock of the run
	heals    []time.Time   // heals whose catch-up is not measured yet
	lastConv time.Duration // how long the last wait converged waited

	// checkWait is how long a check waits for a store that is not
	// converged when it starts (checkStore): checkConvergeWait, shorter
	// in a test whose store is damaged on purpose and never converges.
	checkWait time.Duration
}

// store is one store of the run.
type store struct {
	idx        int
	name       string
	dir        string // the store directory: CA key and registry
	file       *pki.StoreFile
	hqURL      string
	slots      []*slot
	nextNumber uint32
	power      *powerfs.FS // the store's directory, when the scenario cuts the power

	mu       sync.Mutex
	groups   map[int]int              // slot index -> partition side; 0 (absent) is the side with HQ
	registry map[string]ledger.TillID // till number and short ID -> till, over every incarnation
	numbers  map[ledger.TillID]uint32
	epoch    atomic.Int64  // bumped by every fault: propagation samples taken before it are dropped
	world    *atomic.Int64 // the harness's simulated time passed
}

// slot is a till position ("t3"): its current incarnation and process.
// Wiping a till's disk gives the slot a new incarnation (new key, new
// number); kill and restart keep it.
type slot struct {
	st   *store
	idx  int
	name string
	skew atomic.Int64 // clock offset, ns
	net  *tillNet     // netns mode

	mu      sync.Mutex
	inc     *incarnation
	incs    []*incarnation
	th      tillHandle // nil while down
	upCh    chan struct{}
	shift   bool             // harness's view: a shift is open
	shiftMu sync.Mutex       // one shift open or close at a time (shiftAt)
	blocked map[peer.ID]bool // peers this till is told to refuse
	link    p2p.Fault        // latency and loss on this till's link
	// upgraded: the till runs the new release (rolling-upgrade); until
	// then it runs Config.OldBinary.
	upgraded bool
}

// incarnation is one life of a till: a key, a certificate, a data
// directory.
type incarnation struct {
	number   uint32
	id       ledger.TillID
	peer     peer.ID
	dir      string
	p2pPort  int
	httpPort int
	peakKB   atomic.Int64
	starts   []time.Duration // each start until it could sell; guarded by the slot's mu
}

func (s *slot) now() time.Time { return time.Now().Add(s.offset()) }

// offset is how far the till's clock is from the machine's: its own
// skew on top of the simulated time passed (the clock step).
func (s *slot) offset() time.Duration { return time.Duration(s.skew.Load() + s.st.world.Load()) }

// now is the run's simulated time: HQ's and the fiscal service's clock.
func (h *harness) now() time.Time { return time.Now().Add(time.Duration(h.world.Load())) }

// current returns the running till (nil if down), its incarnation, and a
// channel closed while it is up.
func (s *slot) current() (tillHandle, *incarnation, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.th, s.inc, s.upCh
}

func (s *slot) up() bool {
	th, _, _ := s.current()
	return th != nil
}

func (s *slot) setUp(th tillHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.th = th
	close(s.upCh)
}

// setDown marks the slot down and returns what was running.
func (s *slot) setDown() tillHandle {
	s.mu.Lock()
	defer s.mu.Unlock()
	th := s.th
	if th != nil {
		s.th = nil
		s.upCh = make(chan struct{})
	}
	return th
}

func (st *store) tillByName(name string) (ledger.TillID, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	id, ok := st.registry[name]
	return id, ok
}

func (st *store) number(id ledger.TillID) uint32 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.numbers[id]
}

func (st *store) register(inc *incarnation) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.registry[strconv.FormatUint(uint64(inc.number), 10)] = inc.id
	st.registry[inc.id.Short()] = inc.id
	st.numbers[inc.id] = inc.number
}

func (st *store) group(i int) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.groups[i]
}

func (st *store) live() []*slot {
	var out []*slot
	for _, s := range st.slots {
		if s.up() {
			out = append(out, s)
		}
	}
	return out
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// below the kernel's ephemeral range. A till keeps its port across kill
// and restart, and while it is down the other tills keep dialing it: a
// port from the ephemeral range (what binding port 0 gives) can meanwhile
// become the source port of one of those dials, and the restarted till
// then cannot listen (seen once in 60 chaos runs). A port is handed out
// once per process: the port is only reserved by the till that binds it
// later, so two calls before that bind could otherwise both get it.
func FreePort() (int, error) {
	low, high := 20000, ephemeralLow()-1
	if high <= low {
		low = 1024
	}
	handed.Lock()
	defer handed.Unlock()
	for range 200 {
		port := low + rand.IntN(high-low+1)
		if handed.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		if handed.ports == nil {
			handed.ports = map[int]bool{}
		}
		handed.ports[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("no free TCP port in %d-%d", low, high)
}

// handed is the ports FreePort gave out in this process.
var handed struct {
	sync.Mutex
	ports map[int]bool
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux
// default 32768).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 2048 {
		return 32768
	}
	return n
}

// poll calls cond every interval until it holds, fails, or limit passes.
// A costly cond is called less often: the tills get at least three times
// as long as it took, so polling does not slow what it waits for.
func poll(ctx context.Context, limit, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		t0 := time.Now()
		ok, err := cond()
		interval = max(interval, 3*time.Since(t0))
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", limit)
		}
		t.Reset(interval)
	}
}

func (h *harness) progress(format string, args ...any) {
	if h.cfg.Progress == nil {
		return
	}
	fmt.Fprintf(h.cfg.Progress, "[%7.1fs] %s\n", time.Since(h.began).Seconds(), fmt.Sprintf(format, args...))
}

// newHarness lays out the stores, enrolls the tills, seeds each store's
// catalog, staff and opening stock on its first till, and sets up HQ.
// Nothing runs yet.
func newHarness(ctx context.Context, sc *Scenario, cfg Config) (h *harness, err error) {
	h = &harness{cfg: cfg, sc: sc, log: cfg.Logger, dir: cfg.Dir, began: time.Now(), products: map[string]crdt.Product{}, checkWait: checkConvergeWait}
	h.acks = newAckLog()
	h.rep = &Report{Scenario: sc.Name, Seed: cfg.Seed, Mode: string(cfg.Mode), Scale: string(sc.Scale)}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	if h.dir == "" {
		if h.dir, err = os.MkdirTemp("", "tillmesh-testnet-"); err != nil {
			return nil, err
		}
		h.ownDir = true
	}
	if err := os.MkdirAll(filepath.Join(h.dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	h.catalog = node.DemoCatalog(sc.Products)
	for _, p := range h.catalog {
		h.products[p.SKU] = p
	}
	if cfg.Mode == Netns {
		if h.lan, err = newLAN(); err != nil {
			return nil, err
		}
	}
	if sc.HQ {
		if h.hqDB, err = hq.OpenBadger(filepath.Join(h.dir, "hq"), h.log.With("hq", true)); err != nil {
			return nil, err
		}
		hc := hq.DefaultConfig()
		hc.Storage, hc.Logger, hc.Now = h.hqDB, h.log.With("hq", true), h.now
		if h.hq, err = hq.New(ctx, hc); err != nil {
			return nil, err
		}
		h.gate = newGate(h.hq.Handler())
	}
	g := 0
	for si := 1; si <= sc.Stores; si++ {
		st := &store{idx: si, name: fmt.Sprintf("s%d", si), dir: filepath.Join(h.dir, fmt.Sprintf("s%d", si), "store"),
			groups: map[int]int{}, registry: map[string]ledger.TillID{}, numbers: map[ledger.TillID]uint32{}, world: &h.world}
		if st.file, err = pki.InitStore(st.dir, fmt.Sprintf("Testnet store %d", si)); err != nil {
			return nil, err
		}
		if h.lan != nil {
			if err := h.lan.addStore(si); err != nil {
				return nil, err
			}
		}
		if h.hq != nil {
			if err := h.hq.RegisterStore(ctx, st.file.ID, st.file.Name, st.file.CA); err != nil {
				return nil, err
			}
			addr := "127.0.0.1:0"
			if h.lan != nil {
				addr = h.lan.gateIP(si) + ":0"
			}
			if si == 1 || h.lan != nil {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return nil, err
				}
				srv := &http.Server{Handler: h.gate, ReadHeaderTimeout: 10 * time.Second}
				h.srvs = append(h.srvs, srv)
				go srv.Serve(ln)
				st.hqURL = "http://" + ln.Addr().String()
			} else {
				st.hqURL = h.stores[0].hqURL
			}
		}
		for i := 1; i <= sc.Tills; i++ {
			g++
			name := fmt.Sprintf("t%d", i)
			if sc.Stores > 1 {
				name = fmt.Sprintf("s%d.t%d", si, i)
			}
			s := &slot{st: st, idx: i, name: name, upCh: make(chan struct{}), blocked: map[peer.ID]bool{}}
			if h.lan != nil {
				if s.net, err = h.lan.addTill(si, i, g); err != nil {
					return nil, err
				}
			}
			inc, err := h.enroll(s)
			if err != nil {
				return nil, err
			}
			s.inc = inc
			s.incs = []*incarnation{inc}
			st.slots = append(st.slots, s)
		}
		h.stores = append(h.stores, st)
		if err := h.writeHistory(ctx, st); err != nil {
			return nil, fmt.Errorf("history of store %d: %w", si, err)
		}
		if err := h.seed(ctx, st); err != nil {
			return nil, fmt.Errorf("seed store %d: %w", si, err)
		}
	}
	if sc.powerCuts() {
		h.pow = &power{cuts: map[string]int{}}
		for _, st := range h.stores {
			if err := h.powerUp(st); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// enroll gives a slot a new incarnation: a fresh data directory, key and
// certificate with the store's next till number (numbers are never
// reused, so receipt numbers stay unique).
func (h *harness) enroll(s *slot) (*incarnation, error) {
	st := s.st
	st.nextNumber++
	inc := &incarnation{number: st.nextNumber, dir: filepath.Join(h.dir, st.name, fmt.Sprintf("till%d", st.nextNumber))}
	cert, err := pki.Enroll(st.dir, inc.dir, inc.number, fmt.Sprintf("Till %d (%s)", inc.number, s.name), time.Now())
	if err != nil {
		return nil, err
	}
	inc.id = cert.Till
	if inc.peer, err = p2p.PeerOf(inc.id); err != nil {
		return nil, err
	}
	if h.cfg.Mode == Netns {
		inc.p2pPort, inc.httpPort = 4001, 8081
	} else {
		if inc.p2pPort, err = FreePort(); err != nil {
			return nil, err
		}
		if inc.httpPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	st.register(inc)
	return inc, nil
}

// writeHistory puts Config.History sales, spread over the past year,
// into the ledger of the store's first till before it first starts, signed
// with its key as if it had made them (stored as a peer's run would be,
// ledgerdb.Insert); its start writes its stock counters from them.
func (h *harness) writeHistory(ctx context.Context, st *store) error {
	n := h.cfg.History
	if n == 0 {
		return nil
	}
	s := st.slots[0]
	key, err := pki.LoadOrCreateKey(filepath.Join(s.inc.dir, pki.TillKeyFileName))
	if err != nil {
		return err
	}
	var each []crdt.Product
	for _, p := range h.catalog {
		if !p.Weighed() {
			each = append(each, p)
		}
	}
	if len(each) == 0 {
		return errors.New("no product sold by the unit")
	}
	lc := ledgerdb.DefaultConfig(filepath.Join(s.inc.dir, "ledger"), st.file.ID)
	lc.Logger = h.log
	db, err := ledgerdb.Open(lc)
	if err != nil {
		return err
	}
	defer db.Close()
	year := 365 * 24 * time.Hour
	from, step := time.Now().Add(-year), year/time.Duration(n+1)
	var prev ledger.EventID
	batch := make([]*ledger.Event, 0, 5000)
	for i := range n {
		p := each[i%len(each)]
		sale := &ledger.Sale{Currency: p.Currency, TaxIncluded: true, Staff: managerID,
			Lines: []ledger.Line{p.Line(1, 0)}}
		tot, err := sale.Totals()
		if err != nil {
			return err
		}
		sale.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: tot.Total}}
		ev := &ledger.Event{Store: st.file.ID, Seq: uint64(i + 1), Prev: prev,
			Time: ledger.HLC{Wall: from.Add(time.Duration(i+1) * step).UnixMilli()}, Body: sale,
			Key: fmt.Sprintf("testnet-%d-%s-history-%d", h.cfg.Seed, st.name, i)}
		if err := ev.Sign(key); err != nil {
			return err
		}
		prev = ev.ID()
		if batch = append(batch, ev); len(batch) == cap(batch) || i == n-1 {
			res, err := db.Insert(ctx, batch)
			if err == nil && len(res.Applied) != len(batch) {
				err = fmt.Errorf("%d of %d history events applied: %+v", len(res.Applied), len(batch), res.Rejected)
			}
			if err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	h.progress("store %s: %s holds %d sales of the past year", st.name, s.name, n)
	return nil
}

// seed opens the store's first till here, off the network, and puts in
// the catalog, the staff and the opening stock. The others get them from
// it over the mesh, as real tills would.
func (h *harness) seed(ctx context.Context, st *store) error {
	s := st.slots[0]
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = s.inc.dir, st.file, h.log.With("till", s.name, "seed", true)
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, false
	t, err := node.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer t.Close()
	lines := make([]ledger.StockLine, 0, len(h.catalog))
	for _, p := range h.catalog {
		if err := t.Inventory().PutProduct(ctx, p); err != nil {
			return err
		}
		q := int64(100_000)
		if p.Weighed() {
			q = 100_000_000 // grams
		}
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: q})
	}
	for _, m := range seedStaff {
		if err := t.AddStaff(ctx, m.id, m.name, m.role, m.pin); err != nil {
			return err
		}
	}
	key := fmt.Sprintf("testnet-%d-%s-opening", h.cfg.Seed, st.name)
	ev, _, err := t.Record(ctx, &ledger.StockReceive{Lines: lines, Ref: "opening stock", Staff: managerID}, key)
	if err != nil {
		return err
	}
	h.acks.add(&ack{store: st, slot: s, inc: s.inc, kind: ev.Kind(), key: key, info: ackOf(ev, s.inc.number, 0, false), at: time.Now()})
	return nil
}

// staticPeers are the addresses of the store's other tills (inproc and
// process modes; netns finds them by mDNS).
func (h *harness) staticPeers(s *slot) []string {
	var out []string
	for _, o := range s.st.slots {
		if o == s {
			continue
		}
		o.mu.Lock()
		inc := o.inc
		o.mu.Unlock()
		out = append(out, fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", inc.p2pPort, inc.peer))
	}
	return out
}

// wantBlocked lists the peers a till must refuse under the store's
// current partition: every incarnation of every till on another side.
func (h *harness) wantBlocked(s *slot) map[peer.ID]bool {
	st := s.st
	out := map[peer.ID]bool{}
	mine := st.group(s.idx)
	for _, o := range st.slots {
		if o == s || st.group(o.idx) == mine {
			continue
		}
		o.mu.Lock()
		for _, inc := range o.incs {
			out[inc.peer] = true
		}
		o.mu.Unlock()
	}
	return out
}

// start runs a slot's current incarnation and waits until it can sell.
func (h *harness) start(ctx context.Context, s *slot) error {
	s.mu.Lock()
	inc := s.inc
	s.mu.Unlock()
	var blocked []peer.ID
	want := map[peer.ID]bool{}
	if h.cfg.Mode != Netns {
		want = h.wantBlocked(s)
		for p := range want {
			blocked = append(blocked, p)
		}
	}
	var th tillHandle
	var err error
	began := time.Now()
	switch h.cfg.Mode {
	case InProc:
		th, err = h.startInproc(ctx, s, inc, blocked)
	case Process:
		th, err = h.startProcess(ctx, s, inc, procArgs{http: fmt.Sprintf("127.0.0.1:%d", inc.httpPort),
			listen: fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", inc.p2pPort), peers: h.staticPeers(s)}, blocked)
	case Netns:
		th, err = h.startProcess(ctx, s, inc, procArgs{prefix: []string{"ip", "netns", "exec", s.net.ns},
			http: fmt.Sprintf("%s:%d", s.net.ctlIP, inc.httpPort), listen: fmt.Sprintf("/ip4/%s/tcp/%d", s.net.lanIP, inc.p2pPort), mdns: true}, nil)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.blocked = want
	inc.starts = append(inc.starts, time.Since(began))
	s.mu.Unlock()
	s.setUp(th)
	if h.shaping() {
		return h.applyLinks(ctx, s.st)
	}
	return nil
}

// shaping reports whether the scenario shapes links (a latency step, or
// chaos, which draws them): only then do tills dial through a p2p.Shaper.
func (h *harness) shaping() bool {
	for _, st := range h.sc.Steps {
		if st.Op == OpLatency || st.Op == OpChaos {
			return true
		}
	}
	return false
}

// linkAddr is the address other tills dial s at, as its Shaper keys it.
func (h *harness) linkAddr(s *slot) string {
	if h.cfg.Mode == Netns {
		return s.net.lanIP
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("127.0.0.1:%d", s.inc.p2pPort)
}

// applyLinks tells every running till of st the link faults of the store:
// its own (every connection it dials) and every other till's (the
// connections it dials to that till). A restarted till is told again.
func (h *harness) applyLinks(ctx context.Context, st *store) error {
	for _, x := range st.slots {
		th, _, _ := x.current()
		if th == nil {
			continue
		}
		x.mu.Lock()
		own := x.link
		x.mu.Unlock()
		if err := th.shape(ctx, "all", own); err != nil {
			return fmt.Errorf("shape %s: %w", x.name, err)
		}
		for _, y := range st.slots {
			if y == x {
				continue
			}
			y.mu.Lock()
			f := y.link
			y.mu.Unlock()
			if err := th.shape(ctx, h.linkAddr(y), f); err != nil {
				return fmt.Errorf("shape %s's link at %s: %w", y.name, x.name, err)
			}
		}
	}
	return nil
}

// waitReady waits until the tills hold the catalog and staff.
func (h *harness) waitReady(ctx context.Context, slots []*slot) error {
	var wg sync.WaitGroup
	errs := make([]error, len(slots))
	for i, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			th, _, _ := s.current()
			if th == nil {
				return
			}
			if err := readyWait(ctx, th, h.cfg.Wait); err != nil {
				errs[i] = fmt.Errorf("%s never received the catalog and staff: %w", s.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// kill stops a till at once (SIGKILL in the process modes).
func (h *harness) kill(s *slot) error {
	th := s.setDown()
	if th == nil {
		return fmt.Errorf("kill %s: it is not running", s.name)
	}
	s.st.epoch.Add(1)
	_, inc, _ := s.current()
	err := th.stop(true)
	if h.out != nil && inc != nil {
		h.out.noteKill(s.st, inc.id) // outbox.go: what the store held of it
	}
	return err
}

// applyPartition brings every running till's refusals and HQ's gate in
// line with the store's partition (inproc and process modes), or moves
// the links (netns).
func (h *harness) applyPartition(ctx context.Context, st *store, sides [][]*slot) error {
	if h.gate != nil {
		for _, s := range st.slots {
			cut := st.group(s.idx) != 0
			s.mu.Lock()
			for _, inc := range s.incs {
				h.gate.setTill(inc.id, cut)
			}
			s.mu.Unlock()
		}
	}
	if h.lan != nil {
		var tills []*tillNet
		for _, s := range st.slots {
			tills = append(tills, s.net)
		}
		if err := h.lan.heal(st.idx, tills); err != nil {
			return err
		}
		if sides == nil {
			return nil
		}
		nets := make([][]*tillNet, len(sides))
		for k, side := range sides {
			for _, s := range side {
				nets[k] = append(nets[k], s.net)
			}
		}
		return h.lan.cut(st.idx, nets)
	}
	var errs []error
	for _, s := range st.slots {
		th, _, _ := s.current()
		if th == nil {
			continue
		}
		want := h.wantBlocked(s)
		s.mu.Lock()
		var on, off []peer.ID
		for p := range want {
			if !s.blocked[p] {
				on = append(on, p)
			}
		}
		for p := range s.blocked {
			if !want[p] {
				off = append(off, p)
			}
		}
		s.blocked = want
		s.mu.Unlock()
		if err := th.block(ctx, on, true); err != nil {
			errs = append(errs, err)
		}
		if err := th.block(ctx, off, false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sidesOf returns a store's partition sides, side 0 first.
func (st *store) sides() [][]*slot {
	st.mu.Lock()
	defer st.mu.Unlock()
	max := 0
	for _, g := range st.groups {
		max = maxInt(max, g)
	}
	if max == 0 {
		return nil
	}
	out := make([][]*slot, max+1)
	for _, s := range st.slots {
		g := st.groups[s.idx]
		out[g] = append(out[g], s)
	}
	return out
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// close stops everything and removes what the run made.
func (h *harness) close() error {
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, st := range h.stores {
		for _, s := range st.slots {
			if th := s.setDown(); th != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := th.stop(false); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}()
			}
		}
	}
	wg.Wait()
	for _, st := range h.stores {
		errs = append(errs, h.powerDown(st))
	}
	for _, srv := range h.srvs {
		srv.Close()
	}
	if h.hqDB != nil {
		errs = append(errs, h.hqDB.Close())
		h.hqDB = nil
	}
	if h.lan != nil {
		errs = append(errs, h.lan.close())
		h.lan = nil
	}
	if h.ownDir {
		errs = append(errs, os.RemoveAll(h.dir))
	}
	return errors.Join(errs...)
}

// allSlots returns every slot of every store, store by store.
func (h *harness) allSlots() []*slot {
	var out []*slot
	for _, st := range h.stores {
		out = append(out, st.slots...)
	}
	return out
}

// crashHQ kills HQ and starts it again on the same storage, as a process
// crash and a restart would: no rollups written at a stop, the storage
// left with what each upload committed. Requests that arrive meanwhile
// find a dead line; those in flight end first (a kill in the middle of
// an upload is node/hq's TestThreeHQProcessesOneKilledMidUpload). The
// checks that follow compare the new HQ with the tills' ledgers: nothing
// lost, nothing counted twice.
func (h *harness) crashHQ(ctx context.Context) (string, error) {
	var started hq.StartStats
	err := h.gate.swap(func() (http.Handler, error) {
		if err := h.hqDB.Close(); err != nil {
			return nil, fmt.Errorf("close hq storage: %w", err)
		}
		db, err := hq.OpenBadger(filepath.Join(h.dir, "hq"), h.log.With("hq", true))
		if err != nil {
			return nil, fmt.Errorf("reopen hq storage: %w", err)
		}
		h.hqDB = db
		hc := hq.DefaultConfig()
		hc.Storage, hc.Logger, hc.Now = db, h.log.With("hq", true), h.now
		nh, err := hq.New(ctx, hc)
		if err != nil {
			return nil, fmt.Errorf("restart hq: %w", err)
		}
		h.hq, started = nh, nh.Started()
		return nh.Handler(), nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("HQ crashed and restarted in %v: %d stores, %d from their rollups, %d events folded above them",
		started.Took.Round(time.Millisecond), started.Stores, started.FromRollup, started.Folded), nil
}
