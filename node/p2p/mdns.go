package p2p

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/miekg/dns"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/tillmesh/tillmesh/ledger"
)

// MDNSService is the mDNS service tills advertise and query.
const MDNSService = "_tillmesh._tcp"

// TXT record keys. A till's TXT record holds its peer ID, a hash of its
// store ID (the ID itself never goes on the wire) and its addresses.
const (
	txtPeer  = "id="
	txtStore = "store="
	txtAddr  = "addr="
)

// storeHash is what mDNS advertises instead of the store ID: enough to
// tell our store's tills from a neighbour's.
func storeHash(s ledger.StoreID) string {
	sum := sha256.Sum256(append([]byte("tillmesh mdns store\x00"), s[:]...))
	return hex.EncodeToString(sum[:8])
}

// mdnsService answers mDNS queries for this till and asks the LAN for
// other tills.
type mdnsService struct {
	h      *Host
	iface  *net.Interface
	zone   zone
	server *mdns.Server
	logger *slog.Logger
}

// zone serves the current advertisement; addresses can change while the
// server runs.
type zone struct {
	mu   sync.RWMutex
	svc  *mdns.MDNSService
	txts []string
}

// Records implements mdns.Zone.
func (z *zone) Records(q dns.Question) []dns.RR {
	z.mu.RLock()
	svc := z.svc
	z.mu.RUnlock()
	if svc == nil {
		return nil
	}
	return svc.Records(q)
}

// startMDNS starts answering queries. Querying starts with queryLoop.
func (h *Host) startMDNS() (*mdnsService, error) {
	m := &mdnsService{h: h, logger: h.log.With("mdns", MDNSService)}
	if name := h.cfg.MDNSInterface; name != "" {
		iface, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("mDNS interface %q: %w", name, err)
		}
		m.iface = iface
	}
	if err := m.advertise(); err != nil {
		return nil, err
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: &m.zone, Iface: m.iface, Logger: m.stdLogger()})
	if err != nil {
		return nil, fmt.Errorf("mDNS server: %w", err)
	}
	m.server = srv
	return m, nil
}

func (m *mdnsService) close() { _ = m.server.Shutdown() }

// stdLogger sends the mdns library's log lines to our logger at DEBUG:
// they are for programmers.
func (m *mdnsService) stdLogger() *log.Logger {
	return slog.NewLogLogger(m.logger.Handler(), slog.LevelDebug)
}

// advertise (re)builds the advertisement from the host's addresses if
// they changed.
func (m *mdnsService) advertise() error {
	addrs := advertisedAddrs(m.h.h.Addrs())
	if len(addrs) == 0 {
		return errors.New("mDNS: no TCP address to advertise")
	}
	txts := []string{txtPeer + m.h.self.String(), txtStore + m.h.storeHash}
	var ips []net.IP
	port := 0
	for _, a := range addrs {
		txts = append(txts, txtAddr+a.String())
		na, err := manet.ToNetAddr(a)
		ta, ok := na.(*net.TCPAddr)
		if err != nil || !ok {
			continue
		}
		if !slices.ContainsFunc(ips, ta.IP.Equal) {
			ips = append(ips, ta.IP)
		}
		if port == 0 {
			port = ta.Port
		}
	}
	m.zone.mu.RLock()
	same := slices.Equal(m.zone.txts, txts)
	m.zone.mu.RUnlock()
	if same {
		return nil
	}
	sum := sha256.Sum256([]byte(m.h.self))
	hostName := "tm-" + hex.EncodeToString(sum[:6]) + ".local."
	svc, err := mdns.NewMDNSService(m.h.self.String(), MDNSService, "local.", hostName, port, ips, txts)
	if err != nil {
		return fmt.Errorf("mDNS service: %w", err)
	}
	m.zone.mu.Lock()
	m.zone.svc, m.zone.txts = svc, txts
	m.zone.mu.Unlock()
	return nil
}

// advertisedAddrs picks the addresses worth advertising: TCP, and not
// loopback unless there is nothing else (a test on one machine).
func advertisedAddrs(all []ma.Multiaddr) []ma.Multiaddr {
	var lan, loop []ma.Multiaddr
	for _, a := range all {
		if !isTCP(a) {
			continue
		}
		if manet.IsIPLoopback(a) {
			loop = append(loop, a)
		} else {
			lan = append(lan, a)
		}
	}
	if len(lan) == 0 {
		lan = loop
	}
	return lan[:min(len(lan), 8)]
}

// queryLoop asks the LAN for tills every MDNSInterval until ctx ends.
func (m *mdnsService) queryLoop(ctx context.Context) {
	failing := false
	for {
		if err := m.advertise(); err != nil {
			m.logger.Debug("mDNS advertisement", "err", err)
		}
		err := m.query(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			m.logger.Warn("mDNS query failed; retrying", "err", err)
		case err == nil && failing:
			m.logger.Info("mDNS queries work again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-time.After(m.h.cfg.MDNSInterval):
		}
	}
}

// query sends one query and handles the answers that arrive within a
// second.
func (m *mdnsService) query(ctx context.Context) error {
	entries := make(chan *mdns.ServiceEntry, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range entries {
			m.found(e)
		}
	}()
	err := mdns.QueryContext(ctx, &mdns.QueryParam{
		Service:     MDNSService,
		Domain:      "local",
		Timeout:     time.Second,
		Interface:   m.iface,
		Entries:     entries,
		DisableIPv6: true,
		Logger:      m.stdLogger(),
	})
	close(entries) // QueryContext sends nothing after it returns
	<-done
	return err
}

// found adds a till of our store seen over mDNS to the dial set.
func (m *mdnsService) found(e *mdns.ServiceEntry) {
	id, addrs, ok := parseTXT(e.InfoFields, m.h.storeHash)
	if !ok || id == m.h.self {
		return
	}
	if len(addrs) == 0 && e.AddrV4 != nil && e.Port > 0 {
		if a, err := ma.NewMultiaddr("/ip4/" + e.AddrV4.String() + "/tcp/" + strconv.Itoa(e.Port)); err == nil {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return
	}
	m.h.discovered(id, addrs)
}

// parseTXT reads a TXT record; ok is false unless it names a till of the
// store with hash store.
func parseTXT(fields []string, store string) (id peer.ID, addrs []ma.Multiaddr, ok bool) {
	storeOK := false
	for _, f := range fields {
		switch {
		case strings.HasPrefix(f, txtPeer):
			p, err := peer.Decode(strings.TrimPrefix(f, txtPeer))
			if err != nil {
				return "", nil, false
			}
			id = p
		case strings.HasPrefix(f, txtStore):
			storeOK = strings.TrimPrefix(f, txtStore) == store
		case strings.HasPrefix(f, txtAddr):
			if a, err := ma.NewMultiaddr(strings.TrimPrefix(f, txtAddr)); err == nil && isTCP(a) {
				addrs = append(addrs, a)
			}
		}
	}
	if !storeOK || id == "" {
		return "", nil, false
	}
	if _, err := TillOf(id); err != nil {
		return "", nil, false
	}
	return id, addrs, true
}

// discovered records addresses of p seen by discovery, and dials p at
// once if they are new.
func (h *Host) discovered(p peer.ID, addrs []ma.Multiaddr) {
	h.mu.Lock()
	st := h.peer(p)
	fresh := false
	for _, a := range addrs {
		fresh = fresh || !slices.ContainsFunc(st.addrs, a.Equal)
	}
	st.addrs = mergeAddrs(st.addrs, addrs)
	if fresh && !st.connected {
		st.nextDial = time.Time{}
		st.fails = 0
	}
	h.mu.Unlock()
	if fresh {
		h.log.Debug("till discovered", "peer", p, "addrs", addrs)
		h.notify()
	}
}
