package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/node/pki"
)

// TestMain lets the test binary run as `tillmesh` inside the scripts, so
// `exec tillmesh ...` runs the real command line, flags and all.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"tillmesh": main})
}

// TestScript runs every script in testdata/script: the commands README
// shows, typed the way a person types them.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport":   cmdFreePort,
			"waiturl":    cmdWaitURL,
			"httpget":    cmdHTTPGet,
			"waitbody":   cmdWaitBody,
			"apipost":    cmdAPIPost,
			"waitlogin":  cmdWaitLogin,
			"peeraddr":   cmdPeerAddr,
			"simprinter": simPrinters{}.cmd,
		},
		RequireExplicitExec: true,
		// A machine with the package installed has /etc/tillmesh/*.conf,
		// which tillmesh till and hq read by default; scripts run without.
		Setup: func(env *testscript.Env) error {
			env.Setenv("TILLMESH_CONFIG", "")
			env.Setenv("TILLMESH_HQ_CONFIG", "")
			return nil
		},
	})
}

// scriptWait bounds every wait in a script. A stock change made within a
// gossip heartbeat of a till joining the mesh can miss that till and
// reach it only with the next rebroadcast of heads
// (crdt.Config.RebroadcastInterval, 30 s): the bound is that plus a
// margin for a loaded machine (TestScript/revoke met it under load).
const scriptWait = 45 * time.Second

// cmdFreePort sets each named variable to a TCP port free on loopback.
// With -run N it sets one variable VAR to the first of N consecutive free
// ports and VAR_1 ... VAR_<N-1> to the others (tillmesh demo's
// --port-base takes such a run).
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: freeport VAR... | freeport -run N VAR")
	}
	if args[0] == "-run" {
		if len(args) != 3 {
			ts.Fatalf("usage: freeport -run N VAR")
		}
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		for try := 0; try < 100; try++ {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			ts.Check(err)
			base := l.Addr().(*net.TCPAddr).Port
			ok := base+n < 65536
			for i := 1; ok && i < n; i++ {
				m, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
				if err != nil {
					ok = false
					break
				}
				m.Close()
			}
			l.Close()
			if ok {
				ts.Setenv(args[2], strconv.Itoa(base))
				for i := 1; i < n; i++ {
					ts.Setenv(fmt.Sprintf("%s_%d", args[2], i), strconv.Itoa(base+i))
				}
				return
			}
		}
		ts.Fatalf("freeport: no run of %d free ports", n)
	}
	for _, name := range args {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		ts.Setenv(name, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
		ts.Check(l.Close())
	}
}

// get fetches url once, returning the status and body.
func get(url string) (int, []byte, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitUntil calls f until it reports done or scriptWait passes.
func waitUntil(ts *testscript.TestScript, what string, f func() (done bool, last string)) {
	deadline := time.Now().Add(scriptWait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		done, last := f()
		if done {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s: not within %v (last: %s)", what, scriptWait, last)
		}
		<-tick.C
	}
}

// cmdWaitURL waits until a URL answers with a status below 500.
func cmdWaitURL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waiturl URL")
	}
	waitUntil(ts, "waiturl "+args[0], func() (bool, string) {
		code, _, err := get(args[0])
		if err != nil {
			return false, err.Error()
		}
		return code < 500, strconv.Itoa(code)
	})
}

// cmdHTTPGet fetches a URL and writes the body to the script's stdout; it
// fails on a status of 400 or above (or, negated, below 400).
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: httpget URL")
	}
	code, body, err := get(args[0])
	ts.Check(err)
	ts.Stdout().Write(body)
	if (code >= 400) != neg {
		ts.Fatalf("GET %s: status %d", args[0], code)
	}
}

// cmdWaitBody waits until GET URL answers with a body containing every
// given substring.
func cmdWaitBody(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: waitbody URL SUBSTRING...")
	}
	waitUntil(ts, "waitbody "+strings.Join(args, " "), func() (bool, string) {
		_, body, err := get(args[0])
		if err != nil {
			return false, err.Error()
		}
		for _, s := range args[1:] {
			if !bytes.Contains(body, []byte(s)) {
				return false, string(body)
			}
		}
		return true, ""
	})
	ts.Stdout().Write(nil)
}

// cmdAPIPost logs in at a till's API as a staff member and POSTs a JSON
// body, the way the till's pages do: apipost BASEURL STAFF PIN PATH JSON
// (@FILE sends a file's contents).
// The response body goes to stdout; a status of 400 or above fails
// (negated: succeeds).
func cmdAPIPost(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 5 {
		ts.Fatalf("usage: apipost BASEURL STAFF PIN PATH JSON")
	}
	base, staffID, pin, path, body := args[0], args[1], args[2], args[3], args[4]
	if name, ok := strings.CutPrefix(body, "@"); ok {
		body = ts.ReadFile(name)
	}
	jar, err := cookiejar.New(nil)
	ts.Check(err)
	c := &http.Client{Timeout: 10 * time.Second, Jar: jar}
	login, err := json.Marshal(map[string]string{"staff": staffID, "pin": pin})
	ts.Check(err)
	resp, err := c.Post(base+"/api/login", "application/json", bytes.NewReader(login))
	ts.Check(err)
	var sess struct {
		CSRF  string `json:"csrf_token"`
		Error string `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	ts.Check(err)
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("login as %s: %d %s", staffID, resp.StatusCode, sess.Error)
	}
	method := http.MethodPost
	if p, ok := strings.CutPrefix(path, "PUT:"); ok { // apipost ... PUT:/api/outbox/settings
		method, path = http.MethodPut, p
	}
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	ts.Check(err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", sess.CSRF)
	resp, err = c.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	ts.Check(err)
	ts.Stdout().Write(out)
	if (resp.StatusCode >= 400) != neg {
		ts.Fatalf("POST %s: status %d: %s", path, resp.StatusCode, out)
	}
}

// cmdWaitLogin waits until a staff member can log in at a till:
// waitlogin BASEURL STAFF PIN.
func cmdWaitLogin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitlogin BASEURL STAFF PIN")
	}
	body, err := json.Marshal(map[string]string{"staff": args[1], "pin": args[2]})
	ts.Check(err)
	c := &http.Client{Timeout: 5 * time.Second}
	waitUntil(ts, "waitlogin "+strings.Join(args, " "), func() (bool, string) {
		resp, err := c.Post(args[0]+"/api/login", "application/json", bytes.NewReader(body))
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s", resp.StatusCode, b)
	})
}

// cmdPeerAddr sets VAR to the loopback multiaddr of the till whose data
// directory is DIR listening on PORT (what `--peer` takes).
func cmdPeerAddr(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: peeraddr VAR DATADIR PORT")
	}
	path := filepath.Join(ts.MkAbs(args[1]), pki.TillKeyFileName)
	if _, err := os.Stat(path); err != nil {
		ts.Fatalf("peeraddr: %v", err)
	}
	key, err := pki.LoadOrCreateKey(path)
	ts.Check(err)
	id, err := p2p.PeerOf(ledger.TillOf(key))
	ts.Check(err)
	ts.Setenv(args[0], fmt.Sprintf("/ip4/127.0.0.1/tcp/%s/p2p/%s", args[2], id))
}

// simPrinters are simulated network printers (with a cash drawer) that
// scripts start with `simprinter start CONFIG`: the command writes a
// device configuration naming the printer to CONFIG, for `tillmesh hw
// test-print --config CONFIG`. `simprinter receipts CONFIG` prints what
// it printed; `simprinter drawer CONFIG` prints "open" or "closed".
type simPrinters struct{}

var simRunning sync.Map // absolute config path -> *sim.Printer

func (simPrinters) cmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: simprinter start|receipts|drawer CONFIG")
	}
	path := ts.MkAbs(args[1])
	switch args[0] {
	case "start":
		p := sim.NewPrinter(sim.PrinterConfig{})
		srv, err := sim.ListenTCP(p)
		ts.Check(err)
		ts.Defer(func() { srv.Close(); simRunning.Delete(path) })
		simRunning.Store(path, p)
		cfg := fmt.Sprintf(`{"devices": [{"name": "printer", "kind": "printer", "transport": "tcp", "host": %q, "drawer": {"pin": 2}}]}`, srv.Addr())
		ts.Check(os.WriteFile(path, []byte(cfg+"\n"), 0o644))
	case "receipts", "drawer":
		v, ok := simRunning.Load(path)
		if !ok {
			ts.Fatalf("no simulated printer for %s", args[1])
		}
		p := v.(*sim.Printer)
		if args[0] == "drawer" {
			state := "closed"
			if p.Drawer().IsOpen() {
				state = "open"
			}
			fmt.Fprintln(ts.Stdout(), state)
			return
		}
		for i, r := range p.Receipts() {
			fmt.Fprintf(ts.Stdout(), "---- receipt %d\n%s\n", i, r.Text())
		}
	default:
		ts.Fatalf("simprinter %s: want start, receipts or drawer", args[0])
	}
}
