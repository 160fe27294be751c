// Package testnet builds whole stores on one machine — N stores of M
// tills and HQ — runs a scenario of sales and faults against them, and
// checks that nothing acknowledged was lost or counted twice. `tillmesh
// testnet run` is its command line; `go test ./testnet/...` runs every
// built-in scenario at CI size. Like memberlist's in-memory transport, it
// ships in the product so that testers can write their own scenarios.
//
// # Modes
//
//   - inproc: every till is a full node.Till in this process with its own
//     libp2p host on loopback and static peers. A partition is Host.Block
//     on both sides; a clock skew is the till's injected Config.Now; kill
//     stops a till abruptly but only between two requests (a goroutine
//     cannot be killed mid-write; SIGKILL in the process modes can).
//   - process: every till is a `tillmesh till` child process on loopback
//     with static peers, sold to over its HTTP API (cashier and manager
//     sessions, CSRF tokens). kill is SIGKILL, memory is each process's
//     peak RSS. Partitions and skew go through the till's hidden
//     --testnet-control stdin ("<id> block <peer>...", "<id> unblock
//     <peer>...", "<id> skew <duration>", answered "testnet <id> ok") and
//     --clock-skew flag.
//   - netns (root only): every till process in its own network namespace.
//     Each store has a bridge (its LAN switch) carrying HQ's gate address;
//     each till has eth0 on the bridge, where libp2p listens and mDNS
//     finds its peers (no static peers), and ctl0, a separate link to the
//     harness for its HTTP API (a till cut off from the LAN still sells at
//     its screen). A partition takes a till's link down, or moves a group
//     of tills onto a bridge of their own. Where namespaces are not
//     available Run returns ErrNoNetns.
//
// HQ runs in this process on embedded Badger behind a gate, an HTTP
// handler that cuts a store (`hq down s2`) or a till (a partitioned one)
// off from HQ by closing the connection unanswered.
//
// Latency and loss on a till's link (this kernel has no netem) go into
// the tills' transport: a scenario with a latency step (or chaos) gives
// every till a p2p.Shaper, which delays what the connections it dials
// carry, each way, and turns a lost segment into a 200 ms retransmission
// delay, as TCP does. The process modes set it through the control stdin
// ("<id> shape all|<addr> <delay> <loss>") and --shape-seed.
//
// # Scenario files
//
// A scenario is a text file, one statement per line, # to end of line a
// comment; the comment block at the top is its description ("name: what
// it does"). A header sets up the stores, then steps run in order:
//
//	stores 1                  stores sharing HQ (default 1)
//	tills 8 small=4           tills per store (default 3)
//	products 200              catalog size (default 100)
//	hq on                     run HQ; tills relay to it (default off)
//	refunds 3%                share of sales followed by a refund of a recent sale,
//	                          half the time of another till's sale
//	rate 10                   sales per second at each till; 0: as fast as it answers
//	power ext4|posix          what a store's disk keeps at a power cut (default ext4;
//	                          see testnet/powerfs)
//
//	sell 500 [on t1,t2] [rate 5] [background]
//	                          N sales spread over the tills that are up (or those named);
//	                          the step waits for every one unless background
//	receive [on t2]           a delivery of a few products (default: a till per store)
//	transfer 6 small=2 s1 s2 [open]
//	                          N stock transfers from a till of store 1 to store 2, each
//	                          received whole at a till of store 2 (open: left in transit);
//	                          the check holds HQ to every one: received or in transit as
//	                          sent, never lost or disputed
//	shift open|close [on t1]  (default: every till that is up)
//	partition t3              t3 alone on one side, the rest on the other
//	partition t1 t2 | t3 t4   sides; tills not named form a side of their own.
//	                          The largest side keeps HQ (the tills not named among equals)
//	heal                      every store whole again
//	kill t1 | kill relay      SIGKILL (relay: whichever till holds the relay lease now)
//	restart t1 | restart all  (all: every till that is down)
//	wipe t2                   the till's disk is lost: it is enrolled again with a new key
//	                          and the store's next till number (numbers are never reused)
//	skew t2 +3h | skew t2 0   the till's clock runs off by this much
//	clock +3h                 simulated time passes: every clock of the run (each till's,
//	                          on top of its skew, HQ's and the fiscal simulator's) moves
//	                          this far on, never back (a till's HLC would not follow)
//	latency t3 80ms [loss 5%] | latency t3 off
//	                          t3's link delays bytes this much each way (up to 1s), and
//	                          that share of its writes a retransmission (200 ms) more
//	hq down [s2] | hq up [s2] the store's (or every store's) line to HQ
//	hq crash                  HQ is killed and started again on its storage (no
//	                          rollups written at a stop); requests meanwhile find a
//	                          dead line
//	wait converged [90s]      until every running till holds the same events, its CRDT
//	                          stock equals the fold of the ledger, and HQ agrees (unless
//	                          the store is cut off from it)
//	wait hq [90s]             until HQ holds every event the running tills hold and
//	                          (in process) the relay's first downlink from HQ landed
//	wait relay [90s]          until every store has a relay
//	wait sales [N] [90s]      until the background sell is done (or has N acknowledged)
//	check                     check the invariants now (cross-till ones if converged)
//	chaos 40 small=12         draw 40 actions from the seed (sales, partitions, heals, kills,
//	                          some mid-sale, restarts, skews, slow links, HQ outages,
//	                          deliveries, shifts, now and then a wipe once the store agreed),
//	                          print each, then make the stores whole: heal, restart all,
//	                          clocks right, links clean, HQ up
//	power-cut 200 small=4     cut the power of every store at once, N times, at instants
//	                          drawn from the seed: while the tills sell, while they idle,
//	                          or 0-3 s into their start-up after a cut; then start every
//	                          till at once and measure how soon each sells again
//	upgrade t1                stop the till cleanly and start it on the new release
//	                          (rolling-upgrade: tills start on Config.OldBinary, the
//	                          previous release; process mode only, else ErrNoUpgrade)
//	newkind 5 small=3 on t1   the (upgraded) till records N events of a kind the
//	                          previous release does not know, each with a customer and
//	                          an outbox record (key prefixes it does not read); tills
//	                          still on it must show both as from a newer version
//	race 10 small=3           double-spend: every running till of store 1 at once
//	                          refunds a unit of the same sales and redeems from the
//	                          same gift cards; more than was sold or issued fails
//	                          the step (doublespend.go)
//	offline 1                 the store allows offline refunds, up to N race units
//	                          per till in 24 hours (supervisor approved)
//	race 3 units=2 sell       sell N new race sales of K units; wait until every
//	                          running till holds them
//	race 3 offline            race those again; a till cut off from a sale's till
//	                          refunds it offline
//	overspent                 each till's offline refunds within the limit, the
//	                          over-spend within tills x limit, and HQ lists every
//	                          over-spent sale (GET /hq/api/overspends) with its amount
//	outbox on                 (header) a fiscal service simulator and a fake Telegram
//	                          Bot API on loopback; every store registers its receipts
//	                          and sends a message per refund, a fiscal backlog alert
//	                          after 6 h (outbox.go; inproc and process modes, else
//	                          ErrNoOutbox; one store). A till process's ledger is read
//	                          through its control channel (export)
//	internet down|up          HQ, the fiscal service and Telegram away, or back
//	wait outbox [N]           until the fiscal service holds every receipt and Z
//	                          report of the ledgers and Telegram a message per refund
//	                          (then: each registered once, nothing else, no message
//	                          twice, messages in ledger order); with N, until it
//	                          registered at least N since the last internet up (to
//	                          kill the relay mid-drain). In process mode either also
//	                          waits until every running till counts no Telegram
//	                          message pending: a
//	                          sender killed before its records of sent messages reached
//	                          the others leaves them to be sent again (no idempotency key)
//
// Tills are t1, t2 ... of store 1, or s2.t1 for store 2. Any number may
// carry small=N, the value at --scale small (CI); --scale full runs the
// numbers as written. Scenarios embedded in the binary: Builtins, Load,
// Source.
//
// # Invariants
//
// Built-in scenarios: outage, steady, crash, relay-failover, hq-outage,
// skew, slow-link, wipe, stores (two stores sharing HQ), chaos,
// power-cut, rolling-upgrade, internet-down (the outbox) and mesh (the
// figures of `tillmesh bench mesh`).
//
// At the end of every run (after waiting for convergence) and at each
// `check`:
//
//   - every acknowledged event — by idempotency key, seq and EventID — is
//     in every running till's ledger and at HQ, and the receipt number
//     the till answered is the one the chain gives it (ledger.ReceiptNo:
//     its sales, refunds and voids counted in chain order; none for other
//     kinds; a till of the previous release answered <till>-<seq>);
//   - no EventID twice, no idempotency key behind two events, no key
//     acknowledged as two different events (a retry recorded twice);
//   - every till holds the same ledger (the same chain of IDs for every
//     till, so the same heads and vectors), and HQ holds it too;
//   - every till's CRDT stock and HQ's stock equal the fold of the ledger
//     exactly, for every SKU;
//   - every event's signature verifies, every chain verifies as a run,
//     ledger.State.Check holds, and no refund exceeds its sale
//     (Fold.Anomalies is empty: the workload never asks for more than
//     remains, counting refunds still in doubt);
//   - events come only from tills the store enrolled; receipt numbers are
//     unique, and every copy of the ledger numbers each till's receipts
//     1..N without gaps, as a count along the chain does.
//
// A scenario with a power-cut step also requires, at every cut, that
// every till starts on the first attempt after the cut (a failed start
// is a violation carrying the till's last log lines) and sells again,
// holding the whole catalog and letting both seeded staff log in,
// within 10 s of its restart. Acknowledged sales, stock and ledgers are
// checked as everywhere else, so a sale lost to the cut is one lost.
//
// In inproc mode the tills' ledgers are read live. A till process's
// ledger can only be read once the process has stopped, so in the process
// modes a `check` compares vectors, stock and HQ's copy (read and verified
// in full), and the final check stops the tills and reads their ledgers
// from disk.
//
// A request the till did not answer (it died, it restarted) is asked
// again with the same idempotency key until it is answered, as a till's
// screen would; one in doubt when its till's disk is wiped is abandoned
// (Report.Abandoned) and its refund quantity stays reserved.
//
// # Power cuts
//
// In a scenario with a power-cut step each store's directory (its CA
// and its tills' data) is a testnet/powerfs mount served by this
// process over <store>.disk, which holds exactly what a cut would
// leave. A cut freezes every store's mount (no operation is answered
// from then on, as a disk without power), sends SIGKILL to every till
// process, starting ones too, answers what the mounts held with EIO so
// the killed processes can exit, and has each mount drop what was not
// fsynced and come back.
// HQ, if any, is not on powerfs. Before the final check reads the
// ledgers in this process the mounts are taken down (a FUSE server must
// not fault on a mapping of its own mount) and the durable directories
// put back in their place. Process mode only, on a machine with
// /dev/fuse and the right to mount; elsewhere Run returns ErrNoPower
// and `go test` skips the scenario saying why.
//
// # Rolling upgrades
//
// A scenario with an upgrade step starts every till on Config.OldBinary,
// the previous release, and an upgrade step moves a till to
// Config.Binary. The binary must be built with -tags testnethooks: only
// then can a till record an event of a kind (testnet_future) that no
// release knows, through its control stdin (the newkind step), so the
// build a store runs has no such path. Those events are acknowledged
// like any other, so the invariants above require them on every till
// and at HQ. After each newkind the step waits until each till still on
// the previous release, on the same side of any partition, counts them
// as from a newer version on its status, and names the customer and
// outbox records among its inventory records from a newer version; once a store's tills are all
// upgraded, HQ's stores view must show every till's release. testnet's
// own test builds the previous release from the commit pinned in
// release_test.go (git archive, go build) and says so if a shallow
// clone lacks it.
//
// # Figures
//
// Report carries, besides the verdict: propagation (from a sale's
// acknowledgement until every other till's vector covers it, sampled only
// while the store is whole; resolution 1 ms inproc, 10 ms over HTTP),
// catch-up (from each heal until converged), convergence (the last wait
// for it), peak RSS (of each till process, or of the whole harness
// process inproc), and for power cuts: cuts of each kind, failed
// starts, and time from restart to selling again (p50, max). Each
// till's start times (until it could sell) and peak RSS are in
// TillFigures; with Config.History (--history N) the store's first till
// holds N sales of the past year before the scenario starts, which the
// other tills and HQ take over.
//
// # Randomness and determinism
//
// Config.Seed drives every choice of the workload: baskets, tenders,
// refunds and which sale they refund. The network's timing is real, so a
// seed replays the same requests, not the same interleaving. Package
// testnet/sim is the deterministic tier: a single-goroutine simulation of
// the pure rules with a seeded network, where a seed replays exactly.
//
// # Concurrency and imports
//
// Run owns everything it starts and stops it before returning. Each
// cashier is a goroutine per till; steps run one at a time. testnet
// imports node, node/hq, node/ledgerdb, ledger, ui and testnet/powerfs;
// nothing imports testnet but cmd/tillmesh.
package testnet
