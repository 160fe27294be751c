package outbox_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	const mod = "github.com/tillmesh/tillmesh/"
	g := testkit.Imports(t, ".")
	g.Never("node composes the outbox", mod+"node", mod+"node/relay", mod+"node/hq/...")
	g.Never("connectors import the outbox, not the other way round", mod+"node/outbox/fiscal", mod+"node/outbox/notify", mod+"node/outbox/outboxtest")
	g.Never("screens and devices are elsewhere (the status line's English comes from ui/i18n's catalog)", mod+"ui", mod+"ui/web/...", mod+"ui/browsertest/...", mod+"hw/...", mod+"cmd/...", mod+"testnet/...")
}
