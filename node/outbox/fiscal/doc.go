// Package fiscal registers the store's receipts with a fiscal (tax)
// service: the outbox connector "fiscal", the Provider interface a
// country's service implements (register a receipt, a refund, a Z
// report; answer a fiscal number, sign and verification URL) and the
// reference provider, JSON over HTTPS (wire.go), which
// testnet/fiscalsim simulates.
//
// The connector reads its settings from the store setting outbox.fiscal
// (the same at every till), so a failover sends to the same service with
// the same tax ID. Sales, refunds, voids and shift closes made after the
// setting's Since are registered; everything else is not a fiscal event.
//
// Imports: ledger and node/outbox; never node, ui or testnet.
package fiscal
