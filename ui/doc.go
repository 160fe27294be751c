// Package ui serves a till's local web interface: the embedded cashier and
// manager pages (plain HTML, CSS and JavaScript under web/, no build
// step), the JSON API under /api that the pages, tools and the testnet
// use, and a server-sent event stream (/api/events) of the cart, live
// stock and mesh status.
//
// ui defines the Till interface it needs; node implements it. ui imports
// ledger for its types and never node, crdt or hw (imports_test.go).
//
// Security: every request's Host must be localhost, an IP literal or an
// allowed name, else 421 (DNS rebinding); Go's CrossOriginProtection refuses
// cross-origin state changes; a session cookie (HttpOnly, SameSite=Strict)
// comes from POST /api/login and every request that changes state must
// carry the session's X-CSRF-Token. Without a session such requests get
// 401, with a wrong or missing token 403, on a locked till 423, and
// manager-only routes 403 for a cashier. Wrong PINs (login, unlock,
// manager approvals) back off exponentially per staff member and client.
// No GET changes state.
//
// Handlers change nothing on a malformed request and answer JSON errors
// {"error": "reason"} with the right status. Every event-making request
// carries an idempotency key made by the page before it first sends it,
// so a retry or a double click records one event.
//
// Concurrency: an API is safe for concurrent use. The open cart is one per
// till, in memory, shared by the till's screens.
package ui
