package testnet

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

var (
	scaleFlag = flag.String("testnet.scale", "small", "scenario size: small (CI) or full (as written; minutes each)")
	seedFlag  = flag.Uint64("testnet.seed", 0, "workload seed (default: a random one, printed)")
	dirFlag   = flag.String("testnet.dir", "", "keep each run's directory (till data and logs) under this one, named after the test (default: a temporary one, removed)")

	binary   string // the tillmesh binary for the process and netns modes
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "testnet-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tillmesh")
	if out, err := exec.Command("go", "build", "-o", binary, "../cmd/tillmesh").CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build ../cmd/tillmesh: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if releases.old != "" {
		os.RemoveAll(filepath.Dir(releases.old))
	}
	os.Exit(code)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testLogger returns the logger for a run: to stderr when
// TILLMESH_TEST_LOG is set, else to memory (a few thousand lines per
// scenario), written out only if the test fails. A rare failure then
// comes with the tills' logs, timed as in a quiet run.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("TILLMESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rec := &recorder{}
	t.Cleanup(func() {
		if t.Failed() {
			rec.dump(t)
		}
	})
	return slog.New(slog.NewTextHandler(rec, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// recorder keeps the last recorderLines lines written to it.
type recorder struct {
	mu      sync.Mutex
	lines   [][]byte
	next    int // where the next line goes once lines is full
	dropped int
}

const recorderLines = 50_000

func (r *recorder) Write(p []byte) (int, error) {
	line := bytes.Clone(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) < recorderLines {
		r.lines = append(r.lines, line)
		return len(p), nil
	}
	r.lines[r.next] = line
	r.next = (r.next + 1) % recorderLines
	r.dropped++
	return len(p), nil
}

// dump writes the lines to a file named after the test and logs its
// path and the warnings and errors among them.
func (r *recorder) dump(t *testing.T) {
	r.mu.Lock()
	lines := append(slices.Clone(r.lines[r.next:]), r.lines[:r.next]...)
	dropped := r.dropped
	r.mu.Unlock()
	f, err := os.CreateTemp("", "testnet-"+strings.ReplaceAll(t.Name(), "/", "-")+"-*.log")
	if err != nil {
		t.Logf("write the tills' log: %v", err)
	} else {
		for _, l := range lines {
			_, _ = f.Write(l)
		}
		if err := f.Close(); err != nil {
			t.Logf("write the tills' log: %v", err)
		}
		t.Logf("the tills' log (%d lines, %d earlier ones dropped): %s", len(lines), dropped, f.Name())
	}
	const most = 200
	var warn []string
	for _, l := range lines {
		if bytes.Contains(l, []byte("level=WARN")) || bytes.Contains(l, []byte("level=ERROR")) {
			warn = append(warn, strings.TrimRight(string(l), "\n"))
		}
	}
	if len(warn) > most {
		t.Logf("%d warnings and errors, the last %d:", len(warn), most)
		warn = warn[len(warn)-most:]
	}
	for _, w := range warn {
		t.Log(w)
	}
}

// runScenario runs a built-in scenario and fails the test, with the seed
// to replay it, unless every invariant held.
func runScenario(t *testing.T, name string, mode Mode, opts ...func(*Config)) *Report {
	t.Helper()
	if mode != InProc && buildErr != nil {
		t.Fatal(buildErr)
	}
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano() % 1_000_000)
	}
	t.Logf("scenario %s, mode %s, scale %s, seed %d; replay: go test ./testnet -run '%s' -testnet.seed %d -testnet.scale %s",
		name, mode, *scaleFlag, seed, t.Name(), seed, *scaleFlag)
	sc, err := Load(name, Scale(*scaleFlag))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Mode, cfg.Seed, cfg.Binary, cfg.Logger = mode, seed, binary, testLogger(t)
	if sc.upgrades() && mode == Process {
		cfg.OldBinary, cfg.Binary = releaseBinaries(t)
	}
	cfg.Wait = 90 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	if *dirFlag != "" {
		cfg.Dir = filepath.Join(*dirFlag, strings.ReplaceAll(t.Name(), "/", "-")+fmt.Sprintf("-%d", seed))
		t.Logf("run directory %s (kept)", cfg.Dir)
	}
	if testing.Verbose() {
		cfg.Progress = testWriter{t}
	}
	rep, err := Run(t.Context(), sc, cfg)
	if errors.Is(err, ErrNoNetns) {
		t.Skipf("netns mode unavailable here: %v", err)
	}
	if errors.Is(err, ErrNoPower) {
		t.Skipf("skipped: %v", err)
	}
	if errors.Is(err, ErrNoUpgrade) && mode != Process {
		t.Skipf("skipped: %v", err)
	}
	if errors.Is(err, ErrNoOutbox) && mode != InProc {
		t.Skipf("skipped: %v", err)
	}
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	var b strings.Builder
	rep.WriteText(&b)
	if !rep.OK {
		t.Fatalf("seed %d: invariants broken:%s", seed, b.String())
	}
	t.Log(b.String())
	return rep
}

// TestInproc runs every built-in scenario in process. The crash
// scenario runs on a store whose first till holds a history of
// historySales sales: every till and HQ take it over, every invariant
// holds, and the report gives each till's start times (checkHistory;
// the crash scenario once, not again for the history: 45 to 60 s of CI
// under -race).
func TestInproc(t *testing.T) {
	for _, name := range Builtins() {
		t.Run(name, func(t *testing.T) {
			var opts []func(*Config)
			if name == "crash" {
				opts = append(opts, func(c *Config) { c.History = historySales })
			}
			rep := runScenario(t, name, InProc, opts...)
			checkFigures(t, name, rep)
			if name == "crash" {
				checkHistory(t, rep, historySales)
			}
		})
	}
}

// historySales is the history TestInproc's crash scenario starts with.
const historySales = 3000

// checkHistory asserts every till and HQ took over a history of n sales
// and the report gives each till's start times.
func checkHistory(t *testing.T, rep *Report, n int) {
	t.Helper()
	if rep.HQEvents < uint64(n) || rep.Events < uint64(n) || rep.History != n {
		t.Fatalf("HQ holds %d events, the ledgers %d, history %d: want at least the %d of the history", rep.HQEvents, rep.Events, rep.History, n)
	}
	if len(rep.TillFigures) < rep.Tills {
		t.Fatalf("%d till figures for %d tills", len(rep.TillFigures), rep.Tills)
	}
	for _, f := range rep.TillFigures {
		if f.Starts == 0 || f.FirstStartMS <= 0 || f.MaxStartMS < f.FirstStartMS {
			t.Fatalf("till figure %+v", f)
		}
	}
}

// checkFigures asserts what each scenario is for actually happened.
func checkFigures(t *testing.T, name string, rep *Report) {
	t.Helper()
	if rep.Acked == 0 || rep.Events < uint64(rep.Acked) || rep.SignaturesOK == 0 {
		t.Errorf("%s: acknowledged %d, events %d, signatures %d", name, rep.Acked, rep.Events, rep.SignaturesOK)
	}
	if name != "power-cut" && name != "mesh" && rep.HQEvents != rep.Events {
		t.Errorf("%s: HQ holds %d of %d events", name, rep.HQEvents, rep.Events)
	}
	switch name {
	case "outage", "skew", "stores":
		if len(rep.Catchups) == 0 {
			t.Errorf("%s: no catch-up after the heal was measured", name)
		}
		if name == "stores" && (rep.TransfersReceived == 0 || rep.Transfers <= rep.TransfersReceived) {
			t.Errorf("stores: %d transfers sent, %d received; want some received and some left open", rep.Transfers, rep.TransfersReceived)
		}
	case "mesh":
		if len(rep.Catchups) == 0 || rep.PropagationSamples == 0 || rep.PropagationP50MS <= 0 {
			t.Errorf("mesh: %d catch-ups, %d propagation samples (p50 %.2f ms)", len(rep.Catchups), rep.PropagationSamples, rep.PropagationP50MS)
		}
	case "steady":
		// Every sale is sampled in process; one in 8 over HTTP.
		want := rep.Sales / 2
		if rep.Mode != string(InProc) {
			want = rep.Sales / 16
		}
		if rep.PropagationSamples < want || rep.PropagationP50MS <= 0 {
			t.Errorf("steady: %d propagation samples for %d sales", rep.PropagationSamples, rep.Sales)
		}
	case "power-cut":
		sc, _ := Load(name, Scale(*scaleFlag))
		cuts := 0
		for _, st := range sc.Steps {
			if st.Op == OpPowerCut {
				cuts += st.N
			}
		}
		if rep.PowerCuts != cuts || rep.SellAgainSamples != cuts*rep.Tills || rep.FailedStarts != 0 {
			t.Errorf("power-cut: %d cuts (want %d), %d sell-again samples (want %d), %d failed starts",
				rep.PowerCuts, cuts, rep.SellAgainSamples, cuts*rep.Tills, rep.FailedStarts)
		}
		t.Logf("power-cut: %d cuts, every till sold again after p50 %.0f ms, max %.0f ms", rep.PowerCuts, rep.SellAgainP50MS, rep.SellAgainMaxMS)
	case "rolling-upgrade":
		sc, _ := Load(name, Scale(*scaleFlag))
		want := 0
		for _, st := range sc.Steps {
			if st.Op == OpNewKind {
				want += st.N * len(st.Tills)
			}
		}
		if rep.Upgrades != rep.Tills || rep.NewKindEvents != want || rep.NewerWarnings == 0 {
			t.Errorf("rolling-upgrade: %d upgrades (want %d), %d new-kind events (want %d), %d warnings seen on previous-release tills",
				rep.Upgrades, rep.Tills, rep.NewKindEvents, want, rep.NewerWarnings)
		}
	case "wipe":
		if rep.Enrolled != rep.Tills+2 {
			t.Errorf("wipe: %d tills enrolled, want %d (two re-enrolments)", rep.Enrolled, rep.Tills+2)
		}
	}
}

// Every built-in scenario in process mode: real SIGKILL, real processes,
// RSS per till.
func TestProcess(t *testing.T) {
	for _, name := range Builtins() {
		t.Run(name, func(t *testing.T) {
			rep := runScenario(t, name, Process)
			checkFigures(t, name, rep)
			if rep.MaxRSSMB <= 0 {
				t.Errorf("no till RSS measured")
			}
		})
	}
}

// outage with every till in its own network namespace, peers found by
// mDNS only, the partition a link taken down.
func TestNetns(t *testing.T) {
	rep := runScenario(t, "outage", Netns)
	checkFigures(t, "outage", rep)
}

// TestChecksCatchFaults damages a converged store behind the tills' backs
// and requires the checks to say so: a stock counter off by one, an
// acknowledged event that is not in any ledger, an idempotency key
// acknowledged as two events.
func TestChecksCatchFaults(t *testing.T) {
	sc, err := Parse("faults", strings.NewReader("tills 2\nproducts 20\nhq on\nsell 30\nwait converged\n"), Small)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Logger, cfg.Wait = testLogger(t), time.Minute
	ctx := t.Context()
	h, err := newHarness(ctx, sc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	for _, s := range h.allSlots() {
		if err := h.start(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.waitReady(ctx, h.allSlots()); err != nil {
		t.Fatal(err)
	}
	h.prop = newPropagation(h)
	for _, st := range sc.Steps {
		if _, err := h.step(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.wait(ctx, Step{Op: OpWait, Arg: "hq"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := h.check(ctx, true); len(r.violations) > 0 || !r.converged || r.events == 0 {
		t.Fatalf("clean store: %+v", r)
	}

	// An event in t2's ledger, validly signed but by a till the store
	// never enrolled, whose stock movement no counter ever saw.
	s2 := h.stores[0].slots[1]
	th, inc, _ := s2.current()
	n := th.node()
	head := n.DB().Vector()[inc.id]
	rogue := ledgertest.NewTill(h.stores[0].file.ID, 99, 99)
	ev := rogue.MustNext(&ledger.StockReceive{Lines: []ledger.StockLine{{SKU: h.catalog[3].SKU, Qty: 7}}, Staff: "x"}, time.Now().UnixMilli())
	if _, err := n.DB().Insert(ctx, []*ledger.Event{ev}); err != nil {
		t.Fatal(err)
	}
	// An acknowledgement for an event no ledger holds, and a key
	// acknowledged twice as different events.
	h.acks.add(&ack{store: s2.st, slot: s2, inc: inc, kind: ledger.KindSale, key: "phantom", info: ackInfo{Seq: head + 5, Receipt: "x"}})
	first := h.acks.all()[1]
	h.acks.add(&ack{store: first.store, slot: first.slot, inc: first.inc, kind: first.kind, key: first.key, info: ackInfo{Seq: first.info.Seq + 1}})

	// The damage never converges: a check that waited for it (as it
	// waits for a write made just after a wait converged) would wait
	// for nothing.
	h.checkWait = 0
	r := h.check(ctx, true)
	if r.converged {
		t.Errorf("a till holding events its peers refuse went unnoticed: the store counts as converged")
	}
	if r.mismatches == 0 {
		t.Errorf("stock counters that differ from the ledger went unnoticed: %v", r.violations)
	}
	if r.receiptsOK {
		t.Errorf("events of a till the store never enrolled went unnoticed: %v", r.violations)
	}
	if r.lost == 0 {
		t.Errorf("an acknowledged event missing from every ledger went unnoticed: %v", r.violations)
	}
	if r.duplicated == 0 {
		t.Errorf("a key acknowledged as two events went unnoticed: %v", r.violations)
	}
	t.Logf("found, as they should: %s", strings.Join(r.violations, "; "))
}

func TestGate(t *testing.T) {
	hq := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hq") })
	g := newGate(hq)
	srv := httptest.NewServer(g)
	defer srv.Close()
	var store ledger.StoreID
	store[0] = 7
	var till ledger.TillID
	till[0] = 9
	get := func(path string, auth bool) error {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if auth {
			req.Header.Set("Authorization", "Tillmesh-Ed25519 till="+till.String()+",ts=1,len=0,body="+strings.Repeat("0", 64)+",sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !bytes.Equal(b, []byte("hq")) {
			return fmt.Errorf("answer %s %q", resp.Status, b)
		}
		return nil
	}
	path := "/v1/stores/" + store.String() + "/vector"
	for _, tt := range []struct {
		name    string
		set     func()
		path    string
		auth    bool
		through bool
	}{
		{"open", func() {}, path, true, true},
		{"store down", func() { g.setStore(store, true) }, path, true, false},
		{"other store up", func() {}, "/v1/stores/" + ledger.StoreID{1}.String() + "/vector", false, true},
		{"store up", func() { g.setStore(store, false) }, path, true, true},
		{"till cut", func() { g.setTill(till, true) }, path, true, false},
		{"other tills pass", func() {}, path, false, true},
		{"till back", func() { g.setTill(till, false) }, path, true, true},
		{"all down", func() { g.setAll(true) }, "/v1/health", false, false},
		{"all up", func() { g.setAll(false) }, "/v1/health", false, true},
	} {
		tt.set()
		err := get(tt.path, tt.auth)
		if (err == nil) != tt.through {
			t.Errorf("%s: err %v, want through=%v", tt.name, err, tt.through)
		}
	}
}
