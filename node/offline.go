package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tillmesh/tillmesh/node/pki"
)

// OpenStopped opens the data directory of a stopped till for a command-line
// tool (staff add, catalog import): its ledger, inventory and mesh host,
// built by New exactly as for a running till, but with no HTTP server, no
// mDNS, no peers and no devices, and Run is never called. What the tool
// writes goes through the same code the UI uses; the till announces it to
// its peers when it next runs. The caller must Close the till.
//
// A till that is still running holds its ledger's lock, so opening fails;
// the error says so.
func OpenStopped(ctx context.Context, dataDir string, log *slog.Logger) (*Till, error) {
	if _, err := os.Stat(filepath.Join(dataDir, pki.TillCertFileName)); err != nil {
		return nil, fmt.Errorf("open till %s: not an enrolled till's data directory (run `tillmesh store enroll` first): %w", dataDir, err)
	}
	store, err := pki.LoadStoreFile(filepath.Join(dataDir, pki.StoreFileName))
	if err != nil {
		return nil, fmt.Errorf("open till %s: %w", dataDir, err)
	}
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = dataDir, store, log
	cfg.HTTPAddr, cfg.MDNS, cfg.StaticPeers = "", false, nil
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	t, err := New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open till %s (stop the till first if it is running): %w", dataDir, err)
	}
	return t, nil
}

// StoreName is the name of the till's store.
func (t *Till) StoreName() string { return t.cfg.Store.Name }
