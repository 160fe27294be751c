package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/testnet"
	"github.com/tillmesh/tillmesh/ui"
)

// benchNewcomer starts the history's till as a process and, twice, a
// till newly enrolled with an empty data directory that knows it as a
// static peer: once taking the inventory as a snapshot, once walking the
// DAG (--inventory-snapshot-wait 0; not with --no-walk). Each till's
// log goes to a file in dir (till1.log, newcomer-<how>.log). For each it prints the time until
// the newcomer's first sale over the API succeeds, until its stock (GET
// /api/stock) equals the history till's, and its peak RSS.
func benchNewcomer(ctx context.Context, c *cli.Context, dir, storeDir, tillDir string, products []crdt.Product) error {
	w := c.App.Writer
	self, err := os.Executable()
	if err != nil {
		return err
	}
	p2pPort, err := testnet.FreePort()
	if err != nil {
		return err
	}
	httpPort, err := testnet.FreePort()
	if err != nil {
		return err
	}
	t1Log, err := os.Create(filepath.Join(dir, "till1.log"))
	if err != nil {
		return err
	}
	defer t1Log.Close()
	t1 := exec.CommandContext(ctx, self, "--log-level", "info", "till", "--data", tillDir,
		"--http", "127.0.0.1:"+strconv.Itoa(httpPort), "--listen", "/ip4/127.0.0.1/tcp/"+strconv.Itoa(p2pPort), "--no-mdns")
	t1.Stderr, t1.Stdout = t1Log, t1Log
	if err := t1.Start(); err != nil {
		return err
	}
	defer func() { _ = t1.Process.Signal(syscall.SIGTERM); _ = t1.Wait() }()
	url1 := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	var st ui.Status
	if err := poll(ctx, 10*time.Minute, func() bool { return getJSON(url1+"/api/status", &st) == nil && st.Till != "" }); err != nil {
		return fmt.Errorf("history till did not start: %w", err)
	}
	peerAddr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", p2pPort, st.Till)
	fmt.Fprintf(w, "history till up: %d inventory heads, height %s\n", len(st.CRDTHeads), "(see its log)")

	waits := []string{c.String("newcomer-wait"), "0s"}
	if c.Bool("no-walk") {
		waits = waits[:1]
	}
	for _, wait := range waits {
		how := "snapshot"
		if wait == "0s" {
			how = "walk"
		}
		ncDir := filepath.Join(dir, "newcomer-"+how)
		if err := os.RemoveAll(ncDir); err != nil {
			return err
		}
		number, err := nextTillNumber(storeDir)
		if err != nil {
			return err
		}
		if _, err := pki.Enroll(storeDir, ncDir, number, "Newcomer", time.Now()); err != nil {
			return err
		}
		port, err := testnet.FreePort()
		if err != nil {
			return err
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		started := time.Now()
		logf, err := os.Create(ncDir + ".log")
		if err != nil {
			return err
		}
		defer logf.Close()
		nc := exec.CommandContext(ctx, self, "--log-level", "info", "till", "--data", ncDir,
			"--http", "127.0.0.1:"+strconv.Itoa(port), "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns",
			"--peer", peerAddr, "--inventory-snapshot-wait", wait)
		nc.Stderr, nc.Stdout = logf, logf
		if err := nc.Start(); err != nil {
			return err
		}
		stop := func() { _ = nc.Process.Signal(syscall.SIGTERM); _ = nc.Wait() }
		if err := poll(ctx, 10*time.Minute, func() bool { return getJSON(url+"/api/status", &ui.Status{}) == nil }); err != nil {
			stop()
			return fmt.Errorf("newcomer did not start: %w", err)
		}
		api, err := login(url, "1", "1234")
		if err != nil {
			stop()
			return fmt.Errorf("newcomer (%s): log in: %w", how, err)
		}
		err = api.post("/api/sales", fmt.Sprintf(`{"idempotency_key":"nc%d","lines":[{"sku":%q,"qty":1}],"tenders":[{"kind":"cash","amount":100000}]}`,
			started.UnixNano(), products[0].SKU))
		if err != nil {
			stop()
			return fmt.Errorf("newcomer (%s): first sale: %w", how, err)
		}
		canSell := time.Since(started)
		exact := time.Duration(0)
		err = poll(ctx, 15*time.Minute, func() bool {
			a, err1 := getBody(url1 + "/api/stock")
			b, err2 := getBody(url + "/api/stock")
			return err1 == nil && err2 == nil && bytes.Equal(a, b)
		})
		if err == nil {
			exact = time.Since(started)
		}
		_, hwm := testnet.ProcMem(nc.Process.Pid)
		if err != nil {
			fmt.Fprintf(w, "newcomer (%s): can sell after %v; stock NOT exact after %v; peak RSS %d MB\n",
				how, canSell.Round(time.Millisecond), time.Since(started).Round(time.Second), hwm>>10)
		} else {
			fmt.Fprintf(w, "newcomer (%s): can sell after %v; stock exact after %v; peak RSS %d MB\n",
				how, canSell.Round(time.Millisecond), exact.Round(time.Millisecond), hwm>>10)
		}
		stop()
	}
	return nil
}

// nextTillNumber returns a till number above every one enrolled in the
// store at storeDir (a number is never given twice, and --reuse runs
// the newcomers again).
func nextTillNumber(storeDir string) (uint32, error) {
	b, err := os.ReadFile(filepath.Join(storeDir, pki.EnrolledFileName))
	if err != nil {
		return 0, err
	}
	var reg []pki.Enrolled
	if err := json.Unmarshal(b, &reg); err != nil {
		return 0, fmt.Errorf("%s: %w", pki.EnrolledFileName, err)
	}
	n := uint32(9)
	for _, e := range reg {
		n = max(n, e.Number)
	}
	return n + 1, nil
}

func getBody(url string) ([]byte, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}
