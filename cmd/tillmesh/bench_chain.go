package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

func benchChainCommand() *cli.Command {
	return &cli.Command{
		Name:  "chain",
		Usage: "HQ under a chain of stores: ingest rate, dashboard query p50/p99 at the end size, restart to serving",
		Description: "Makes --stores stores of --tills tills, each with --events-per-store signed events\n" +
			"(sales with refunds, voids, shifts, cash and deliveries) spread over one business\n" +
			"day of --day, then starts an HQ in this process (embedded Badger in --dir, or\n" +
			"PostgreSQL with --postgres: an empty database) and has one simulated relay per\n" +
			"store upload its store's events over HTTP as relays do, while a dashboard client\n" +
			"asks every dashboard query in turn (the chain report of all stores over all days\n" +
			"and over one day, one store's report, the CSV export, stock health, transfers),\n" +
			"pausing --query-every after each, and prints p50/p99/max per query. --speed 0\n" +
			"uploads as fast as HQ takes them (batches of --batch, at most --relays uploads at\n" +
			"once); --speed N uploads at N times the busy day's rate, each relay sending what is\n" +
			"due every second. After the upload it asks each dashboard query --queries times,\n" +
			"stops HQ as a crash would (no rollups written) and times the start until HQ\n" +
			"serves, then stops it gracefully and times that start too, and checks HQ's totals\n" +
			"of every store against the fold of the events made.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "stores", Value: 300, Usage: "stores in the chain"},
			&cli.IntFlag{Name: "events-per-store", Value: 10_000, Usage: "events each store makes in its day"},
			&cli.IntFlag{Name: "tills", Value: 3, Usage: "tills per store"},
			&cli.DurationFlag{Name: "day", Value: 12 * time.Hour, Usage: "length of the busy day the events are spread over"},
			&cli.Float64Flag{Name: "speed", Usage: "upload at this multiple of the busy day's rate (0: as fast as HQ takes)"},
			&cli.IntFlag{Name: "batch", Value: 1000, Usage: "events per upload at most (the relay's default)"},
			&cli.IntFlag{Name: "relays", Value: 64, Usage: "uploads in flight at once at most"},
			&cli.IntFlag{Name: "queries", Value: 200, Usage: "times each dashboard query is asked at the end size"},
			&cli.DurationFlag{Name: "query-every", Value: 250 * time.Millisecond, Usage: "pause after each dashboard query during the upload"},
			&cli.StringFlag{Name: "postgres", Usage: "PostgreSQL DSN of an empty database (default: embedded Badger in --dir)"},
			&cli.IntFlag{Name: "postgres-conns", Value: 8, Usage: "PostgreSQL connections to keep"},
			&cli.StringFlag{Name: "dir", Usage: "work directory (default: a temporary one, removed after)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the workload"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the dashboard queries at the end size to this file"},
			&cli.StringFlag{Name: "memprofile", Usage: "write a heap profile of this process (HQ and the generator's events) after the upload to `FILE`"},
			&cli.StringFlag{Name: "trace-slow", Usage: "keep an execution trace of the last seconds in memory during the upload and write it to `FILE`.1, .2, .3 when a dashboard query takes longer than --trace-over"},
			&cli.DurationFlag{Name: "trace-over", Value: 200 * time.Millisecond, Usage: "with --trace-slow: how long a query during the upload takes before the trace is written"},
		},
		Action: benchChain,
	}
}

// queryFigures are one dashboard query's answers during the upload.
type queryFigures struct {
	took, ages []time.Duration
	failed     int
	err        error
}

// chainStore is one simulated store: its keys, its events as signed and
// encoded, and the totals the fold of those events gives.
type chainStore struct {
	store *hqtest.Store
	raws  [][]byte
	want  ledger.Report
}

func benchChain(c *cli.Context) error {
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	w := c.App.Writer
	nStores, perStore, tills := c.Int("stores"), c.Int("events-per-store"), c.Int("tills")
	switch {
	case nStores < 1 || nStores > 65_535:
		return fmt.Errorf("--stores %d: want 1..65535", nStores)
	case perStore < tills || perStore > 10_000_000:
		return fmt.Errorf("--events-per-store %d: want at least one per till, at most 10,000,000", perStore)
	case tills < 1 || tills > 64:
		return fmt.Errorf("--tills %d: want 1..64", tills)
	case c.Int("batch") < 1 || c.Int("batch") > 10_000:
		return fmt.Errorf("--batch %d: want 1..10000", c.Int("batch"))
	case c.Int("relays") < 1:
		return fmt.Errorf("--relays %d: want at least 1", c.Int("relays"))
	case c.Float64("speed") < 0:
		return fmt.Errorf("--speed %g: want 0 (as fast as HQ takes) or more", c.Float64("speed"))
	case c.Duration("day") < time.Minute:
		return fmt.Errorf("--day %v: want at least a minute", c.Duration("day"))
	case c.Int("queries") < 1:
		return fmt.Errorf("--queries %d: want at least 1", c.Int("queries"))
	}
	dir := c.String("dir")
	if dir == "" {
		d, err := os.MkdirTemp("", "tillmesh-chain-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	backend := "badger " + filepath.Join(dir, "hq")
	if c.String("postgres") != "" {
		backend = "postgres"
	}
	fmt.Fprintf(w, "machine: %d cores, %s, load average %s\n", runtime.NumCPU(), cpuModel(), loadAverage())
	fmt.Fprintf(w, "chain: %d stores x %d tills x %d events = %d events over a %v day, hq storage %s\n",
		nStores, tills, perStore, nStores*perStore, c.Duration("day"), backend)

	t0 := time.Now()
	day0 := chainDay0(time.Now()) // once: a run may cross midnight
	chain, held := makeChain(nStores, tills, perStore, day0, c.Duration("day"), c.Uint64("seed"))
	total := nStores * perStore
	el := time.Since(t0)
	fmt.Fprintf(w, "generate: %d signed events in %v (%.0f events/s), %d MB encoded\n",
		total, el.Round(time.Millisecond), float64(total)/el.Seconds(), held>>20)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() (hq.Storage, error) {
		if dsn := c.String("postgres"); dsn != "" {
			return hq.OpenPostgres(ctx, dsn, c.Int("postgres-conns"))
		}
		return hq.OpenBadger(filepath.Join(dir, "hq"), quiet)
	}
	run, err := startBenchHQ(ctx, open, quiet)
	if err != nil {
		return err
	}
	defer func() {
		if run != nil {
			run.crash()
		}
	}()
	if recs, err := run.st.Stores(ctx); err != nil {
		return err
	} else if len(recs) > 0 {
		return fmt.Errorf("hq storage holds %d stores already: give an empty database or directory", len(recs))
	}
	pw := randomHex(12)
	if err := run.h.SetPassword(ctx, "bench", pw); err != nil {
		return err
	}
	for _, cs := range chain {
		if err := run.h.RegisterStore(ctx, cs.store.ID, cs.store.Name, cs.store.CAPublic()); err != nil {
			return err
		}
	}
	dash, err := dashLogin(ctx, run.base, "bench", pw)
	if err != nil {
		return err
	}

	// The dashboard's queries: asked in turn during the upload, then each
	// --queries times at the end size.
	one := chain[0].store.ID.String()
	day := time.UnixMilli(day0).UTC().Format(time.DateOnly)
	queries := []struct{ name, path string }{
		{"report, all stores, all days", "/hq/api/report?store=all&top=20"},
		{"report, all stores, one day", "/hq/api/report?store=all&from=" + day + "&to=" + day + "&top=20"},
		{"report, one store", "/hq/api/report?store=" + one + "&top=20"},
		{"report csv, all stores", "/hq/api/report.csv?store=all"},
		{"stock health, all stores", "/hq/api/stock/health?store=all"},
		{"transfers", "/hq/api/transfers"},
	}

	// Upload every store's day while a dashboard client asks every query
	// in turn, pausing --query-every after each.
	tracer, err := startSlowTracer(c.String("trace-slow"), c.Duration("trace-over"), 3)
	if err != nil {
		return err
	}
	rt0 := readRuntime()
	qctx, stopQueries := context.WithCancel(ctx)
	during := make([]queryFigures, len(queries))
	qdone := make(chan struct{})
	go func() {
		defer close(qdone)
		for i := 0; qctx.Err() == nil; i = (i + 1) % len(queries) {
			d, age, err := dash.getAge(qctx, queries[i].path)
			switch {
			case qctx.Err() != nil:
				return
			case err != nil:
				during[i].failed++ // a timeout is a figure too
				during[i].err = err
			default:
				during[i].took = append(during[i].took, d)
				if err := tracer.observe(d, queries[i].name); err != nil {
					during[i].failed++
					during[i].err = err
				}
				if age >= 0 {
					during[i].ages = append(during[i].ages, age)
				}
			}
			select {
			case <-qctx.Done():
			case <-time.After(c.Duration("query-every")):
			}
		}
	}()
	busy := float64(total) / c.Duration("day").Seconds()
	up, err := uploadChain(ctx, run.base, chain, c.Int("batch"), c.Int("relays"), c.Float64("speed"), c.Duration("day"))
	stopQueries()
	<-qdone
	rt := readRuntime().since(rt0)
	traces := tracer.stop()
	if err != nil {
		return err
	}
	rate := float64(up.events) / up.took.Seconds()
	// Paced relays send no faster than asked: a paced run shows whether
	// HQ kept up with the pace (2% slack for the last second's batch),
	// and meets the 10x target when that pace was 10x or more.
	speed := c.Float64("speed")
	verdict := "met"
	switch {
	case speed > 0 && rate < 0.98*speed*busy:
		verdict = fmt.Sprintf("MISSED: fell behind the %gx asked", speed)
	case speed > 0 && speed < 10:
		verdict = fmt.Sprintf("not measured: paced at %gx", speed)
	case speed == 0 && rate < 10*busy:
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "ingest: %d events in %d uploads in %v = %.0f events/s; busy day %.1f events/s, target 10x = %.1f events/s: %s (%.1fx)\n",
		up.events, up.uploads, up.took.Round(time.Millisecond), rate, busy, 10*busy, verdict, rate/busy)
	fmt.Fprintf(w, "upload latency: p50 %v p99 %v (batches of up to %d, %d in flight at most)\n",
		pct(up.latency, 50), pct(up.latency, 99), c.Int("batch"), c.Int("relays"))
	fmt.Fprintf(w, "dashboard queries during the upload, each in turn with %v between (target p99 < 200ms; age: how long before the answer the chain report was known current):\n",
		c.Duration("query-every"))
	for i, q := range queries {
		f := during[i]
		if len(f.took) == 0 && f.failed == 0 {
			fmt.Fprintf(w, "  %-30s not asked: the upload ended first\n", q.name)
			continue
		}
		line := fmt.Sprintf("  %-30s", q.name)
		if len(f.took) > 0 {
			line += fmt.Sprintf(" p50 %9v  p99 %9v  max %9v  over %d", pct(f.took, 50), pct(f.took, 99), pct(f.took, 100), len(f.took))
		}
		if strings.Contains(q.path, "store=all") && len(f.ages) > 0 {
			line += fmt.Sprintf("  age p50 %v p99 %v max %v", pct(f.ages, 50), pct(f.ages, 99), pct(f.ages, 100))
		}
		if f.failed > 0 {
			line += fmt.Sprintf("  %d failed, the last with: %v", f.failed, f.err)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "runtime during the upload (HQ, relays and dashboard client share this process): %s\n", rt)
	for _, t := range traces {
		fmt.Fprintf(w, "execution trace of a slow query: %s (go tool trace)\n", t)
	}

	// How long after the upload the chain report served has every event.
	var wantSales int
	for _, cs := range chain {
		wantSales += cs.want.Sales
	}
	t1 := time.Now()
	var asked int
	err = poll(ctx, time.Minute, func() bool {
		asked++
		sales, err := dash.chainSales(ctx)
		return err == nil && sales == wantSales
	})
	if err != nil {
		return fmt.Errorf("the chain report did not reach the %d sales uploaded within a minute: %w", wantSales, err)
	}
	fmt.Fprintf(w, "chain report exact (%d sales) %v after the upload ended, at the %d. query\n", wantSales, time.Since(t1).Round(time.Millisecond), asked)
	if path := c.String("memprofile"); path != "" {
		if err := writeHeapProfile(path); err != nil {
			return err
		}
	}

	// The dashboard's queries at the end size, after the upload.
	if path := c.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(w, "dashboard queries after the upload at %d events, %d each (target p99 < 200ms; cpu: this process's CPU time per query, HQ and client, which a loaded machine does not inflate):\n", up.events, c.Int("queries"))
	chain0 := run.h.ChainStats()
	for _, q := range queries {
		var d, ages []time.Duration
		cpu0 := cpuTime()
		for range c.Int("queries") {
			took, age, err := dash.getAge(ctx, q.path)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			d = append(d, took)
			if age >= 0 {
				ages = append(ages, age)
			}
		}
		cpu := (cpuTime() - cpu0) / time.Duration(len(d))
		age := ""
		if strings.Contains(q.path, "store=all") && len(ages) > 0 {
			age = fmt.Sprintf("  age p50 %v p99 %v", pct(ages, 50), pct(ages, 99))
		}
		fmt.Fprintf(w, "  %-30s p50 %9v  p99 %9v  cpu %9v%s\n", q.name, pct(d, 50), pct(d, 99), cpu.Round(10*time.Microsecond), age)
	}
	chain1 := run.h.ChainStats()
	if plain, gz, err := dash.gzipSizes(ctx, "/hq/api/report?store=all&top=20"); err == nil {
		fmt.Fprintf(w, "chain report answer: %d KB of JSON, %d KB to a client that takes gzip (compressed once per computation)\n", plain>>10, gz>>10)
	}
	fmt.Fprintf(w, "chain reports computed: %d during the upload, %d in the queries above (%d refreshes found nothing moved)\n",
		chain0.Computed, chain1.Computed-chain0.Computed, chain1.Unchanged)

	// Restart after a crash (no rollups written at the stop), then after a
	// graceful stop.
	run.crash()
	for _, how := range []string{"after a crash", "after a graceful stop"} {
		t0 := time.Now()
		run, err = startBenchHQ(ctx, open, quiet)
		if err != nil {
			return fmt.Errorf("restart %s: %w", how, err)
		}
		took := time.Since(t0)
		s := run.h.Started()
		verdict := "met"
		if took >= 5*time.Second {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "restart %s: serving in %v (target < 5s: %s); %d stores, %d from their rollups, %d events folded above them\n",
			how, took.Round(time.Millisecond), verdict, s.Stores, s.FromRollup, s.Folded)
		if how == "after a crash" {
			if err := run.stop(); err != nil {
				return err
			}
		}
	}
	var wrong int
	for _, cs := range chain {
		got, ok := run.h.StoreReport(cs.store.ID)
		if !ok || !reflect.DeepEqual(got, cs.want) {
			wrong++
		}
	}
	if wrong > 0 {
		return fmt.Errorf("bench chain: HQ's totals of %d of %d stores differ from the fold of their events", wrong, len(chain))
	}
	fmt.Fprintf(w, "check: HQ's totals of all %d stores equal the fold of their events\n", len(chain))
	return nil
}

// chainDay0 is the start of the simulated business day: 07:00 UTC the
// day before now.
func chainDay0(now time.Time) int64 {
	y := now.UTC().Add(-24 * time.Hour).Truncate(24 * time.Hour)
	return y.Add(7 * time.Hour).UnixMilli()
}

// makeChain makes every store's keys and events, on every core.
func makeChain(stores, tills, perStore int, start int64, day time.Duration, seed uint64) ([]*chainStore, int) {
	chain := make([]*chainStore, stores)
	step := max(day.Milliseconds()/int64(perStore), 1)
	var held atomic.Int64
	hqtest.EachStore(stores, func(i int) error {
		s := hqtest.ChainStore(i, tills)
		wl := hqtest.NewWorkload(s, mrand.New(mrand.NewPCG(seed, uint64(i))))
		cs := &chainStore{store: s}
		for k := range perStore {
			raw := wl.Next(k%tills, start+int64(k)*step).Bytes()
			cs.raws = append(cs.raws, raw)
			held.Add(int64(len(raw)))
		}
		cs.want = wl.State.Fold().StoreReport()
		chain[i] = cs
		return nil
	})
	return chain, int(held.Load())
}

type uploadFigures struct {
	events, uploads int
	took            time.Duration
	latency         []time.Duration
}

// uploadChain has one relay per store upload its events to HQ at base:
// as fast as HQ takes them (speed 0), or at speed times the busy day's
// rate, each relay sending what is due once a second.
func uploadChain(ctx context.Context, base string, chain []*chainStore, batch, relays int, speed float64, day time.Duration) (uploadFigures, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: relays, MaxConnsPerHost: relays}}
	slots := make(chan struct{}, relays)
	var (
		mu   sync.Mutex
		fig  uploadFigures
		errs []error
	)
	t0 := time.Now()
	var wg sync.WaitGroup
	for _, cs := range chain {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := relayStore(ctx, base, hc, cs, batch, speed, day, t0, slots, func(n int, d time.Duration) {
				mu.Lock()
				fig.events += n
				fig.uploads++
				fig.latency = append(fig.latency, d)
				mu.Unlock()
			}); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("relay of %s: %w", cs.store.Name, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	fig.took = time.Since(t0)
	return fig, errors.Join(errs...)
}

func relayStore(ctx context.Context, base string, hc *http.Client, cs *chainStore, batch int, speed float64, day time.Duration,
	t0 time.Time, slots chan struct{}, done func(int, time.Duration)) error {
	cl, err := hqapi.NewClient(base, cs.store.ID, cs.store.Tills[0].Key, cs.store.Certs[0], hc, nil)
	if err != nil {
		return err
	}
	n := len(cs.raws)
	perSecond := float64(n) / day.Seconds() * speed
	for sent := 0; sent < n; {
		due := n
		if speed > 0 {
			due = min(n, int(time.Since(t0).Seconds()*perSecond))
			if due <= sent {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second):
				}
				continue
			}
		}
		end := min(due, sent+batch)
		u := &hqapi.Upload{Fence: 1, Events: cs.raws[sent:end]}
		if sent == 0 {
			u.Certs = cs.store.EncodedCerts()
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		t := time.Now()
		res, err := cl.Upload(ctx, u)
		d := time.Since(t)
		<-slots
		if err != nil {
			return err
		}
		if len(res.Rejected) > 0 || res.Accepted != end-sent {
			return fmt.Errorf("upload of events %d..%d: %d accepted, rejected %+v", sent, end, res.Accepted, res.Rejected)
		}
		done(res.Accepted, d)
		sent = end
	}
	return nil
}

// benchHQ is an HQ serving on a loopback port.
type benchHQ struct {
	st   hq.Storage
	h    *hq.HQ
	srv  *http.Server
	base string
	once sync.Once
}

// startBenchHQ opens storage, starts HQ and returns once it answers
// /v1/health over HTTP: the time a restart takes until relays are served.
func startBenchHQ(ctx context.Context, open func() (hq.Storage, error), log *slog.Logger) (*benchHQ, error) {
	st, err := open()
	if err != nil {
		return nil, err
	}
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger = st, log
	h, err := hq.New(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return nil, err
	}
	b := &benchHQ{st: st, h: h, srv: &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second}, base: "http://" + ln.Addr().String()}
	go b.srv.Serve(ln)
	err = poll(ctx, 30*time.Second, func() bool {
		resp, err := http.Get(b.base + hqapi.PathHealth)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		b.crash()
		return nil, fmt.Errorf("hq health: %w", err)
	}
	return b, nil
}

// crash stops serving and closes storage without writing rollups, as a
// killed process would leave it.
func (b *benchHQ) crash() {
	b.once.Do(func() {
		b.srv.Close()
		b.h.StopRefreshes() // a refresh reading storage as it closes would panic in Badger
		b.st.Close()
	})
}

// stop is a graceful stop: rollups written, then closed.
func (b *benchHQ) stop() error {
	b.srv.Close()
	err := b.h.WriteRollups(context.Background())
	b.crash()
	return err
}

// dashClient is a logged-in dashboard session.
type dashClient struct {
	base string
	hc   *http.Client
}

func dashLogin(ctx context.Context, base, user, password string) (*dashClient, error) {
	jar, _ := cookiejar.New(nil)
	// Answers are read uncompressed, so that the figures are HQ's work
	// and not this process inflating them (a browser does that on its
	// own machine); gzipSizes measures the compressed answer.
	d := &dashClient{base: base, hc: &http.Client{Jar: jar, Timeout: 2 * time.Minute,
		Transport: &http.Transport{DisableCompression: true}}}
	body, _ := json.Marshal(map[string]string{"user": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/hq/api/login", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dashboard login: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("dashboard login: %s %s", resp.Status, b)
	}
	return d, nil
}

// getAge is get, and the answer's age_ms (the report's: how long before
// the answer it was known current), -1 when it has none.
func (d *dashClient) getAge(ctx context.Context, path string) (time.Duration, time.Duration, error) {
	var tail tailWriter
	took, err := d.fetch(ctx, path, &tail)
	if err != nil {
		return 0, 0, err
	}
	s := string(tail.b)
	i := strings.LastIndex(s, `"age_ms":`)
	if i < 0 {
		return took, -1, nil
	}
	s = s[i+len(`"age_ms":`):]
	s = s[:strings.IndexAny(s+"}", ",}")]
	ms, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return took, -1, nil
	}
	return took, time.Duration(ms) * time.Millisecond, nil
}

// chainSales returns the sales of the chain report served now.
func (d *dashClient) chainSales(ctx context.Context) (int, error) {
	var buf bytes.Buffer
	if _, err := d.fetch(ctx, "/hq/api/report?store=all&top=20", &buf); err != nil {
		return 0, err
	}
	var rep struct {
		Total struct {
			Sales int `json:"sales"`
		} `json:"total"`
	}
	err := json.Unmarshal(buf.Bytes(), &rep)
	return rep.Total.Sales, err
}

// tailWriter keeps the last 128 bytes written.
type tailWriter struct{ b []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if n := len(t.b); n > 128 {
		t.b = append(t.b[:0], t.b[n-128:]...)
	}
	return len(p), nil
}

// get asks for path and reads the whole answer; it returns how long that
// took.
func (d *dashClient) get(ctx context.Context, path string) (time.Duration, error) {
	return d.fetch(ctx, path, io.Discard)
}

// fetch asks for path and copies the answer to out; it returns how long
// that took.
func (d *dashClient) fetch(ctx context.Context, path string, out io.Writer) (time.Duration, error) {
	return d.fetchAs(ctx, path, "", out)
}

// gzipSizes returns the bytes of path's answer as sent plain and as sent
// to a client that takes gzip.
func (d *dashClient) gzipSizes(ctx context.Context, path string) (plain, gz int64, err error) {
	var n [2]counter
	for i, enc := range []string{"", "gzip"} {
		if _, err := d.fetchAs(ctx, path, enc, &n[i]); err != nil {
			return 0, 0, err
		}
	}
	return int64(n[0]), int64(n[1]), nil
}

type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// fetchAs is fetch with an Accept-Encoding (none: empty).
func (d *dashClient) fetchAs(ctx context.Context, path, accept string, out io.Writer) (time.Duration, error) {
	t := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return 0, err
	}
	if accept != "" {
		req.Header.Set("Accept-Encoding", accept)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return time.Since(t), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// loadAverage is the machine's 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
