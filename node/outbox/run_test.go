package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/outboxtest"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// testConfig is the set-up the package's tests share: an outbox over
// connector c and ledger l, with its own store, led by this till, polling
// and backing off in milliseconds, logging nothing. Tests change what
// they are about.
func testConfig(c outbox.Connector, l *outboxtest.MemLedger) outbox.Config {
	cfg := outbox.DefaultConfig()
	cfg.Connectors, cfg.Ledger, cfg.Store, cfg.Number = []outbox.Connector{c}, l, outboxtest.NewMemStore(), l.Number
	cfg.Leader = func() bool { return true }
	cfg.MinBackoff, cfg.MaxBackoff, cfg.Poll = 5*time.Millisecond, 10*time.Millisecond, 5*time.Millisecond
	cfg.Logger = testkit.Quiet()
	return cfg
}

// run starts an outbox on cfg until ctx ends; done closes when its Run
// returned.
func run(t *testing.T, ctx context.Context, cfg outbox.Config) (o *outbox.Outbox, done <-chan struct{}) {
	t.Helper()
	o, err := outbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() { defer close(ch); o.Run(ctx) }()
	return o, ch
}

// start runs an outbox on cfg until the test ends.
func start(t *testing.T, cfg outbox.Config) *outbox.Outbox {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	o, done := run(t, ctx, cfg)
	t.Cleanup(func() { cancel(); <-done })
	return o
}
