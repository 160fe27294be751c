package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/testnet"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure the figures BENCHMARKS.md records",
		Subcommands: []*cli.Command{{
			Name:  "mesh",
			Usage: "live propagation, catch-up after a partition, and a till process's RSS (testnet scenario mesh)",
			Description: "Runs testnet's mesh scenario (`tillmesh testnet show mesh`): a store of three\n" +
				"tills on this machine, by default each a `tillmesh till` process of this binary\n" +
				"selling over its HTTP API. Measures (1) from a sale's acknowledgement until every\n" +
				"other till's ledger holds it, over --sales sales; (2) with t3 cut off while t1 and\n" +
				"t3 sell --catchup sales each, the time from the heal until every till holds every\n" +
				"event and stock agrees everywhere; (3) the tills' peak RSS.",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "sales", Usage: "sales for the propagation figure (default: the scenario's, 1000)"},
				&cli.IntFlag{Name: "catchup", Usage: "sales on each side of the partition (default: the scenario's, 5000)"},
				&cli.IntFlag{Name: "products", Usage: "catalog size (default: the scenario's, 50)"},
				&cli.StringFlag{Name: "mode", Value: "process", Usage: "process (RSS per till; propagation polled every 10 ms) or inproc (polled every 1 ms)"},
				&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the workload"},
				&cli.BoolFlag{Name: "json", Usage: "print testnet's report as one JSON object"},
				&cli.StringFlag{Name: "dir", Usage: "work directory, kept afterwards (default: a temporary one, removed)"},
			},
			Action: benchMesh,
		}, benchHistoryCommand(), benchCatalogCommand(), benchChainCommand()},
	}
}

// benchMesh runs testnet's mesh scenario (testnet/scenarios/mesh.txt)
// and prints its report; --sales, --catchup and --products replace the
// scenario's sizes.
func benchMesh(c *cli.Context) error {
	sc, err := testnet.Load("mesh", testnet.Full)
	if err != nil {
		return err
	}
	var sells []*testnet.Step
	for i := range sc.Steps {
		if sc.Steps[i].Op == testnet.OpSell {
			sells = append(sells, &sc.Steps[i])
		}
	}
	if len(sells) != 2 {
		return fmt.Errorf("bench mesh: the mesh scenario has %d sell steps, want 2 (propagation, partition)", len(sells))
	}
	if c.IsSet("sales") {
		sells[0].N = c.Int("sales")
	}
	if c.IsSet("catchup") {
		sells[1].N = 2 * c.Int("catchup")
	}
	if c.IsSet("products") {
		sc.Products = c.Int("products")
	}
	mode, err := testnet.ParseMode(c.String("mode"))
	if err != nil {
		return fmt.Errorf("--mode: %w", err)
	}
	cfg := testnet.DefaultConfig()
	cfg.Mode, cfg.Dir, cfg.Seed = mode, c.String("dir"), c.Uint64("seed")
	if mode != testnet.InProc {
		if cfg.Binary, err = os.Executable(); err != nil {
			return err
		}
	}
	w := c.App.Writer
	if !c.Bool("json") {
		fmt.Fprintf(w, "machine: %d cores, %s/%s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, cpuModel())
	}
	rep, err := testnet.Run(c.Context, sc, cfg)
	if err != nil {
		return fmt.Errorf("bench mesh (seed %d): %w", cfg.Seed, err)
	}
	if c.Bool("json") {
		if err := json.NewEncoder(w).Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(w)
	}
	if !rep.OK {
		return fmt.Errorf("bench mesh (seed %d, mode %s): %d invariant violation(s)", cfg.Seed, mode, len(rep.Violations))
	}
	return nil
}

// memReportOf asks a `tillmesh till --mem-report path` process for its
// memory report (see memReport) and returns it.
func memReportOf(ctx context.Context, p *os.Process, path string) ([]byte, error) {
	_ = os.Remove(path)
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		return nil, err
	}
	var report []byte
	err := poll(ctx, 10*time.Second, func() bool {
		b, err := os.ReadFile(path)
		report = b
		return err == nil
	})
	return report, err
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := len(s) * p / 100
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i].Round(10 * time.Microsecond)
}

func poll(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func getJSON(url string, v any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// session is a logged-in client of one till's API.
type session struct {
	base, csrf string
	client     *http.Client
}

// login logs in as staff with pin; the staff list reaches the till over
// the CRDT, so it retries until the till knows the staff member.
func login(base, staff, pin string) (*session, error) {
	jar, _ := cookiejar.New(nil)
	s := &session{base: base, client: &http.Client{Timeout: 10 * time.Second, Jar: jar}}
	var last error
	for range 200 {
		resp, err := s.client.Post(base+"/api/login", "application/json",
			bytes.NewBufferString(fmt.Sprintf(`{"staff":%q,"pin":%q}`, staff, pin)))
		if err != nil {
			return nil, err
		}
		var out struct {
			CSRF  string `json:"csrf_token"`
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode == 200 && out.CSRF != "" {
			s.csrf = out.CSRF
			return s, nil
		}
		last = fmt.Errorf("%s: %s", resp.Status, out.Error)
		if resp.StatusCode == http.StatusTooManyRequests {
			time.Sleep(time.Second) // the till's own back-off
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil, last
}

func (s *session) post(path, body string) error {
	req, err := http.NewRequest("POST", s.base+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", s.csrf)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s %s", path, resp.Status, b)
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown cpu"
}
