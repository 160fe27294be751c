// Package ui serves a till's local web interface: the embedded cashier and
// manager pages (plain HTML, CSS and JavaScript under web/, no build
// step), the JSON API under /api that the pages, tools and the testnet
// use, and a server-sent event stream (/api/events) of the cart, live
// stock and mesh status.
//
// ui defines the Till interface it needs; node implements it. ui imports
// ledger for its types, ledger/basket for the selling rules (the cart is
// priced, barcodes checked and tenders counted by basket, as node.Sell
// prices the sale it records) and backoff for PIN guessing, never node,
// crdt or hw (imports_test.go). Sell returns the signed event; checkout
// and POST /api/sales answer from it.
//
// Security (docs/SECURITY.md has the threat model): every request's Host
// must be localhost, an IP literal or an allowed name, else 421 (DNS
// rebinding); Go's CrossOriginProtection refuses cross-origin state
// changes; a session cookie (HttpOnly, SameSite=Strict) comes from POST
// /api/login and every request that changes state must carry the
// session's X-CSRF-Token. Without a session such requests get 401, with a
// wrong or missing token 403, on a locked till 423. What a role may do is
// the store's permission table (roles.go), a replicated setting; a route
// or action the session's role lacks answers 403, and actions on the shop
// floor take an approver's number and PIN instead. Each request re-reads
// the session's staff member: deactivated or removed, the session ends.
// Wrong PINs (login, unlock, approvals) are counted before they are
// checked (package backoff), per staff member and client, per client,
// and per staff member from every client with a short ceiling. The
// first-run set-up (setup.go) answers on loopback only, while the store
// has no manager. No GET changes state.
//
// Handlers change nothing on a malformed request and answer JSON errors
// {"error": "reason"} with the right status (413 for a body over 1 MiB).
// Every event-making request carries an idempotency key (at most 128
// bytes) made by the page before it first sends it, so a retry or a
// double click records one event; the same key with a different request
// answers 409 with the event it made.
//
// Every receipt number shown or read goes through ledger.ReceiptNo and
// ledger.ParseReceiptRef (sale.go): the number the chain gives the event,
// never its seq. Clearing a cart that had lines records cart_cleared
// (cleared.go).
//
// Concurrency: an API is safe for concurrent use. The open cart is one per
// till, in memory, shared by the till's screens; a cart put aside is a
// parked sale (parked.go), kept by the till (interface Parking).
//
// The cashier's day (issue 16): parked sales (parked.go), price overrides
// by role and limit (override.go), returns without a receipt and
// exchanges (returns.go), refunds and drawer moves only in an open shift
// (shiftrule.go), variable-measure labels, serial scans and the scale
// (scan.go), the X report (slips.go), the store's business-day close
// (dayclose.go) and "offline since" for HQ and peers (offline.go).
//
// Languages (issue 20, language.go): the pages load their words from
// package i18n (/assets/i18n.js, /i18n/<lang>.json for the store's
// currency); a session speaks its staff member's language (store setting
// language.<id>), else the store's (setting language). Errors a cashier
// meets carry a catalog code and arguments beside the English reason.
package ui
