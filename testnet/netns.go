package testnet

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// ErrNoNetns says the machine cannot give the harness network
// namespaces (not root, no `ip`, or the kernel refuses). The netns mode
// needs them; the others do not.
var ErrNoNetns = errors.New("testnet: network namespaces unavailable")

// lan is the netns mode's network: per store a bridge (the store's LAN
// switch) with HQ's gate on the bridge's address; per till a namespace
// with two veth pairs: eth0 on the bridge (the LAN, where libp2p listens
// and mDNS multicasts) and ctl0 to the root namespace only (the till's
// screen: its HTTP API, which the harness's cashiers use, so a till cut
// off from the LAN still sells). No routes join the two.
//
// Names carry a random tag so that runs do not collide: bridge tn<tag>b<s>,
// namespace tn<tag>-<till>, veths tn<tag>l<till> and tn<tag>c<till>.
type lan struct {
	tag            string
	lanNet, ctlNet int // second octets: LAN 10.lanNet.<store>.0/24, control 10.ctlNet.<till>.0/24

	mu      sync.Mutex
	bridges []string // every bridge made, for cleanup
	nss     []string
	veths   []string // root ends
	extra   int      // partition bridges made
}

// ipCmd runs ip with args.
func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// newLAN checks that namespaces work here and picks free subnets.
func newLAN() (*lan, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: the netns mode needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)", ErrNoNetns)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: no `ip` command (iproute2)", ErrNoNetns)
	}
	b := make([]byte, 2)
	rand.Read(b)
	l := &lan{tag: hex.EncodeToString(b)}
	probe := "tn" + l.tag + "-probe"
	if err := ipCmd("netns", "add", probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoNetns, err)
	}
	ipCmd("netns", "del", probe)
	// Two /16s of 10/8 that no interface here uses.
	used := map[int]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip4 := ipn.IP.To4(); ip4 != nil && ip4[0] == 10 {
					used[int(ip4[1])] = true
				}
			}
		}
	}
	start := 100 + int(b[0])%100
	for i := 0; i < 150 && l.ctlNet == 0; i++ {
		o := 100 + (start-100+i*2)%150
		if !used[o] && !used[o+1] {
			l.lanNet, l.ctlNet = o, o+1
		}
	}
	if l.ctlNet == 0 {
		return nil, fmt.Errorf("%w: no free 10.x.0.0/16 for the test LAN", ErrNoNetns)
	}
	return l, nil
}

func (l *lan) bridge(store int) string { return fmt.Sprintf("tn%sb%d", l.tag, store) }

// gateIP is HQ's address on a store's LAN.
func (l *lan) gateIP(store int) string { return fmt.Sprintf("10.%d.%d.1", l.lanNet, store) }

// addStore makes a store's bridge with the gate's address on it.
func (l *lan) addStore(store int) error {
	br := l.bridge(store)
	if err := ipCmd("link", "add", br, "type", "bridge", "mcast_snooping", "0"); err != nil {
		return err
	}
	l.mu.Lock()
	l.bridges = append(l.bridges, br)
	l.mu.Unlock()
	if err := ipCmd("addr", "add", l.gateIP(store)+"/24", "dev", br); err != nil {
		return err
	}
	return ipCmd("link", "set", br, "up")
}

// tillNet is one till's place on the LAN: its namespace and addresses.
type tillNet struct {
	ns    string
	lanIP string // eth0, on the store's bridge
	ctlIP string // ctl0, reached from the root namespace
	veth  string // root end of the LAN link
	store int
}

// addTill makes till g's namespace (g is unique across stores, 1..250)
// on store's bridge, as till i of the store.
func (l *lan) addTill(store, i, g int) (*tillNet, error) {
	if g > 250 || i > 240 {
		return nil, fmt.Errorf("netns mode: at most 250 tills, 240 per store")
	}
	t := &tillNet{ns: fmt.Sprintf("tn%s-%d", l.tag, g), lanIP: fmt.Sprintf("10.%d.%d.%d", l.lanNet, store, 10+i),
		ctlIP: fmt.Sprintf("10.%d.%d.2", l.ctlNet, g), veth: fmt.Sprintf("tn%sl%d", l.tag, g), store: store}
	ctlRoot := fmt.Sprintf("tn%sc%d", l.tag, g)
	if err := ipCmd("netns", "add", t.ns); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.nss = append(l.nss, t.ns)
	l.veths = append(l.veths, t.veth, ctlRoot)
	l.mu.Unlock()
	in := func(args ...string) error { return ipCmd(append([]string{"netns", "exec", t.ns, "ip"}, args...)...) }
	steps := [][]string{
		{"link", "add", t.veth, "type", "veth", "peer", "name", t.veth + "p"},
		{"link", "set", t.veth + "p", "netns", t.ns},
		{"link", "set", t.veth, "master", l.bridge(store)},
		{"link", "set", t.veth, "up"},
		{"link", "add", ctlRoot, "type", "veth", "peer", "name", ctlRoot + "p"},
		{"link", "set", ctlRoot + "p", "netns", t.ns},
		{"addr", "add", fmt.Sprintf("10.%d.%d.1/24", l.ctlNet, g), "dev", ctlRoot},
		{"link", "set", ctlRoot, "up"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			return nil, err
		}
	}
	for _, s := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "set", t.veth + "p", "name", "eth0"},
		{"addr", "add", t.lanIP + "/24", "dev", "eth0"},
		{"link", "set", "eth0", "up"},
		{"route", "add", "224.0.0.0/4", "dev", "eth0"},
		{"link", "set", ctlRoot + "p", "name", "ctl0"},
		{"addr", "add", t.ctlIP + "/24", "dev", "ctl0"},
		{"link", "set", "ctl0", "up"},
	} {
		if err := in(s...); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// cut applies a partition of one store: tills of side 0 stay on the
// store's bridge; a side of one till loses its link; a larger side gets
// a bridge of its own (a switch with no uplink).
func (l *lan) cut(store int, sides [][]*tillNet) error {
	for k, side := range sides {
		if k == 0 {
			continue
		}
		if len(side) == 1 {
			if err := ipCmd("link", "set", side[0].veth, "down"); err != nil {
				return err
			}
			continue
		}
		l.mu.Lock()
		l.extra++
		br := fmt.Sprintf("tn%sx%d", l.tag, l.extra)
		l.bridges = append(l.bridges, br)
		l.mu.Unlock()
		if err := ipCmd("link", "add", br, "type", "bridge", "mcast_snooping", "0"); err != nil {
			return err
		}
		if err := ipCmd("link", "set", br, "up"); err != nil {
			return err
		}
		for _, t := range side {
			if err := ipCmd("link", "set", t.veth, "master", br); err != nil {
				return err
			}
		}
	}
	return nil
}

// heal puts every till of a store back on its bridge with its link up.
func (l *lan) heal(store int, tills []*tillNet) error {
	for _, t := range tills {
		if err := ipCmd("link", "set", t.veth, "master", l.bridge(store)); err != nil {
			return err
		}
		if err := ipCmd("link", "set", t.veth, "up"); err != nil {
			return err
		}
	}
	return nil
}

// close removes every namespace and bridge (veths go with them).
func (l *lan) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, v := range l.veths {
		ipCmd("link", "del", v) // takes the namespace's end along; may be gone already
	}
	for _, ns := range l.nss {
		if err := ipCmd("netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	for _, br := range l.bridges {
		if err := ipCmd("link", "del", br); err != nil {
			errs = append(errs, err)
		}
	}
	l.nss, l.bridges, l.veths = nil, nil, nil
	return errors.Join(errs...)
}
