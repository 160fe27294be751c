package p2p

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// netnsEnv marks the copy of the test binary that runs inside a fresh
// network namespace.
const netnsEnv = "TILLMESH_P2P_TEST_NETNS"

// inNetns runs the calling test again in a child process inside a new
// network namespace whose loopback carries multicast, so that mDNS works
// without touching the machine's network, and reports the child's result.
// It returns true in the child, where the test body should run.
func inNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) != "" {
		for _, args := range [][]string{
			{"link", "set", "lo", "up"},
			{"link", "set", "lo", "multicast", "on"},
			{"route", "add", "224.0.0.0/4", "dev", "lo"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Skipf("cannot enable multicast on loopback in the test's network namespace (ip %s: %v %s)",
					strings.Join(args, " "), err, bytes.TrimSpace(out))
			}
		}
		return true
	}
	if runtime.GOOS != "linux" {
		t.Skip("the mDNS test needs a Linux network namespace")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0],
		"-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Skipf("the kernel refused a network namespace for the mDNS test (needs root or CAP_SYS_ADMIN): %v", err)
	}
	err := cmd.Wait()
	t.Logf("in a new network namespace with multicast on lo:\n%s", out.Bytes())
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("mDNS test failed in its network namespace: %v", err)
	case err != nil:
		t.Fatal(err)
	case bytes.Contains(out.Bytes(), []byte("--- SKIP")):
		t.Skip("skipped in its network namespace (see log)")
	case !bytes.Contains(out.Bytes(), []byte("--- PASS: "+t.Name())):
		t.Fatal("the test did not run in its network namespace")
	}
	return false
}

func TestMDNSDiscovery(t *testing.T) {
	if !inNetns(t) {
		return
	}
	s := newTestStore(t)
	// A till of another store on the same LAN, advertising from the start.
	other := newTestStore(t)
	cfgX := other.config(t, 1)
	cfgX.MDNS = true
	x := runNode(t, cfgX)

	cfgA, cfgB := s.config(t, 1), s.config(t, 2)
	cfgA.MDNS, cfgB.MDNS = true, true
	a := runNode(t, cfgA)
	b := runNode(t, cfgB)
	start := time.Now()
	a.waitEvent(t, PeerAdmitted, b.ID())
	b.waitEvent(t, PeerAdmitted, a.ID())
	t.Logf("two tills with no static peers found each other over mDNS in %v", time.Since(start).Round(time.Millisecond))

	for _, n := range []*node{a, b} {
		if _, ok := n.peerInfo(x.ID()); ok {
			t.Errorf("%s took note of a till of another store", n.ID())
		}
	}
	if _, ok := x.peerInfo(a.ID()); ok {
		t.Errorf("the other store's till took note of a")
	}
}

func TestParseTXT(t *testing.T) {
	s := newTestStore(t)
	id, _ := PeerOf(s.enroll(t, newKey(t), 1).Till)
	hash := storeHash(s.id)
	addr := "/ip4/192.0.2.7/tcp/4001"
	tests := []struct {
		name   string
		fields []string
		ok     bool
	}{
		{"ours", []string{txtPeer + id.String(), txtStore + hash, txtAddr + addr, txtAddr + "/ip4/1.2.3.4/udp/1/quic-v1"}, true},
		{"other store", []string{txtPeer + id.String(), txtStore + storeHash(newTestStore(t).id), txtAddr + addr}, false},
		{"no store", []string{txtPeer + id.String(), txtAddr + addr}, false},
		{"no id", []string{txtStore + hash, txtAddr + addr}, false},
		{"bad id", []string{txtPeer + "nonsense", txtStore + hash}, false},
		{"garbage", []string{"", "=", "addr=/ip4"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotID, addrs, ok := parseTXT(tt.fields, hash)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if gotID != id || len(addrs) != 1 || !addrs[0].Equal(ma.StringCast(addr)) {
				t.Errorf("got %s %v, want %s [%s] (TCP addresses only)", gotID, addrs, id, addr)
			}
		})
	}
	if strings.Contains(hash, s.id.String()[:8]) || len(hash) != 16 {
		t.Errorf("store hash %q must be 16 hex digits and not reveal the store ID", hash)
	}
}
