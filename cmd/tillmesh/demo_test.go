package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
)

// TestDemoStopsOnSIGTERM: a service manager stops the demo with SIGTERM
// while it is still starting and seeding its tills; it must exit 0.
func TestDemoStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo as a process")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tillmesh") // TestMain runs main under this name
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "demo", "--data", filepath.Join(dir, "demo"), "--tills", "3", "--rate", "0", "--port-base", fmt.Sprint(base))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/health", base))
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the demo's HQ never answered: %v\n%s", err, errb.String())
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) || err != nil {
			t.Fatalf("demo stopped by SIGTERM: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the demo did not stop within 30 s of SIGTERM")
	}
	if !bytes.Contains(out.Bytes(), []byte("stopping; data kept in")) {
		t.Errorf("stdout does not say it stopped:\n%s", out.String())
	}
}

// TestDemoTypedCommands: `fiscal off` and `fiscal on` typed at the demo
// take the simulated fiscal service down and back; `hq off` and `hq on`
// stop the demo's HQ (it no longer answers) and start it again (it
// answers); anything else it does not know names the commands.
func TestDemoTypedCommands(t *testing.T) {
	s := fiscalsim.NewSim()
	var out bytes.Buffer
	sw := fiscalSwitch(&out, s)
	hqSwitch(t.Context(), strings.NewReader("fiscal off\n"), &out, nil, sw)
	if !s.Faults().Down {
		t.Fatalf("after `fiscal off` the service is up; printed %q", out.String())
	}
	hqSwitch(t.Context(), strings.NewReader("  fiscal on  \nwhat\n"), &out, nil, sw)
	if s.Faults().Down {
		t.Fatalf("after `fiscal on` the service is down; printed %q", out.String())
	}

	dir := t.TempDir()
	store, _, err := demoStore(dir, 1, "Typed")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := startDemoHQ(t.Context(), filepath.Join(dir, "hq"), addr, store, "USD", 1, log)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	// health polls HQ until it answers as want says (up: 200; down: no
	// connection).
	health := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/v1/health")
			up := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				resp.Body.Close()
			}
			if up == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("HQ at %s up %v, want %v (%v); printed %q", addr, up, want, err, out.String())
			}
			time.Sleep(10 * time.Millisecond) // poll interval
		}
	}
	health(true)
	hqSwitch(t.Context(), strings.NewReader("hq off\n"), &out, d, sw)
	health(false)
	hqSwitch(t.Context(), strings.NewReader("hq on\n"), &out, d, sw)
	health(true)
	for _, want := range []string{"the fiscal service is down", "the fiscal service is back", "commands: hq off, hq on, fiscal off, fiscal on",
		"HQ is offline: the tills keep selling", "HQ is back: the elected relay drains the backlog"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printed %q, want %q in it", out.String(), want)
		}
	}
}
