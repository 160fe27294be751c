// Package hq is HQ as a node kind: it ingests every store's ledger from
// the store's elected relay, verifies every event before storing it,
// reports across stores, and holds the catalog, price and staff changes
// that flow down to the stores. `tillmesh hq` runs it.
//
// # Storage
//
// Storage is one interface with two implementations that pass the same
// behaviour tests: Badger embedded in a directory (OpenBadger; the
// default, nothing to install; synced writes) and PostgreSQL through lib/pq
// (OpenPostgres; events written with COPY inside one transaction per
// upload; EventID is the primary key and (store, till, seq) is unique, so
// an event is stored once whatever happens). Heads move by compare and
// set, so two HQ processes on one database never interleave a chain, and
// fencing tokens are raised atomically.
//
// # Ingest and its invariants
//
//   - Nothing is stored that was not verified: the till holds a
//     certificate of the store that verifies under the store's CA (sent
//     with the upload, in the request header, or earlier); the events
//     that extend a till's chain are authenticated as a run by the newest
//     one's signature and the hash chain down to HQ's head
//     (ledger.VerifyRun), or each by its own signature with
//     Config.VerifyEverySignature; each passes its own rules (Check).
//   - Each rejected event is named with a code and a reason
//     (hqapi.Rejection); the good prefix of a till's run is kept, the rest
//     is refused. Events above a gap are refused (seq_gap): HQ's chain per
//     till is gapless, so its version vector is exact.
//   - An event HQ already holds is a duplicate: answered, nothing changes.
//   - A validly signed event that conflicts with HQ's chain (another
//     event at its seq, or a prev that forks) is kept as evidence and its
//     till flagged; the chain is unchanged and goes on.
//   - A fencing token below the highest HQ has seen for the store
//     refuses the whole upload (ErrStaleFence, HTTP 409): a deposed relay
//     cannot write. Tokens only grow; a GET carrying a newer token raises
//     it too.
//
// # Reports
//
// Each accepted event is folded once, when it joins its chain, with the
// rules of ledger.Fold, into per-store buckets by day (Config.Location),
// hour, till and SKU, and stock per SKU from the merged movements, in
// each till's chain order without a gap. They live in memory and are
// kept in storage as a rollup per store, a head and one record per
// business day (rollup.go), written with each upload's events in the same
// transaction, days it did not touch left as they are; New restores the
// rollups and folds only the events above them (none after a crash of
// the only process), so HQ's totals for a store equal the fold of
// the store's own ledger (tests check it, across restarts too). Memory
// grows with stores x days x (tills + SKUs sold a day), not events.
//
// The dashboard's report of every store is materialized (chainreport.go):
// the last one computed for its days and products is served at once
// with the time it is known current at (as_of) and recomputed in the
// background, one computation at a time, when what it reads moved; on
// shared storage a refresh first takes the stores whose rollup
// generation another process moved.
//
// # Several processes on one database
//
// HQ processes sharing one PostgreSQL database are interchangeable:
// every relay request reads the store's heads from storage, a store or
// certificate another process registered is loaded when a request names
// it (scaleout.go), and a process whose folds are behind the store's
// stored rollup (another process wrote it since) restores them from it
// before folding an upload. A rollup write moves the rollup's
// generation by compare and set in the upload's transaction, so a
// process behind cannot write days over another's (ErrRollupMoved: it
// restores and folds again). Each process's figures are the fold of
// every event up to its newest upload, and a rollup, whoever wrote it,
// is exactly the fold of the events it names; storage that one process
// alone opens (Badger: Exclusive) skips the generation reads. Dashboard
// sessions are kept in storage (sessions.go), and so are the login
// back-off and the replay cache of signed requests when the storage is
// shared (PostgreSQL implements SharedGuards, guards.go); on Badger, one
// process, they are kept in memory (docs/ARCHITECTURE.md, "HQ on several
// processes").
//
// # HTTP API for relays
//
// Every request under /v1/stores is signed by an enrolled till's key:
//
//	Authorization: Tillmesh-Ed25519 till=<64 hex>,ts=<Unix ms>,len=<body bytes>,body=<hex SHA-256>,sig=<base64url>
//
// where sig is ed25519 over "tillmesh-hq-2\n" + method + "\n" + path?query
// + "\n" + ts + "\n" + len + "\n" + hex(SHA-256(body)). HQ checks all of it
// before reading a byte of the body: it refuses a declared Content-Length
// over hqapi.MaxBody (413), a timestamp more than Config.AuthWindow (5
// min) from its clock, a signature that does not verify or that it has
// seen before (replay), a Content-Length other than the signed length,
// and a till without a certificate of the store in the path (HQ's
// records, or X-Tillmesh-Cert, base64url CBOR, on first contact). Only
// then does it read the body, through a counter that stops one byte past
// the signed length (413), and compare it with the signed hash (401).
// Answers are JSON; errors are {"error","code"} with 400,
// 401, 403, 404, 409 (stale fence, with "fence") or 5xx.
//
//	GET  /v1/health                        no auth: {"ok":true,"time":ms}
//	GET  /v1/stores/{store}/vector         HQ's vector, fence and newest change cursor
//	     X-Tillmesh-Fence: <token>         (relay) keeps the lease alive at HQ
//	     X-Tillmesh-Vector: <base64url CBOR vector>  (relay) for the store's backlog
//	POST /v1/stores/{store}/events         body hqapi.Upload as application/cbor,
//	     or application/json with the raw events base64: {"fence","vector","certs","events"}
//	     -> {"accepted","duplicates","rejected":[{"index","till","seq","id","code","reason"}],
//	         "cert_errors","vector","fence"}
//	GET  /v1/stores/{store}/changes?after=N&limit=M
//	     -> {"changes":[{"cursor","store","kind":"product"|"staff","product","staff","at","by"}],
//	         "next","more"}
//
// The dashboard for HQ staff is at / (plain embedded HTML and JS) over
// /hq/api/* with a session cookie (HttpOnly, SameSite=Strict), a CSRF
// token on every state change, http.CrossOriginProtection, argon2id
// password hashes and a back-off after failed logins that counts each
// attempt before checking it (package backoff): per user and client, per
// client, and a short per-user ceiling (at most 10 s) so that guesses
// from many clients cannot lock the user out. Staff changes (add, edit,
// POST /hq/api/staff/status to deactivate, reactivate or remove) go down
// to the stores like catalog changes; a removed member stays removed.
//
// # Customers
//
// customers.go merges the chain's customers from every store's relay (per
// field, the edit with the greatest hybrid logical clock wins; an erasure
// wins over everything), hands them to every store after a cursor, and
// lists, searches and erases them on the dashboard's customers page.
// Storage keeps one record per customer and a cursor log of numbers only,
// so an erasure leaves no personal data in current storage (Badger writes
// the record with its discard flag, so no later backup carries an older
// version).
//
// # Concurrency
//
// HQ is safe for concurrent use. Each store has its own lock: uploads of
// one store are serialised, different stores ingest in parallel, but at
// most Config.IngestWorkers of them (one fewer than the cores) decode,
// verify or fold at once: the others wait without CPU, so the
// dashboard's queries keep a core while relays upload. Storage writes
// are outside that bound. Storage implementations are safe for
// concurrent use.
//
// # Imports
//
// hq may import ledger, crdt (for the product rules), hq/hqapi, the
// storage drivers and node/badgeropen (a leaf that opens Badger). It must not import node, the till's packages, ui or
// hw: tills talk to HQ over HTTP only (node/relay with hq/hqapi).
package hq
