// Package notify sends a manager's notifications: the outbox connectors
// "telegram" (the Bot API's sendMessage to one chat) and "webhook" (a
// JSON POST signed with HMAC-SHA256 over timestamp and body, in the
// Tillmesh-Signature header, the way Stripe signs its webhooks).
//
// Which events become messages is the store setting outbox.rules (a
// closed shift, a refund or void at or above an amount); each
// destination's own setting holds its secret, which screens never show
// back. Messages go one at a time, in ledger order, each once: the
// outbox records each before the next (Window 1).
//
// A webhook may not reach loopback, private or link-local addresses
// unless its settings allow it; the check is made on the address
// dialed, so a name that resolves there is refused too. Redirects are
// never followed.
//
// Imports: ledger and node/outbox only.
package notify
