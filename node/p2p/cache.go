package p2p

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/tillmesh/tillmesh/ledger"
)

// cacheVersion is the peer cache format.
const cacheVersion = 1

// maxCached bounds the peer cache: the most recently seen peers win.
const maxCached = 64

// cacheFile is the peer cache: peers this till has admitted, with their
// last-known addresses. It is a hint for dialing, never a reason to trust
// anyone: every peer still passes the hello.
type cacheFile struct {
	Version int          `json:"version"`
	Peers   []cachedPeer `json:"peers"`
}

type cachedPeer struct {
	ID       string        `json:"id"`
	Till     ledger.TillID `json:"till"`
	Number   uint32        `json:"number,omitempty"`
	Name     string        `json:"name,omitempty"`
	Addrs    []string      `json:"addrs"`
	LastSeen time.Time     `json:"last_seen"`
}

// loadCache adds the cached peers to the dial set.
func (h *Host) loadCache() error {
	b, err := os.ReadFile(h.cfg.PeerCache)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if f.Version != cacheVersion {
		return fmt.Errorf("version %d, want %d", f.Version, cacheVersion)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range f.Peers {
		id, err := peer.Decode(c.ID)
		if err != nil || id == h.self {
			continue
		}
		if t, err := TillOf(id); err != nil || t != c.Till {
			continue
		}
		var addrs []ma.Multiaddr
		for _, s := range c.Addrs {
			if a, err := ma.NewMultiaddr(s); err == nil && isTCP(a) {
				addrs = append(addrs, a)
			}
		}
		st := h.peer(id)
		st.addrs = mergeAddrs(st.addrs, addrs)
		st.lastSeen = c.LastSeen
		if st.number == 0 {
			st.number, st.name = c.Number, c.Name
		}
	}
	return nil
}

// writeCache rewrites the peer cache atomically: a temporary file in the
// same directory, synced, then renamed over the old one.
func (h *Host) writeCache() error {
	if h.cfg.PeerCache == "" {
		return nil
	}
	h.mu.Lock()
	var f cacheFile
	f.Version = cacheVersion
	for _, st := range h.peers {
		if st.number == 0 || len(st.addrs) == 0 { // never admitted, nor cached
			continue
		}
		c := cachedPeer{ID: st.id.String(), Till: st.till, Number: st.number, Name: st.name, LastSeen: st.lastSeen}
		if st.connected {
			c.LastSeen = time.Now()
		}
		for _, a := range st.addrs {
			c.Addrs = append(c.Addrs, a.String())
		}
		f.Peers = append(f.Peers, c)
	}
	h.dirty = false
	h.cacheWrite = time.Now()
	h.mu.Unlock()

	slices.SortFunc(f.Peers, func(a, b cachedPeer) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), cmp.Compare(a.ID, b.ID))
	})
	if len(f.Peers) > maxCached {
		f.Peers = f.Peers[:maxCached]
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(h.cfg.PeerCache, append(b, '\n')); err != nil {
		h.mu.Lock()
		h.dirty = true
		h.mu.Unlock()
		return err
	}
	return nil
}

// writeFileAtomic replaces path with data so that a crash leaves either
// the old file or the new one.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
