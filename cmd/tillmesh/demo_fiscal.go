package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
)

// demoTIN is the demo store's tax ID at the simulated fiscal service.
const demoTIN = "201234567"

// startDemoFiscal runs a fiscal service simulator for the demo on a free
// loopback port and points the store's fiscal registration at it (a
// store setting, so every till uses it). It returns the simulator and
// its URL; it stops when ctx ends.
func startDemoFiscal(ctx context.Context, t *node.Till) (*fiscalsim.Sim, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("fiscal simulator: %w", err)
	}
	s := fiscalsim.NewSim()
	s.Set(fiscalsim.Faults{Delay: fiscalsim.Duration(20e6)}) // 20 ms, like a service on the internet
	go s.Serve(ctx, ln)
	url := "http://" + ln.Addr().String()
	st, err := t.OutboxSettings(ctx)
	if err != nil {
		return nil, "", err
	}
	st.Fiscal.URL, st.Fiscal.TIN = url, demoTIN
	if err := t.PutOutboxSettings(ctx, st); err != nil {
		return nil, "", fmt.Errorf("point the store at the fiscal simulator: %w", err)
	}
	return s, url, nil
}

// fiscalSwitch handles `fiscal off` and `fiscal on` typed at the demo.
func fiscalSwitch(w io.Writer, s *fiscalsim.Sim) func(string) bool {
	return func(cmd string) bool {
		f := s.Faults()
		switch cmd {
		case "fiscal off":
			f.Down = true
			s.Set(f)
			fmt.Fprintln(w, "the fiscal service is down: the tills keep selling; receipts say \"fiscal registration pending\" and the backlog grows")
		case "fiscal on":
			f.Down = false
			s.Set(f)
			fmt.Fprintln(w, "the fiscal service is back: the sending till registers the backlog, each receipt once")
		default:
			return false
		}
		return true
	}
}
